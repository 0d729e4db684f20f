"""Issue 10 §1.7: `export_transactions --ledger-csv` writes the import format, venue and external id
included, so exporting an account and importing it into an empty one reproduces the ledger, the tax
reports for every year and method, the positions and the fee report by venue."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from reporting.models import LedgerEntry
from reporting.selectors import AccountBooks, fee_report, positions_view, tax_report
from reporting.services import fee_schedule_set, fees_accrue, ledger_import_csv

pytestmark = pytest.mark.django_db

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
# Two venues, two years, fees in the quote, the base, the received asset and a third asset, a
# crypto-for-crypto trade, a transfer, a withdrawal and sub-cent quantities.
LEDGER = HEADER + (
    "2025-03-01T09:00:00Z,deposit,paper,USD,20000,,,,,d-1\n"
    "2025-03-02T10:00:00.123456Z,trade,paper,BTC,0.2,USD,-10000,USD,10,t-1\n"
    "2025-04-02T10:00:00Z,trade,paper,ETH,3,USD,-6000,ETH,0.003,t-2\n"
    "2025-06-01T10:00:00Z,trade,paper,ETH,-2,BTC,0.1,BTC,0.0001,t-3\n"
    "2025-07-01T10:00:00Z,transfer,paper,BTC,-0.05,,,,,x-1\n"
    "2025-07-01T10:00:00Z,transfer,kraken,BTC,0.05,,,,,x-1\n"
    "2025-09-01T10:00:00Z,trade,kraken,BTC,-0.05,USD,3100,BNB,0.001,t-4\n"
    "2025-09-01T09:00:00Z,trade,kraken,BNB,0.01,USD,-5,,,t-5\n"
    "2026-02-01T10:00:00Z,trade,paper,BTC,-0.123456789012,USD,7000.5,USD,7.000123,t-6\n"
    "2026-03-01T10:00:00Z,withdrawal,paper,USD,-1000,,,,,w-1\n"
    "2026-03-02T10:00:00Z,fee,kraken,USD,-1.25,,,,,f-1\n")
COMPARED = ("occurred_at", "kind", "venue", "asset", "amount", "counter_asset", "counter_amount", "price", "side",
            "fee_asset", "fee_amount", "external_id")


def _ledger(account):
    return list(LedgerEntry.objects.filter(account=account).order_by("occurred_at", "venue", "external_id")
                .values_list(*COMPARED))


def test_ledger_csv_export_imported_into_an_empty_account_reproduces_the_books(make_account):
    original = make_account("original")
    ledger_import_csv(actor="test", account=original, text=LEDGER)
    fee_schedule_set(actor="staff", account=original, management_fee_rate="0.02", reason="agreement")
    fees_accrue(account=original, through=dt.date(2025, 3, 5))  # posted investor fees travel too
    out = StringIO()
    call_command("export_transactions", "original", "--ledger-csv", stdout=out)
    exported = out.getvalue()
    assert exported.startswith(HEADER) and ",kraken," in exported and ",t-4\n" in exported

    copy = make_account("copy")
    result = ledger_import_csv(actor="test", account=copy, text=exported)
    assert result.created == LedgerEntry.objects.filter(account=original).count()
    assert _ledger(copy) == _ledger(original)
    for year in (2025, 2026):
        for method in ("fifo", "lifo", "hifo"):
            a, b = (tax_report(account=acc, year=year, method=method) for acc in (original, copy))
            assert a["disposals"] == b["disposals"] and a["totals_by_term"] == b["totals_by_term"], (year, method)
    for method in ("fifo", "lifo", "hifo"):
        a, b = (positions_view(books=AccountBooks(account=acc, method=method)) for acc in (original, copy))
        assert a == b
    start, end = dt.date(2025, 1, 1), dt.date(2026, 12, 31)
    a, b = (fee_report(account=acc, start=start, end=end) for acc in (original, copy))
    assert a["by_venue"] == b["by_venue"] and set(a["by_venue"]) == {"kraken", "paper"}
    # exporting the copy gives the same file: nothing lost or rounded on the way
    again = StringIO()
    call_command("export_transactions", "copy", "--ledger-csv", stdout=again)
    assert again.getvalue() == exported
