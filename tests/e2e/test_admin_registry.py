"""An operator works the registry in a real browser: log in, find an account, disable trading
with a reason, and see the audit event."""

import pytest

from accounts.models import Account
from compliance.models import AuditEvent

from .conftest import admin_login, staff_member

pytestmark = pytest.mark.browser


def test_operator_disables_trading_with_a_reason_in_the_browser(transactional_db, live_server, browser_page,
                                                                 make_account):
    make_account("daivon_frazier", full_name="Daivon Frazier")
    make_account("tania_gilbert", full_name="Tania Gilbert")
    staff_member("olivia", "browser-test-pw-1", group="operator")

    page = browser_page
    admin_login(page, live_server.url, "olivia", "browser-test-pw-1")
    page.goto(f"{live_server.url}/admin/accounts/account/")
    page.fill("#searchbar", "daivon")
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "Active" in rows.first.inner_text()

    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "disable_trading")
    with page.expect_navigation():
        page.click("button[name=index]")
    page.fill("#id_reason", "client requested a pause")
    with page.expect_navigation():
        page.click("input[value=Confirm]")
    assert "Disable trading: 1 done" in page.locator("ul.messagelist").inner_text()

    account = Account.objects.get(user_id="daivon_frazier")
    assert (account.status, account.trading_enabled) == ("SUSPENDED", False)
    event = AuditEvent.objects.get(action="TRADING_DISABLE")
    assert (event.actor, event.reason) == ("olivia", "client requested a pause")
    page.goto(f"{live_server.url}/admin/compliance/auditevent/")
    assert "client requested a pause" in page.content()
