"""A viewer opens the /users dashboard from the admin index in a real browser, filters it, sees an
unavailable venue as unavailable (never $0), opens an account, and the page fits a phone."""

import pytest

from brokers.paper_venue import paper_behaviour_set
from brokers.services import balance_audit_run

from .conftest import admin_login, assert_fits_phone, paper_funded, staff_member

pytestmark = pytest.mark.browser


@pytest.fixture
def book(transactional_db, make_account):
    """Set up before the browser starts (the balance audit runs its own event loop)."""
    paper_funded(make_account("daivon_frazier", full_name="Daivon Frazier", account_type="investor"), "4200")
    failing = paper_funded(make_account("tania_gilbert", full_name="Tania Gilbert", account_type="investor"), "900")
    paper_funded(make_account("rita_retail", full_name="Rita Retail"), "300")
    balance_audit_run()
    paper_behaviour_set(credential=failing, fault="rate_limited", fault_count=5)
    balance_audit_run()
    staff_member("vera", "browser-test-pw-3", group="viewer")


def test_viewer_reads_the_users_dashboard_on_desktop_and_phone(book, live_server, browser_page):
    page = browser_page
    admin_login(page, live_server.url, "vera", "browser-test-pw-3")
    with page.expect_navigation():
        page.click("#staff-pages a:text('Users (dashboard)')")
    assert page.url.endswith("/admin/users/")
    cards = page.locator(".card")
    assert cards.count() == 3
    assert cards.nth(0).get_attribute("data-user-id") == "daivon_frazier"  # highest total first
    tania = page.locator(".card[data-user-id=tania_gilbert]").inner_text()
    assert "unavailable (RateLimitedError" in tania and "last good $900.00" in tania and "$0.00" not in tania
    assert "OBSERVE" in page.locator("#engine").inner_text()

    page.select_option("select[name=account_type]", "retail")
    with page.expect_navigation():
        page.click("form.filters input[type=submit]")
    assert [cards.nth(i).get_attribute("data-user-id") for i in range(cards.count())] == ["rita_retail"]

    page.fill("input[name=q]", "daivon")
    page.select_option("select[name=account_type]", "")
    with page.expect_navigation():
        page.click("form.filters input[type=submit]")
    with page.expect_navigation():
        page.click(".card[data-user-id=daivon_frazier] h3 a")
    assert "/admin/accounts/account/" in page.url and "daivon_frazier" in page.content()

    page.goto(f"{live_server.url}/users")
    assert page.url.endswith("/admin/users/")
    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    assert_fits_phone(page)
