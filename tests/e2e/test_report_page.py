"""An investor opens a stored weekly report in a real browser, on a desktop and at phone width: the trade
breakdown counts a breakeven round trip as neither win nor loss, with the statistics' rule (issue 10 §1.8)."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client

from reporting.services import ledger_import_csv, report_generate
from tests.e2e.conftest import assert_fits_phone

pytestmark = pytest.mark.browser

CSV = ("occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
       "2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n"
       "2026-01-05T10:00:00Z,trade,paper,BTC,0.1,USD,-5000,,,t-1\n"
       "2026-01-06T10:00:00Z,trade,paper,BTC,-0.05,USD,2500.004,,,t-2\n"  # +0.004: breakeven
       "2026-01-07T10:00:00Z,trade,paper,BTC,-0.05,USD,2600,,,t-3\n")  # +100: a win


def test_weekly_report_breakdown_counts_breakeven_on_desktop_and_phone(transactional_db, make_account, live_server,
                                                                       browser_page):
    account = make_account("daivon_frazier", full_name="Daivon Frazier")
    user = User.objects.create_user("daivon", password="browser-test-pw-4")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    ledger_import_csv(actor="test", account=account, text=CSV)
    report = report_generate(account=account, period="weekly", day=dt.date(2026, 1, 8))
    client = Client()
    client.force_login(user)
    page = browser_page
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/portal/reports/{report.pk}/")
    header = page.locator("th", has_text="Breakeven")
    assert header.count() == 1
    row = page.locator("tr", has=page.locator("td", has_text="BTC")).first.locator("td").all_inner_texts()
    assert row[:5] == ["BTC", "2", "1", "0", "1"]  # asset, closed trades, wins, losses, breakeven
    assert_fits_phone(page)

    # The monthly report, the widest (positions and the full trade journal), fits a phone as well.
    monthly = report_generate(account=account, period="monthly", day=dt.date(2026, 1, 8))
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/portal/reports/{monthly.pk}/")
    assert page.locator("h2", has_text="Trade journal").count() == 1
    assert_fits_phone(page)
