"""A closed tax year in the investor's browser: the statements page shows the figures as filed and the
warning naming what a recomputation would change, and still fits a phone (issue 10 §1.4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from reporting.models import PricePoint
from reporting.services import (
    ManualPrice,
    ledger_import_csv,
    manual_prices_record,
    price_point_record,
    tax_year_close,
)

from .conftest import assert_fits_phone, sign_in

pytestmark = pytest.mark.browser

PASSWORD = "a long browser passphrase 7"
LEDGER = ("occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
          "2024-01-02T10:00:00Z,deposit,kraken,BTC,1,,,,,d-1\n"
          "2024-03-01T10:00:00Z,trade,kraken,ETH,20,BTC,-1,,,t-1\n"
          "2024-06-01T10:00:00Z,trade,kraken,ETH,-20,USD,70000,USD,70,t-2\n")


def test_the_statements_page_shows_a_closed_years_filed_figures(transactional_db, live_server, browser_page,
                                                                 make_account):
    price_point_record(asset="BTC", price="40000", observed_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                       source=PricePoint.Source.VENUE)
    account = make_account("alice_filed", full_name="Alice Filed")
    ledger_import_csv(actor="test", account=account, text=LEDGER)
    account.portal_user = User.objects.create_user("alice_filed", password=PASSWORD)
    account.save(update_fields=["portal_user"])
    tax_year_close(actor="staff", account=account, year=2024, method="fifo", reason="filed")
    # Found later: BTC was dearer on the day of the swap. The filed year must not move.
    manual_prices_record(actor="staff", reason="exchange archive", prices=[
        ManualPrice(asset="BTC", price=Decimal("45000"),
                    observed_at=dt.datetime(2024, 2, 29, tzinfo=dt.UTC))])

    page, base = browser_page, live_server.url
    sign_in(page, base + "/portal/login/", "alice_filed", PASSWORD)
    page.goto(base + "/portal/statements/?year=2024&method=fifo")
    text = page.locator("main").inner_text()
    assert "these are the figures as filed" in text
    assert "29,930.00" in text  # the filed gain: 70,000 - 40,000 - 70 of fees (45,000 would give 24,930)
    warning = page.locator("p.warn").first.inner_text()
    assert "would differ" in warning and "short-term proceeds $110,000.00 -> $115,000.00" in warning
    assert_fits_phone(page)
