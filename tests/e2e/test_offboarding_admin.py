"""An operator offboards an account from the admin in a real browser: the accounts list's action
opens the form, which asks for the reason and a confirmation; the offboarding list then shows
the step it is on. Checked on a desktop and at phone width."""

import pytest

from brokers.models import PaperOrder
from copytrading.services import engine_mode_set
from operations.models import Offboarding
from tests.copytrading.conftest import World

from .conftest import admin_login, assert_fits_phone, assert_no_overflow, staff_member

pytestmark = pytest.mark.browser


@pytest.fixture
def leaver(transactional_db, make_account):
    world = World(make_account=make_account)
    world.account("nija_master", master=True, USD="50000")
    account, _ = world.account("leaver", USD="1000", BTC="0.02")
    engine_mode_set(actor="test", mode="live", reason="browser test", confirm_live=True)
    staff_member("olga", "browser-test-pw-3", group="operator")
    return account


def test_operator_offboards_from_the_accounts_list(leaver, live_server, browser_page):
    page = browser_page
    admin_login(page, live_server.url, "olga", "browser-test-pw-3")
    page.goto(f"{live_server.url}/admin/accounts/account/")
    page.check(f"input[name=_selected_action][value='{leaver.pk}']")
    page.select_option("select[name=action]", "offboard_account")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert "I confirm" in page.locator("#content-main").inner_text()
    page.set_viewport_size({"width": 375, "height": 740})
    assert_no_overflow(page)
    page.set_viewport_size({"width": 1280, "height": 800})

    page.fill("#id_reason", "investor redeemed everything")
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert "This field is required" in page.locator("#content-main").inner_text()  # no confirmation yet
    assert not Offboarding.objects.exists()

    page.check("#id_confirm")
    with page.expect_navigation():
        page.click("input[name=_save]")
    page.goto(f"{live_server.url}/admin/operations/offboarding/")
    body = page.locator("#content-main").inner_text()
    assert "leaver" in body and "offboarded" in body
    assert PaperOrder.objects.filter(credential__account=leaver).count() == 1
    assert_fits_phone(page)
