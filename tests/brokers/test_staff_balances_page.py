"""The staff balances page (an admin view on the project's AdminSite) and the presenter it shares
with `show_user_balances`."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from brokers.paper_venue import paper_behaviour_set, paper_price_set
from brokers.presenters import age_text, balance_table_text
from brokers.selectors import balances_all
from brokers.services import balance_audit_run


@pytest.fixture
def staff_client(client, db):
    def login(group: str | None):
        user = User.objects.create_user(f"staff_{group}", password="pw-staff-1", is_staff=True)
        if group:
            user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        return client

    return login


def test_viewer_sees_balances_with_an_unavailable_venue_never_as_zero(staff_client, paper_credential, make_account):
    paper_price_set(symbol="BTC/USD", price="50000")
    alice = make_account("alice", full_name="Alice Adams")
    bob = make_account("bob", full_name="Bob Brown")
    paper_credential(alice, usd="1000", BTC="0.1")
    bob_key = paper_credential(bob, usd="2500")
    balance_audit_run()
    paper_behaviour_set(credential=bob_key, fault="rate_limited", fault_count=5)
    balance_audit_run()

    page = staff_client("viewer").get("/admin/balances/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "$6,000.00" in html  # alice: 1000 USD + 0.1 BTC at 50,000
    assert "unavailable" in html and "RateLimitedError" in html and "last good $2,500.00" in html
    assert "$0.00" not in html
    # only alice's figure is counted: bob's capital is unknown, not zero
    assert page.context["summary"]["total_user_capital"] == "$6,000.00"
    assert page.context["summary"]["user_count"] == "1"


def test_the_admin_index_lists_staff_pages_the_user_may_open(staff_client):
    assert 'href="/admin/balances/"' in staff_client("viewer").get("/admin/").content.decode()


def test_staff_without_the_permission_is_refused_and_anonymous_sent_to_login(client, staff_client):
    anonymous = client.get("/admin/balances/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    bare_staff = staff_client(None)
    assert bare_staff.get("/admin/balances/").status_code == 403
    assert 'href="/admin/balances/"' not in bare_staff.get("/admin/").content.decode()


def test_balances_page_query_count_does_not_grow_with_accounts(staff_client, paper_credential, make_account):
    client = staff_client("viewer")

    def queries_with(n: int) -> int:
        for _ in range(n):
            paper_credential(make_account(), usd="100")
        balance_audit_run()
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/admin/balances/").status_code == 200
        return len(ctx.captured_queries)

    assert queries_with(3) == queries_with(60)  # 63 accounts: two pages of 50


def test_balances_page_paginates_users(staff_client, paper_credential, make_account):
    for i in range(55):
        paper_credential(make_account(f"u{i:02d}"), usd=str(100 + i))
    balance_audit_run()
    client = staff_client("viewer")
    first, second = client.get("/admin/balances/"), client.get("/admin/balances/?page=2")
    assert len(first.context["users"]) == 50 and len(second.context["users"]) == 5
    assert first.context["users"][0].user_id == "u54"  # highest total first
    assert client.get("/admin/balances/?page=999").context["page"].number == 2  # out of range: last page


def test_command_table_comes_from_the_presenter(paper_credential, make_account, capsys):
    paper_credential(make_account("carol"), usd="1234.5")
    balance_audit_run()
    at = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    text = balance_table_text(balances_all(), now=at)
    assert text.splitlines()[0] == "NIJA balances (USD), generated 2026-12-04 12:00:00 UTC"
    assert "USER  carol (Carol)" in text and "$1,234.50" in text
    assert "Total User Capital" in text


@pytest.mark.parametrize(("seconds", "expected"), [(5, "5s ago"), (119, "119s ago"), (120, "2 min ago"),
                                                   (7199, "119 min ago"), (7200, "2 h ago"),
                                                   (172800, "2 days ago")])
def test_age_text(seconds, expected):
    now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    assert age_text(now - dt.timedelta(seconds=seconds), now=now) == expected
    assert age_text(None, now=now) == "never"


