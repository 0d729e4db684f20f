"""GET /api/v1/users (and /api/users): the balance guide's summary, staff only, an unavailable
venue listed and never counted, query count independent of the number of accounts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from brokers.paper_venue import paper_behaviour_set, paper_price_set
from brokers.services import balance_audit_run
from tests.bulk import book_bulk_create


@pytest.fixture
def viewer_client(client, db):
    viewer = User.objects.create_user("vera", password="pw-users-api", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    client.force_login(viewer)
    return client


@pytest.fixture
def book(make_account, paper_credential):
    paper_price_set(symbol="BTC/USD", price="50000")
    master = make_account("nija_master", master=True)
    paper_credential(master, usd="100000")
    alice, bob, carol = make_account("alice"), make_account("bob"), make_account("carol")
    paper_credential(alice, usd="1000.005", BTC="0.1")  # 6,000.005: rounds half-even to 6,000.00
    paper_credential(bob, usd="2500")
    carol_key = paper_credential(carol, usd="300")
    balance_audit_run()
    paper_behaviour_set(credential=carol_key, fault="rate_limited", fault_count=5)
    balance_audit_run(account_ids=[carol.pk])


def test_viewer_gets_the_summary_sorted_with_money_as_strings(viewer_client, book):
    response = viewer_client.get("/api/v1/users")
    assert response.status_code == 200
    body = response.json()
    assert body["currency"] == "USD" and body["generated_at"].endswith(("Z", "+00:00"))
    assert body["user_count"] == 2  # carol's capital is unknown: not counted
    assert body["total_capital"] == "8500.00" and body["average_balance"] == "4250.00"
    assert body["master_total"] == "100000.00"
    assert [u["user_id"] for u in body["users"]] == ["alice", "bob", "carol"]
    alice, bob, carol = body["users"]
    assert alice == {"user_id": "alice", "total": "6000.00", "brokers": {"paper": "6000.00"}, "unavailable": []}
    assert bob["total"] == "2500.00"
    assert carol["total"] is None and carol["brokers"] == {}
    [venue] = carol["unavailable"]
    assert venue["venue"] == "paper" and "RateLimited" in venue["error"]
    assert venue["last_good"] == "300.00" and venue["last_good_at"]


def test_the_alias_answers_the_same(viewer_client, book):
    v1, alias = viewer_client.get("/api/v1/users").json(), viewer_client.get("/api/users").json()
    v1.pop("generated_at"), alias.pop("generated_at")
    assert alias == v1


@pytest.mark.parametrize("url", ["/api/v1/users", "/api/users"])
def test_investors_and_anonymous_callers_are_refused(client, make_account, url):
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    investor = User.objects.create_user("daivon", password="pw-users-api")
    account = make_account("daivon_frazier")
    account.portal_user = investor
    account.save(update_fields=["portal_user"])
    client.force_login(investor)
    refused = client.get(url)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert "daivon_frazier" not in refused.content.decode()


def test_staff_without_the_balances_permission_is_refused(client, db):
    client.force_login(User.objects.create_user("bare", password="pw-users-api", is_staff=True))
    assert client.get("/api/v1/users").status_code == 403


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/v1/users").status_code == 200
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_the_accounts(viewer_client):
    book_bulk_create(accounts=10, prefix="small", unavailable_every=4)
    small = _queries(viewer_client)
    book_bulk_create(accounts=190, prefix="large", unavailable_every=4)
    body = viewer_client.get("/api/v1/users").json()
    assert len(body["users"]) == 200 and sum(1 for u in body["users"] if u["unavailable"]) == 3 + 48
    assert _queries(viewer_client) == small
