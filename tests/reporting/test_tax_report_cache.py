"""A year's tax report is computed once per change of the books, not once per request: the statements
page, its CSV and a closed year's comparison read it from the cache until the account's ledger or any
price changes, and a change is seen at once (issue 14 part 5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reporting.models import PricePoint
from reporting.selectors import tax_report, tax_report_compute
from reporting.services import ledger_import_csv, price_point_record, tax_year_close

pytestmark = pytest.mark.django_db

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
LEDGER = HEADER + ("2024-01-02T10:00:00Z,deposit,kraken,BTC,1,,,,,d-1\n"
                   "2024-03-01T10:00:00Z,trade,kraken,ETH,20,BTC,-1,,,t-1\n"
                   "2024-06-01T10:00:00Z,trade,kraken,ETH,-20,USD,70000,USD,70,t-2\n")
LATER_SALE = HEADER + ("2024-01-03T10:00:00Z,deposit,kraken,USD,1000,,,,,d-2\n"
                       "2024-07-01T10:00:00Z,trade,kraken,BTC,0.01,USD,-500,,,t-3\n"
                       "2024-08-01T10:00:00Z,trade,kraken,BTC,-0.01,USD,600,,,t-4\n")


@pytest.fixture
def account(make_account):
    price_point_record(asset="BTC", price="40000", observed_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                       source=PricePoint.Source.VENUE)
    account = make_account("alice")
    ledger_import_csv(actor="test", account=account, text=LEDGER)
    return account


def _ledger_rows_read(queries) -> int:
    """Queries that read ledger rows (not the version's COUNT/MAX aggregate)."""
    return sum(1 for q in queries if 'FROM "reporting_ledgerentry"' in q["sql"] and "COUNT(" not in q["sql"])


def test_a_second_request_reads_the_computed_year_and_not_the_ledger(account):
    with CaptureQueriesContext(connection) as first:
        one = tax_report(account=account, year=2024, method="fifo")
    with CaptureQueriesContext(connection) as second:
        two = tax_report(account=account, year=2024, method="fifo")
    assert _ledger_rows_read(first) >= 1 and _ledger_rows_read(second) == 0
    assert one == two == {**tax_report_compute(account=account, year=2024, method="fifo"), "closed": None,
                          "differences": [], "warnings": []}


def test_a_new_ledger_entry_or_price_is_seen_at_once(account):
    before = tax_report(account=account, year=2024, method="fifo")
    ledger_import_csv(actor="test", account=account, text=LATER_SALE)
    after_entry = tax_report(account=account, year=2024, method="fifo")
    assert len(after_entry["disposals"]) == len(before["disposals"]) + 1
    assert after_entry == {**tax_report_compute(account=account, year=2024, method="fifo"), "closed": None,
                           "differences": [], "warnings": []}
    price_point_record(asset="BTC", price="45000", observed_at=dt.datetime(2024, 2, 29, tzinfo=dt.UTC),
                       source=PricePoint.Source.VENUE)
    repriced = tax_report(account=account, year=2024, method="fifo")
    assert repriced["totals_by_term"] == tax_report_compute(account=account, year=2024,
                                                            method="fifo")["totals_by_term"]
    assert repriced["totals_by_term"] != after_entry["totals_by_term"]


def test_a_closed_year_serves_the_filed_figures_and_its_warning_follows_the_books(account):
    tax_year_close(actor="staff", account=account, year=2024, method="fifo", reason="filed")
    filed = tax_report(account=account, year=2024, method="fifo")
    assert filed["closed"] and filed["warnings"] == []
    with CaptureQueriesContext(connection) as again:
        assert tax_report(account=account, year=2024, method="fifo") == filed
    assert _ledger_rows_read(again) == 0
    price_point_record(asset="BTC", price="45000", observed_at=dt.datetime(2024, 2, 29, tzinfo=dt.UTC),
                       source=PricePoint.Source.VENUE)
    moved = tax_report(account=account, year=2024, method="fifo")
    assert moved["totals_by_term"] == filed["totals_by_term"]  # as filed, never moved
    assert moved["totals_by_term"]["short"]["gain"] == D("29930")
    assert "would differ" in moved["warnings"][0]
