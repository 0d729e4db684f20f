"""A viewer opens the staff balances page from the admin index in a real browser, on a desktop
and at phone width, and sees an unavailable venue as unavailable."""

import pytest

from brokers.paper_venue import paper_behaviour_set
from brokers.services import balance_audit_run

from .conftest import admin_login, assert_fits_phone, paper_funded, staff_member

pytestmark = pytest.mark.browser


@pytest.fixture
def audited_balances(transactional_db, make_account):
    """Set up before the browser starts: the balance audit runs its own event loop, which cannot
    nest inside Playwright's."""
    paper_funded(make_account("daivon_frazier", full_name="Daivon Frazier"), "4200")
    failing = paper_funded(make_account("tania_gilbert", full_name="Tania Gilbert"), "900")
    balance_audit_run()
    paper_behaviour_set(credential=failing, fault="rate_limited", fault_count=5)
    balance_audit_run()
    staff_member("vera", "browser-test-pw-2", group="viewer")


def test_viewer_reads_balances_on_desktop_and_phone(audited_balances, live_server, browser_page):
    page = browser_page
    admin_login(page, live_server.url, "vera", "browser-test-pw-2")
    with page.expect_navigation():
        page.click("#staff-pages a:text('Balances')")
    body = page.locator("#content-main").inner_text()
    assert "$4,200.00" in body
    assert "unavailable" in body and "last good $900.00" in body
    assert "$0.00" not in body

    assert_fits_phone(page)
