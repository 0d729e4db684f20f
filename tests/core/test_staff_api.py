"""The staff endpoints (viewer and above): who may call them, their filters (validated: a bad one
is a 400 naming it), cursor pagination, and query counts that do not grow with the data."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from copytrading.models import MasterSignal
from tests.bulk import activity_bulk_create, book_bulk_create

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/accounts", "/api/v1/balances", "/api/v1/alerts", "/api/v1/master-signals",
         "/api/v1/missed-trades", "/api/v1/audit-events", "/api/v1/reconciliation-breaks"]


@pytest.fixture
def viewer(client):
    user = User.objects.create_user("vera", password="pw-staff-api", is_staff=True)
    user.groups.add(Group.objects.get(name="viewer"))
    client.force_login(user)
    return client


@pytest.fixture
def book():
    ids = book_bulk_create(accounts=10, prefix="small", unavailable_every=4)
    activity_bulk_create(account_ids=ids, prefix="small")
    return ids


def _walk(client, url: str) -> list[dict]:
    rows = []
    while url:
        body = client.get(url).json()
        rows += body["results"]
        url = body["next"]
    return rows


@pytest.mark.parametrize("url", LISTS + ["/api/v1/accounts/small_00001", "/api/v1/master-signals/1",
                                         "/api/v1/master-signals/1/copy-orders"])
def test_only_staff_with_the_view_permission_may_read(client, make_account, url):
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    investor = User.objects.create_user("daivon", password="pw-staff-api")
    account = make_account("daivon_frazier")
    account.portal_user = investor
    account.save(update_fields=["portal_user"])
    client.force_login(investor)
    assert client.get(url).status_code == 403
    client.force_login(User.objects.create_user("bare", password="pw-staff-api", is_staff=True))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", LISTS)
def test_a_viewer_reads_every_list_with_a_cursor(viewer, book, url):
    body = viewer.get(f"{url}?page_size=3").json()
    assert len(body["results"]) == 3 and "cursor=" in body["next"] and body["previous"] is None
    everything = _walk(viewer, f"{url}?page_size=3")
    keys = [tuple(sorted((k, str(v)) for k, v in row.items() if k in ("id", "seq", "user_id"))) for row in everything]
    assert len(keys) == len(set(keys)) >= 5  # every row once, across pages


@pytest.mark.parametrize("url", LISTS)
def test_query_count_does_not_grow_with_the_accounts(viewer, url):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert viewer.get(url).status_code == 200
        return len(ctx.captured_queries)

    activity_bulk_create(account_ids=book_bulk_create(accounts=10, prefix="small", unavailable_every=4),
                         prefix="small")
    small = count()
    activity_bulk_create(account_ids=book_bulk_create(accounts=190, prefix="large", unavailable_every=4),
                         prefix="large")
    assert count() == small


@pytest.mark.parametrize("query, field", [
    ("/api/v1/accounts?status=BOGUS", "status"), ("/api/v1/accounts?tier=gold", "tier"),
    ("/api/v1/accounts?trading_enabled=maybe", "trading_enabled"), ("/api/v1/accounts?q=" + "x" * 101, "q"),
    ("/api/v1/master-signals?since=1999-12-31", "since"), ("/api/v1/master-signals?until=2026-13-01", "until"),
    ("/api/v1/missed-trades?status=FILLED", "status"), ("/api/v1/missed-trades?reason=because", "reason"),
    ("/api/v1/alerts?kind=FIRE", "kind"), ("/api/v1/audit-events?since=9999-01-01", "since"),
    ("/api/v1/balances?unavailable=perhaps", "unavailable"),
    ("/api/v1/reconciliation-breaks?status=closed", "status"),
])
def test_a_bad_filter_is_a_400_naming_it(viewer, book, query, field):
    response = viewer.get(query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]


def test_a_broken_cursor_is_a_404_in_the_error_shape(viewer, book):
    response = viewer.get("/api/v1/alerts?cursor=not-a-cursor")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_accounts_filter_search_and_detail_with_the_risk_profile(viewer, book):
    investors = _walk(viewer, "/api/v1/accounts?account_type=investor")
    assert {a["user_id"] for a in investors} == {"small_00000", "small_00003", "small_00006", "small_00009"}
    assert [a["user_id"] for a in viewer.get("/api/v1/accounts?q=User 7").json()["results"]] == ["small_00007"]
    detail = viewer.get("/api/v1/accounts/small_00007").json()
    assert detail["status"] == "ACTIVE" and detail["trading_enabled"] is True
    assert detail["initial_capital"] == {"amount": "0.00", "currency": "USD"}
    risk = detail["risk_profile"]
    assert risk["max_position_notional"] == "1000.00" and risk["max_position_pct"] == "20"
    assert risk["risk_tolerance"] == "MEDIUM" and risk["max_daily_loss_amount"] is None
    assert viewer.get("/api/v1/accounts/nobody").status_code == 404


def test_balances_show_an_unavailable_venue_as_unavailable(viewer, book):
    failing = _walk(viewer, "/api/v1/balances?unavailable=true")
    assert [a["user_id"] for a in failing] == ["small_00000", "small_00004", "small_00008"]
    [venue] = failing[0]["venues"]
    assert venue["available"] is False and venue["usd"] is None and failing[0]["total"] is None
    assert "RateLimitedError" in venue["error"] and venue["last_good"] == "1500.00"
    good = viewer.get("/api/v1/balances?q=small_00001").json()["results"][0]
    assert good["total"] == "1501.00" and good["venues"][0]["assets"] == {"BTC": "0.01", "USD": "1001"}


def test_signals_with_their_counts_copy_orders_and_missed_trades(viewer, book):
    signals = _walk(viewer, "/api/v1/master-signals")
    assert len(signals) == 10 and signals[0]["id"] > signals[-1]["id"]  # newest first
    by_id = {s["id"]: s for s in signals}
    first = MasterSignal.objects.get(source_id="small-0")
    assert by_id[first.pk]["copy_orders"] == {"SKIPPED": 1} and by_id[first.pk]["amount"] == "0.01"
    detail = viewer.get(f"/api/v1/master-signals/{first.pk}").json()
    assert detail["price"] == "50000" and detail["copy_orders"] == {"SKIPPED": 1}
    [order] = viewer.get(f"/api/v1/master-signals/{first.pk}/copy-orders").json()["results"]
    assert order["user_id"] == "small_00000" and order["reason"] == "below_exchange_minimum"
    assert order["notional"] == "100.00" and order["quantity"] == "0.002"
    missed = _walk(viewer, "/api/v1/missed-trades")
    assert len(missed) == 5 and {m["status"] for m in missed} == {"SKIPPED"}
    assert _walk(viewer, "/api/v1/missed-trades?reason=price_moved") == []
    assert viewer.get("/api/v1/master-signals/999999").status_code == 404
    assert viewer.get("/api/v1/master-signals/999999/copy-orders").status_code == 404


def test_audit_events_newest_first_filtered_by_action(viewer, book):
    events = _walk(viewer, "/api/v1/audit-events?action=BULK_SETUP")
    assert len(events) == 10 and [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
    assert _walk(viewer, "/api/v1/audit-events?action=NOTHING_LIKE_IT") == []


def test_alerts_filtered_by_status_and_account(viewer, book):
    assert len(_walk(viewer, "/api/v1/alerts?status=OPEN")) == 10
    [alert] = viewer.get("/api/v1/alerts?user_id=small_00002").json()["results"]
    assert alert["kind"] == "BALANCE_LOW" and alert["resolved_at"] is None
    assert _walk(viewer, "/api/v1/alerts?status=RESOLVED") == []


def test_reconciliation_breaks_filtered_with_both_figures(viewer, book):
    breaks = _walk(viewer, "/api/v1/reconciliation-breaks?status=open&asset=btc")
    assert len(breaks) == 10
    first = breaks[0]
    assert first["ledger_quantity"] == "0.02" and first["venue_quantity"] == "0.01" and first["difference"] == "-0.01"
    assert first["difference_usd"] == "-500.00"
    assert _walk(viewer, "/api/v1/reconciliation-breaks?status=resolved") == []
    assert len(_walk(viewer, "/api/v1/reconciliation-breaks?user_id=small_00003")) == 1
