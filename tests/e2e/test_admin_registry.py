"""An operator works the registry in a real browser: log in, find an account, disable trading
with a reason, and see the audit event."""

import pytest
from django.contrib.auth.models import Group, User

from accounts.models import Account
from compliance.models import AuditEvent

pytestmark = pytest.mark.browser


def test_operator_disables_trading_with_a_reason_in_the_browser(transactional_db, live_server, browser_page,
                                                                 make_account):
    make_account("daivon_frazier", full_name="Daivon Frazier")
    make_account("tania_gilbert", full_name="Tania Gilbert")
    user = User.objects.create_user("olivia", password="browser-test-pw-1", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))

    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "browser-test-pw-1")
    with page.expect_navigation():
        page.click("input[type=submit]")
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
