"""An operator opens the dashboard, follows the compliance strip to the findings list, filters it,
acknowledges a finding with a note, and sees it on the account's page; on a desktop and at 375 px."""

import pytest

from operations.models import ComplianceFinding
from operations.services import compliance_run_execute
from tests.e2e.conftest import admin_login, assert_fits_phone, staff_member

pytestmark = pytest.mark.browser


@pytest.fixture
def found(transactional_db, make_account):
    account = make_account("wanda_keyless", full_name="Wanda Keyless")
    compliance_run_execute()
    staff_member("otto", "browser-test-pw-9", group="operator")
    return account


def test_dashboard_to_findings_acknowledge_and_account_page(found, live_server, browser_page):
    page = browser_page
    admin_login(page, live_server.url, "otto", "browser-test-pw-9")
    page.goto(f"{live_server.url}/admin/users/")
    strip = page.locator("#compliance").inner_text()
    assert "Daily check" in strip and "2 open findings" in strip
    assert_fits_phone(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    with page.expect_navigation():
        page.click("#compliance a")
    assert "status__exact=open" in page.url
    body = page.locator("#content-main").inner_text()
    assert "wanda_keyless" in body and "ACTIVE without a usable credential" in body
    page.click("#changelist-filter a:text('credential_missing'), #changelist-filter a:text('ACTIVE account without')")
    assert "1 compliance finding" in page.locator("#content-main").inner_text()
    assert_fits_phone(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", "acknowledge_findings")
    with page.expect_navigation():
        page.click("button[name=index]")
    page.fill("#id_reason", "Wanda sends her key on Monday")
    with page.expect_navigation():
        page.click("input[type=submit][value=Confirm]")
    assert "Acknowledge (with a note): 1 done." in page.locator("body").inner_text()
    finding = ComplianceFinding.objects.get(kind="credential_missing")
    assert finding.status == "acknowledged" and finding.acknowledged_by == "otto"
    page.goto(f"{live_server.url}/admin/accounts/account/{found.pk}/change/")
    body = page.locator("#content-main").inner_text()
    assert "Compliance findings" in body and "Acknowledged" in body
    assert_fits_phone(page)
