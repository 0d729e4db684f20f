"""In a real browser: the admin and the portal work under the Content-Security-Policy (no refused
script or style, at desktop and phone width), and a locked sign-in shows its clear page at 375 px."""

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from .conftest import assert_no_overflow, sign_in

pytestmark = pytest.mark.browser
PASSWORD = "browser-security-pw-7"


@pytest.fixture
def people(transactional_db, make_account):
    User.objects.create_superuser("olga", password=PASSWORD)
    investor = User.objects.create_user("daivon", password=PASSWORD)
    account = make_account("daivon_frazier", full_name="Daivon Frazier")
    account.portal_user = investor
    account.save(update_fields=["portal_user"])


def _violations(page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None)
    return found


def test_admin_and_portal_pages_run_under_the_policy(people, live_server, browser_page):
    page = browser_page
    refused = _violations(page)
    sign_in(page, f"{live_server.url}/admin/login/", "olga", PASSWORD)
    staff_pages = ["/admin/", "/admin/accounts/account/", "/admin/accounts/account/add/",
                   "/admin/axes/accessattempt/", "/admin/balances/"]
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 800})
        for path in staff_pages:
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == 200, path
            assert "script-src 'self'" in response.headers["content-security-policy"]
            if width == 375 and path != "/admin/accounts/account/add/":
                assert_no_overflow(page)
    # the admin's own scripts ran: the sidebar toggle is wired up by nav_sidebar.js
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/accounts/account/")
    assert page.locator("#toggle-nav-sidebar").count() == 1
    page.context.clear_cookies()
    sign_in(page, f"{live_server.url}/portal/login/", "daivon", PASSWORD)
    assert "Daivon Frazier" in page.content()
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    assert_no_overflow(page)
    assert refused == [], refused


def test_a_locked_sign_in_shows_why_and_what_to_do_at_phone_width(people, live_server, browser_page, settings):
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 740})
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(page, f"{live_server.url}/admin/login/", "olga", "wrong")
    sign_in(page, f"{live_server.url}/admin/login/", "olga", PASSWORD)
    text = page.locator("body").inner_text()
    assert "Sign-in locked" in text and "olga" in text and "unlock_login" in text
    assert_no_overflow(page)


def test_password_reset_by_email_in_the_browser_at_phone_width(people, live_server, browser_page, settings):
    settings.NIJA_PORTAL_BASE_URL = live_server.url  # the e-mailed link's address
    User.objects.filter(username="olga").update(email="olga@nija.example")
    page = browser_page
    refused = _violations(page)
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{live_server.url}/admin/login/")
    with page.expect_navigation():
        page.click("a[href='/password-reset/']")
    assert_no_overflow(page)
    page.fill("#id_email", "olga@nija.example")
    with page.expect_navigation():
        page.click("[type=submit]")
    assert "Check your e-mail" in page.content()
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/password-reset/" in line).strip()
    page.goto(link)
    assert_no_overflow(page)
    page.fill("#id_new_password1", "a-long-new-passphrase-2026")
    page.fill("#id_new_password2", "a-long-new-passphrase-2026")
    with page.expect_navigation():
        page.click("[type=submit]")
    assert "Password changed" in page.content()
    assert_no_overflow(page)
    page.click("text=staff")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "a-long-new-passphrase-2026")
    with page.expect_navigation():
        page.click("[type=submit]")
    assert page.url.endswith("/admin/")
    assert refused == [], refused


def test_an_operator_sets_up_two_factor_sign_in_at_phone_width(people, live_server, browser_page, settings):
    settings.NIJA_OTP_REQUIRED = True
    page = browser_page
    refused = _violations(page)
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, f"{live_server.url}/admin/login/", "olga", PASSWORD)  # a superuser: required
    assert page.url.endswith("/admin/two-factor/")
    assert page.locator("img[alt='QR code of your authenticator key']").is_visible()
    assert_no_overflow(page)
    device = TOTPDevice.objects.get(user__username="olga", confirmed=False)
    page.fill("#id_token", f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}")
    with page.expect_navigation():
        page.click("text=Turn on two-factor sign-in")
    assert "Your recovery codes" in page.content() and page.locator("ol.codes li").count() == 10
    assert_no_overflow(page)
    page.goto(f"{live_server.url}/admin/accounts/account/")
    assert "/admin/accounts/account/" in page.url
    assert refused == [], refused
