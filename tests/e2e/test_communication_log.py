"""In a real browser: staff preview each message template (text and HTML) with the demo account's data,
and log an inbound call with a follow-up, then mark it done from the log's list. On a desktop and at
375 px."""

import pytest

from compliance.models import Communication

from .conftest import admin_login, assert_fits_phone, staff_member

pytestmark = pytest.mark.browser


@pytest.fixture
def operator(transactional_db, make_account):
    account = make_account("tania_gilbert", full_name="Tania Gilbert")
    staff_member("olga", "browser-test-pw-4", group="operator")
    return account


def test_staff_preview_each_template_on_desktop_and_phone(operator, live_server, browser_page):
    page = browser_page
    admin_login(page, live_server.url, "olga", "browser-test-pw-4")
    with page.expect_navigation():
        page.click("#staff-pages a:text('Message templates (preview)')")
    with page.expect_navigation():
        page.click("nav[aria-label='Message kinds'] a:text('Trading disabled (with the reason)')")
    assert page.locator("#preview-subject").inner_text() == "Trading is off for your NIJA account tania_gilbert"
    assert "Reason: exchange key expired" in page.locator("#preview-text").inner_text()
    frame = page.frame_locator("#preview-html")
    assert "Hello Tania Gilbert" in frame.locator("body").inner_text()
    assert frame.locator("strong", has_text="Reason:").count() == 1
    with page.expect_navigation():
        page.click("nav[aria-label='Message kinds'] a:text('Monthly investor update (1st of the month)')")
    assert page.locator("#preview-subject").inner_text().startswith("NIJA investor update for tania_gilbert")
    assert_fits_phone(page)
    assert "Dear Tania Gilbert" in page.frame_locator("#preview-html").locator("body").inner_text()
    with page.expect_navigation():
        page.click("nav[aria-label='Message kinds'] a:text('Daily compliance check summary (staff)')")
    assert page.locator("#preview-subject").inner_text().startswith("NIJA daily check ")
    assert "an example run" in page.locator("#preview-source").inner_text()
    assert_fits_phone(page)


def test_operator_logs_a_call_and_marks_its_follow_up_done(operator, live_server, browser_page):
    page = browser_page
    admin_login(page, live_server.url, "olga", "browser-test-pw-4")
    page.goto(f"{live_server.url}/admin/compliance/communication/add/")
    # the account field is an autocomplete (select2) over a plain <select>: choose as its search would
    page.evaluate(f"""() => {{ const s = document.querySelector('#id_account');
        s.add(new Option('tania_gilbert', '{operator.pk}', true, true)); }}""")
    page.select_option("#id_category", "call")
    page.fill("#id_subject", "Asked about the December statement")
    page.fill("#id_body", "Call back Tuesday with the fee figures.")
    page.fill("#id_follow_up_due", "2026-12-08")
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert "was added successfully" in page.locator(".messagelist").inner_text()
    row = page.locator("#result_list tr", has_text="Asked about the December statement")
    assert "Call" in row.inner_text() and "Recorded" in row.inner_text()
    row.locator("input[name$='follow_up_done']").check()
    with page.expect_navigation():
        page.click("input[name=_save]")
    entry = Communication.objects.get(subject="Asked about the December statement")
    assert entry.follow_up_done and str(entry.follow_up_due) == "2026-12-08" and entry.created_by == "olga"
    assert entry.category == "call" and entry.status == "recorded"
    assert_fits_phone(page)
