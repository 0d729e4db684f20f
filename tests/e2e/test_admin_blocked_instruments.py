"""An operator blocks a market for one account in the admin, on a phone-width screen, and the
risk profile stores it normalised (XRP-USD is XRP/USD)."""

import pytest

from accounts.models import RiskProfile

from .conftest import admin_login, staff_member

pytestmark = pytest.mark.browser


def test_operator_blocks_an_instrument_on_a_phone_width_screen(transactional_db, live_server, browser_page,
                                                                make_account):
    account = make_account("daivon_frazier", full_name="Daivon Frazier")
    staff_member("olivia", "browser-test-pw-1", group="operator")

    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    admin_login(page, live_server.url, "olivia", "browser-test-pw-1")
    page.goto(f"{live_server.url}/admin/accounts/account/{account.pk}/change/")
    field = page.locator("#id_risk_profile-0-blocked_instruments")
    assert field.is_visible()
    field.fill('["xrp-usd"]')
    with page.expect_navigation():
        page.click("input[name=_continue]")
    assert "was changed successfully" in page.locator("ul.messagelist").inner_text()
    assert RiskProfile.objects.get(account=account).blocked_instruments == ["XRP/USD"]
    assert page.locator("#id_risk_profile-0-blocked_instruments").input_value() == '["XRP/USD"]'
