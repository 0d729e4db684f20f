"""The staff dashboard /users: header strip, totals, one card per user by total (an unavailable
venue shown as unavailable with its last good value, never $0), filters, search, pagination, the
book's NAV chart; query count independent of the number of accounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from celery.signals import task_postrun
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.tasks import audit_chain_verify_task
from core import heartbeats
from reporting.models import DailyNav
from reporting.services import book_nav_days_refresh
from tests.bulk import activity_bulk_create, book_bulk_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client):
    user = User.objects.create_user("vera", password="pw-dashboard", is_staff=True)
    user.groups.add(Group.objects.get(name="viewer"))
    client.force_login(user)
    return client


def _navs(account_ids: list[int], days: int = 30) -> None:
    today = timezone.now().date()
    DailyNav.objects.bulk_create([
        DailyNav(account_id=a, day=today - dt.timedelta(days=d), nav_usd=Decimal(1000 + 10 * (days - d)),
                 units=Decimal(1000), net_flow_usd=Decimal(1000) if d == days - 1 else Decimal(0))
        for a in account_ids for d in range(days)])
    book_nav_days_refresh(days=[today - dt.timedelta(days=d) for d in range(days)])


def test_the_dashboard_shows_the_operation_at_a_glance(viewer):
    ids = book_bulk_create(accounts=10, prefix="small", unavailable_every=4)
    activity_bulk_create(account_ids=ids, prefix="small")
    _navs(ids)
    audit_chain_verify_task()
    page = viewer.get("/admin/users/")
    assert page.status_code == 200
    html = page.content.decode()
    header = page.context["header"]
    assert header["engine"]["mode"] == "OBSERVE"
    assert header["signal"]["skipped"] + header["signal"]["filled"] == 1
    assert header["alerts"] == {"BALANCE_LOW": 10} and header["breaks"]["open"] == 10
    assert header["chain"]["valid"] is True and "verified" in html
    cards = page.context["cards"]
    # highest available total first; the three with an unavailable venue have no figure and come last
    assert [c["account"].user_id for c in cards][:2] == ["small_00009", "small_00007"]
    assert [c["account"].user_id for c in cards][-3:] == ["small_00000", "small_00004", "small_00008"]
    failing = cards[-1]
    assert failing["line"].total_text == "unavailable" and "unavailable (RateLimitedError" in html
    assert "last good $1,508.00" in html and "$0.00" not in html
    best = cards[0]
    assert best["line"].total_text == "$1,509.00" and best["trades"] == 0 and best["win_rate"] == "n/a"
    assert best["total_pnl"] == "+$300.00" and best["today_pnl"] == "+$10.00"
    assert page.context["summary"]["user_count"] == "7"  # unavailable users are not counted
    chart = page.context["chart"]
    assert chart["days"] == 30 and chart["last"] == "$13,000.00" and "<svg" in html and "<polyline" in html


def test_filters_search_and_pagination(viewer):
    ids = book_bulk_create(accounts=45, prefix="many")
    first = viewer.get("/admin/users/")
    assert first.context["page"].paginator.count == 45 and len(first.context["cards"]) == 20
    assert "page=2" in first.content.decode()
    third = viewer.get("/admin/users/?page=3")
    assert len(third.context["cards"]) == 5
    investors = viewer.get("/admin/users/?account_type=investor").context["cards"]
    assert len(investors) == 15 and {c["account"].account_type for c in investors} == {"investor"}
    tier = viewer.get("/admin/users/?tier=starter&account_type=investor").context["cards"]
    assert len(tier) == 8 and {c["account"].tier for c in tier} == {"starter"}
    assert [c["account"].user_id for c in viewer.get("/admin/users/?q=User 17").context["cards"]] == ["many_00017"]
    assert viewer.get("/admin/users/?status=SUSPENDED").context["cards"] == []
    bad = viewer.get("/admin/users/?status=BOGUS")
    assert bad.status_code == 200 and "filters not applied" in bad.content.decode()
    assert bad.context["page"].paginator.count == len(ids)


def test_root_users_redirects_and_only_staff_may_open_it(client, viewer):
    assert viewer.get("/users?tier=saver")["Location"] == "/admin/users/?tier=saver"
    assert 'href="/admin/users/"' in viewer.get("/admin/").content.decode()
    client.logout()
    for url in ("/admin/users/", "/users"):
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")


def test_query_count_does_not_grow_with_the_accounts(viewer):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert viewer.get("/admin/users/").status_code == 200
        return len(ctx.captured_queries)

    small_ids = book_bulk_create(accounts=10, prefix="small", unavailable_every=4)
    activity_bulk_create(account_ids=small_ids, prefix="small")
    _navs(small_ids, days=3)
    count()  # the first request also fills per-process caches (content types, the engine mode row)
    small = count()
    large_ids = book_bulk_create(accounts=190, prefix="large", unavailable_every=4)
    activity_bulk_create(account_ids=large_ids, prefix="large")
    _navs(large_ids, days=3)
    assert count() == small


def test_the_header_shows_when_the_worker_last_ran_a_task(viewer, monkeypatch):
    # an earlier eager task in this test process may have taken the once-per-30-s heartbeat slot
    monkeypatch.setitem(heartbeats._last_worker_beat, "at", 0.0)
    assert viewer.get("/admin/users/").context["header"]["worker_age"] == "never"
    task_postrun.send(sender=None, task_id="t-1", task=None)  # what a worker's task run sends
    assert viewer.get("/admin/users/").context["header"]["worker_age"].endswith("s ago")
