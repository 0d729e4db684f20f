"""An operator offboards an account from the admin in a real browser: the accounts list's action
opens the form, which asks for the reason and a confirmation; the offboarding list then shows
the step it is on. Checked on a desktop and at phone width."""

import pytest
from django.contrib.auth.models import Group, User

from brokers.models import PaperOrder
from copytrading.services import engine_mode_set
from operations.models import Offboarding
from tests.copytrading.conftest import World

pytestmark = pytest.mark.browser


def _no_overflow(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"page overflows a 375 px screen by {overflow}px"


@pytest.fixture
def leaver(transactional_db, make_account):
    world = World(make_account=make_account)
    world.account("nija_master", master=True, USD="50000")
    account, _ = world.account("leaver", USD="1000", BTC="0.02")
    engine_mode_set(actor="test", mode="live", reason="browser test", confirm_live=True)
    user = User.objects.create_user("olga", password="browser-test-pw-3", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    return account


def test_operator_offboards_from_the_accounts_list(leaver, live_server, browser_page):
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "browser-test-pw-3")
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/accounts/account/")
    page.check(f"input[name=_selected_action][value='{leaver.pk}']")
    page.select_option("select[name=action]", "offboard_account")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert "I confirm" in page.locator("#content-main").inner_text()
    page.set_viewport_size({"width": 375, "height": 740})
    _no_overflow(page)
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
    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    _no_overflow(page)
