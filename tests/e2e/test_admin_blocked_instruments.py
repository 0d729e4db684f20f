"""An operator blocks a market for one account in the admin, on a phone-width screen, and the
risk profile stores it normalised (XRP-USD is XRP/USD)."""

import pytest
from django.contrib.auth.models import Group, User

from accounts.models import RiskProfile

pytestmark = pytest.mark.browser


def test_operator_blocks_an_instrument_on_a_phone_width_screen(transactional_db, live_server, browser_page,
                                                                make_account):
    account = make_account("daivon_frazier", full_name="Daivon Frazier")
    user = User.objects.create_user("olivia", password="browser-test-pw-1", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))

    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "browser-test-pw-1")
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/accounts/account/{account.pk}/change/")
    field = page.locator("#id_risk_profile-0-blocked_instruments")
    assert field.is_visible()
    field.fill('["xrp-usd"]')
    with page.expect_navigation():
        page.click("input[name=_continue]")
    assert "was changed successfully" in page.locator("ul.messagelist").inner_text()
    assert RiskProfile.objects.get(account=account).blocked_instruments == ["XRP/USD"]
    assert page.locator("#id_risk_profile-0-blocked_instruments").input_value() == '["XRP/USD"]'
