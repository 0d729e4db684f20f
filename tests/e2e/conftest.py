import os
from pathlib import Path

import pytest
from django.db import connections

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


def admin_login(page, base_url: str, username: str, password: str) -> None:
    """Sign in on the admin login page as a person does."""
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("input[type=submit]")


def assert_fits_phone(page) -> None:
    """At 375 px the page scrolls only vertically: no horizontal overflow."""
    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"page overflows a 375 px screen by {overflow}px"
