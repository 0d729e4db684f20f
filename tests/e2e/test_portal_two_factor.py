"""An investor turns on two-factor sign-in in the portal in a real browser (scanning is replaced by
the key the page shows), signs in again with a recovery code, and turns it off with the password and
a code; the sign-in, setup and recovery-code pages pass axe-core at desktop and phone width."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import User
from django_otp.oath import totp

from compliance.models import AuditEvent

from .conftest import assert_accessible, assert_no_overflow, sign_in

pytestmark = pytest.mark.browser
PASSWORD = "portal browser 2fa pass 4"


@pytest.fixture
def investor(transactional_db, make_account):
    user = User.objects.create_user("daivon", password=PASSWORD)
    account = make_account("daivon_frazier", full_name="Daivon Frazier")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    return user


def test_an_investor_turns_two_factor_on_signs_in_with_a_code_and_turns_it_off(investor, live_server,
                                                                               browser_page):
    page = browser_page
    base = live_server.url
    page.goto(base + "/portal/login/")
    assert_accessible(page)
    sign_in(page, base + "/portal/login/", "daivon", PASSWORD)
    with page.expect_navigation():
        page.click("header a:text-is('Two-factor sign-in')")
    with page.expect_navigation():
        page.click("button:text-is('Set up two-factor sign-in')")
    assert page.locator("img[alt='QR code of your authenticator key']").is_visible()
    assert_accessible(page)
    page.set_viewport_size({"width": 375, "height": 740})
    assert_no_overflow(page)
    # What the authenticator app would compute from the key on the page.
    key = base64.b32decode(page.locator("code.secret").inner_text())
    page.fill("#id_token", f"{totp(key):06d}")
    with page.expect_navigation():
        page.click("button:text-is('Turn on two-factor sign-in')")
    codes = page.locator("ol.codes li").all_inner_texts()
    assert len(codes) == 10 and "is on" in page.locator("main").inner_text()
    assert_accessible(page)
    assert_no_overflow(page)

    with page.expect_navigation():
        page.click("button:text-is('Sign out')")
    sign_in(page, base + "/portal/login/", "daivon", PASSWORD)  # the password alone
    assert "/portal/login/" in page.url and "current code from your authenticator" in page.content()
    assert_accessible(page)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", codes[0])
    with page.expect_navigation():
        page.click("[type=submit]")
    assert page.url == base + "/portal/"

    page.goto(base + "/portal/two-factor/")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", codes[1])
    with page.expect_navigation():
        page.click("button:text-is('Turn off two-factor sign-in')")
    assert "Two-factor sign-in is off" in page.content()
    assert list(AuditEvent.objects.filter(action__startswith="otp.").order_by("pk").values_list("action", flat=True)) \
        == ["otp.enabled", "otp.disabled"]
