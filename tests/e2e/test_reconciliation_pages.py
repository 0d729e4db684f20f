"""Staff open the reconciliation breaks list and an account's page in a real browser, on a desktop
and at phone width, and see the break with both figures and the USD difference."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User

from reporting.models import ReconciliationBreak
from tests.e2e.conftest import admin_login, assert_fits_phone

pytestmark = pytest.mark.browser


@pytest.fixture
def planted_break(transactional_db, make_account):
    account = make_account("tania_gilbert", full_name="Tania Gilbert")
    seen = dt.datetime(2026, 2, 1, 0, 45, tzinfo=dt.UTC)
    ReconciliationBreak.objects.create(
        account=account, venue="paper", asset="ETH", ledger_quantity=Decimal("6.2591"),
        venue_quantity=Decimal("1.5"), difference=Decimal("-4.7591"), difference_usd=Decimal("-14277.30"),
        snapshot_at=seen, first_seen_at=seen, last_seen_at=seen)
    user = User.objects.create_user("vera", password="browser-test-pw-3", is_staff=True)
    user.groups.add(Group.objects.get(name="viewer"))
    return account


def test_breaks_list_and_account_page_on_desktop_and_phone(planted_break, live_server, browser_page):
    page = browser_page
    admin_login(page, live_server.url, "vera", "browser-test-pw-3")
    page.goto(f"{live_server.url}/admin/reporting/reconciliationbreak/")
    body = page.locator("#content-main").inner_text()
    assert "tania_gilbert" in body and "-4.7591" in body and "Open" in body
    page.click("#changelist-filter a:text('Explained')")
    assert "0 reconciliation breaks" in page.locator("#content-main").inner_text()
    assert_fits_phone(page)

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/accounts/account/{planted_break.pk}/change/")
    body = page.locator("#content-main").inner_text()
    assert "-$14,277.30" in body and "open since 2026-02-01" in body
    assert_fits_phone(page)
