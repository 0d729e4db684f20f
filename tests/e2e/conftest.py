import os
import secrets
from decimal import Decimal
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Group, User
from django.db import connections

from brokers.paper_venue import paper_fund
from brokers.services import credential_add
from tests.conftest import _missing


@pytest.fixture
def browser_page(monkeypatch):
    """A headless system Chromium driven by Playwright (never a downloaded browser)."""
    chromium = os.environ.get("NIJA_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).is_file():
        _missing(f"Chromium at {chromium}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        page = browser.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            browser.close()
            # ORM calls made while Playwright's loop ran opened a connection in its context; close it
            # here, in that context, or it outlives the test and blocks the test database's teardown.
            connections.close_all()


def sign_in(page, login_url: str, username: str, password: str) -> None:
    """Sign in on a login page (the admin's or the portal's) as a person does."""
    page.goto(login_url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("[type=submit]")


def admin_login(page, base_url: str, username: str, password: str) -> None:
    sign_in(page, f"{base_url}/admin/login/", username, password)


def staff_member(username: str, password: str, *, group: str) -> User:
    """A staff login in one of the staff groups (viewer, operator, ...)."""
    user = User.objects.create_user(username, password=password, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def paper_funded(account, usd: str):
    """A PAPER credential for `account` holding `usd` dollars."""
    credential = credential_add(actor="test", account=account, venue="paper", label="default",
                                api_key=f"paper-{secrets.token_hex(8)}", api_secret=secrets.token_hex(16))
    paper_fund(credential=credential, asset="USD", amount=Decimal(usd))
    return credential


def assert_no_overflow(page) -> None:
    """The page as it is now scrolls only vertically: no horizontal overflow."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} overflows a {page.viewport_size['width']} px screen by {overflow}px"


def assert_fits_phone(page) -> None:
    """At 375 px the page scrolls only vertically: no horizontal overflow."""
    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    assert_no_overflow(page)


# axe-core (bundled by axe-playwright-python, runs offline in the page) fails a page on any violation
# of serious or critical impact; minor and moderate ones are reported in the message but do not fail.
AXE_FAILING_IMPACTS = {"serious", "critical"}
_axe = Axe()


def assert_accessible(page, *, widths: tuple[int, ...] = (1280, 375)) -> None:
    """axe-core finds no serious or critical violation on the page as it is now, at each width
    (a desktop and a 375 px phone); the viewport is left at the first width."""
    found = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": 800})
        violations = _axe.run(page).response["violations"]
        for v in violations:
            if v["impact"] in AXE_FAILING_IMPACTS:
                where = ", ".join(str(n["target"][0]) for n in v["nodes"][:3])
                found.append(f"{width}px {v['impact']} {v['id']}: {v['help']} ({where})")
    page.set_viewport_size({"width": widths[0], "height": 800})
    assert not found, f"{page.url}: " + "; ".join(found)


def assert_accessible_sandboxed(page, url: str) -> None:
    """assert_accessible for a page served sandboxed without scripts (the stored-report page): axe
    cannot run there, so it runs in a second tab of the same session that bypasses the page's CSP."""
    context = page.context.browser.new_context(bypass_csp=True, storage_state=page.context.storage_state())
    try:
        other = context.new_page()
        other.goto(url)
        assert_accessible(other)
    finally:
        context.close()
