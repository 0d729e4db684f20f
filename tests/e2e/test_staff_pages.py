"""A viewer opens the staff balances page from the admin index in a real browser, on a desktop
and at phone width, and sees an unavailable venue as unavailable."""

import secrets
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User

from brokers.paper_venue import paper_behaviour_set, paper_fund
from brokers.services import balance_audit_run, credential_add

pytestmark = pytest.mark.browser


def _funded(account, usd: str):
    credential = credential_add(actor="test", account=account, venue="paper", label="default",
                                api_key=f"paper-{secrets.token_hex(8)}", api_secret=secrets.token_hex(16))
    paper_fund(credential=credential, asset="USD", amount=Decimal(usd))
    return credential


@pytest.fixture
def audited_balances(transactional_db, make_account):
    """Set up before the browser starts: the balance audit runs its own event loop, which cannot
    nest inside Playwright's."""
    _funded(make_account("daivon_frazier", full_name="Daivon Frazier"), "4200")
    failing = _funded(make_account("tania_gilbert", full_name="Tania Gilbert"), "900")
    balance_audit_run()
    paper_behaviour_set(credential=failing, fault="rate_limited", fault_count=5)
    balance_audit_run()
    user = User.objects.create_user("vera", password="browser-test-pw-2", is_staff=True)
    user.groups.add(Group.objects.get(name="viewer"))


def test_viewer_reads_balances_on_desktop_and_phone(audited_balances, live_server, browser_page):

    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "vera")
    page.fill("#id_password", "browser-test-pw-2")
    with page.expect_navigation():
        page.click("input[type=submit]")
    with page.expect_navigation():
        page.click("#staff-pages a:text('Balances')")
    body = page.locator("#content-main").inner_text()
    assert "$4,200.00" in body
    assert "unavailable" in body and "last good $900.00" in body
    assert "$0.00" not in body

    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"page overflows a 375 px screen by {overflow}px"
