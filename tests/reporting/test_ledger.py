"""Ledger: CSV import (all-or-nothing, idempotent), manual entries (audited), venue trades, export."""

import datetime as dt
import json
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from brokers.clients.base import Trade
from compliance.models import AuditEvent
from core.errors import ApplicationError
from reporting.models import LedgerEntry, PricePoint
from reporting.services import (
    ledger_entries_from_venue,
    ledger_entry_manual_record,
    ledger_import_csv,
)

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
GOOD = HEADER + (
    "2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n"
    "2026-01-05T10:00:00Z,trade,paper,BTC,0.1,USD,-5000,USD,5,t-1\n"
    "2026-01-06T10:00:00Z,trade,paper,BTC,-0.05,USD,2600,USD,2.6,t-2\n"
)


@pytest.fixture
def csv_file(tmp_path):
    def write(text: str):
        path = tmp_path / "ledger.csv"
        path.write_text(text)
        return str(path)
    return write


def test_import_creates_entries_and_reimport_changes_nothing(make_account, csv_file):
    account = make_account("daivon_frazier")
    out = StringIO()
    call_command("import_ledger", "daivon_frazier", "--csv", csv_file(GOOD), stdout=out)
    assert "imported 3 entries" in out.getvalue()
    buy = LedgerEntry.objects.get(account=account, external_id="t-1")
    assert (buy.side, buy.price, buy.fee_amount, buy.fee_asset) == ("buy", D("50000"), D("5"), "USD")
    out = StringIO()
    call_command("import_ledger", "daivon_frazier", "--csv", csv_file(GOOD), stdout=out)
    assert "imported 0 entries, 3 already in the ledger" in out.getvalue()
    assert LedgerEntry.objects.filter(account=account).count() == 3
    # trades feed the price history
    assert PricePoint.objects.filter(asset="BTC", source="ledger").count() == 2


def test_import_with_bad_rows_reports_every_line_and_writes_nothing(make_account, csv_file):
    make_account("daivon_frazier")
    bad = GOOD + (
        "2026-01-07T10:00:00Z,trade,paper,BTC,0.1,USD,5000,,,t-3\n"  # counter has the same sign
        "not-a-date,deposit,paper,USD,100,,,,,d-2\n"
        "2026-01-07T10:00:00Z,withdrawal,paper,USD,100,,,,,w-1\n"  # positive withdrawal
        "2026-01-07T11:00:00Z,deposit,paper,USD,50,,,,,d-1\n"  # repeats line 2's id
        "2026-01-07T12:00:00Z,bonus,paper,USD,abc,,,,,x-1\n"
        "2026-01-07T12:00:00Z,deposit,paper,USD,5,,,,,x-2,surplus\n"
    )
    err = StringIO()
    with pytest.raises(CommandError, match="6 bad row"):
        call_command("import_ledger", "daivon_frazier", "--csv", csv_file(bad), stderr=err)
    lines = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["line 5", "line 6", "line 7", "line 8", "line 9", "line 10"]
    assert "opposite sign" in lines[0] and "repeats line 2" in lines[3]
    assert "kind 'bonus'" in lines[4] and "'abc' is not a number" in lines[4]
    assert "11 fields, expected 10" in lines[5]
    assert LedgerEntry.objects.count() == 0


def test_dry_run_writes_nothing(make_account, csv_file):
    make_account("daivon_frazier")
    out = StringIO()
    call_command("import_ledger", "daivon_frazier", "--csv", csv_file(GOOD), "--dry-run", stdout=out)
    assert "would import 3 entries" in out.getvalue()
    assert LedgerEntry.objects.count() == 0


def test_missing_column_is_refused(make_account, csv_file):
    account = make_account()
    with pytest.raises(ApplicationError, match="missing column"):
        ledger_import_csv(actor="test", account=account, text="occurred_at,kind\n2026-01-01,deposit\n")


def test_entries_are_append_only(make_account):
    account = make_account()
    ledger_import_csv(actor="test", account=account, text=GOOD)
    entry = LedgerEntry.objects.first()
    entry.amount = D("1")
    with pytest.raises(ApplicationError, match="append-only"):
        entry.save()
    with pytest.raises(ApplicationError):
        entry.delete()
    with pytest.raises(ApplicationError):
        LedgerEntry.objects.filter(account=account).update(amount=D("2"))
    with pytest.raises(ApplicationError):
        LedgerEntry.objects.all().delete()


def test_manual_entry_needs_a_reason_and_is_audited(make_account):
    account = make_account()
    with pytest.raises(ApplicationError, match="reason"):
        ledger_entry_manual_record(actor="staff", account=account, kind="adjustment", venue="paper", asset="USD",
                                   amount="-3.5", reason=" ")
    entry = ledger_entry_manual_record(actor="staff", account=account, kind="adjustment", venue="paper",
                                       asset="USD", amount="-3.5", reason="venue charged a wire fee twice")
    assert entry.source == "manual" and entry.note == "venue charged a wire fee twice"
    event = AuditEvent.objects.filter(action="ledger.manual_entry").get()
    assert event.target_id == account.user_id and event.after["amount"] == "-3.5"


def test_record_ledger_entry_command(make_account):
    make_account("tania_gilbert")
    out = StringIO()
    call_command("record_ledger_entry", "tania_gilbert", "--kind", "deposit", "--venue", "paper", "--asset", "USD",
                 "--amount", "250", "--reason", "wire received 2026-01-02", "--occurred-at", "2026-01-02T08:00:00",
                 stdout=out)
    assert "recorded ledger entry" in out.getvalue()
    entry = LedgerEntry.objects.get()
    assert entry.occurred_at == dt.datetime(2026, 1, 2, 8, tzinfo=dt.UTC)


class FakeVenue:
    venue = "paper"

    def fetch_my_trades(self, *, symbol=None, since=None):
        t = dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC)
        return [Trade("v-1", "o-1", "c-1", "ETH/USD", "buy", D("2"), D("3000"), D("6000"), D("6"), "USD", t),
                Trade("v-2", "o-2", "c-2", "ETH/USD", "sell", D("1"), D("3100"), D("3100"), D("0.001"), "ETH", t)]


def test_venue_history_import_is_idempotent(make_account):
    account = make_account()
    assert ledger_entries_from_venue(account=account, client=FakeVenue()).created == 2
    assert ledger_entries_from_venue(account=account, client=FakeVenue()).created == 0
    sell = LedgerEntry.objects.get(external_id="v-2")
    assert (sell.amount, sell.counter_amount, sell.fee_asset, sell.side) == (D("-1"), D("3100"), "ETH", "sell")


def test_export_transactions_json_shape(make_account):
    account = make_account("daivon_frazier")
    ledger_import_csv(actor="test", account=account, text=GOOD)
    out = StringIO()
    call_command("export_transactions", "daivon_frazier", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) == {"user_id", "transactions"} and data["user_id"] == "daivon_frazier"
    keys = {"date", "type", "pair", "side", "size", "price", "fee", "amount", "balance_after", "note", "asset",
            "balance_asset", "fee_asset"}  # every amount names its asset
    assert all(set(tx) == keys for tx in data["transactions"])
    deposit, buy, sell = data["transactions"]
    assert (deposit["type"], deposit["pair"], deposit["side"], deposit["balance_after"]) == (
        "deposit", "USD", None, "10000.00")  # USD in cents at the edge
    assert (buy["pair"], buy["side"], D(buy["size"]), D(buy["price"]), D(buy["fee"])) == (
        "BTC/USD", "buy", D("0.1"), D("50000"), D("5"))
    assert D(buy["amount"]) == D("-5005") and D(buy["balance_after"]) == D("4995")
    assert D(sell["amount"]) == D("2597.4") and D(sell["balance_after"]) == D("7592.4")


def test_export_transactions_csv(make_account):
    account = make_account("daivon_frazier")
    ledger_import_csv(actor="test", account=account, text=GOOD)
    out = StringIO()
    call_command("export_transactions", "daivon_frazier", "--csv", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "date,type,pair,side,size,price,fee,amount,balance_after,note"
    assert len(lines) == 4


class PricedVenue:
    venue = "paper"

    def __init__(self, fail: bool = False):
        self.fail = fail

    def fetch_price(self, symbol):
        if self.fail:
            raise TimeoutError("venue timed out")
        return {"BTC/USD": D("61000.5")}[symbol]


def test_prices_refresh_records_venue_prices_and_reports_failures(make_account):
    from reporting.services import prices_refresh

    account = make_account()
    ledger_import_csv(actor="test", account=account, text=GOOD)
    assert prices_refresh(clients=[PricedVenue()]) == {"BTC": "61000.5"}
    assert PricePoint.objects.filter(asset="BTC", source="venue").get().price == D("61000.5")
    result = prices_refresh(clients=[PricedVenue(fail=True)])
    assert result["BTC"].startswith("error: TimeoutError")
    assert PricePoint.objects.filter(asset="BTC", source="venue").count() == 1  # no zero price stored


def test_amount_beyond_ledger_precision_is_a_bad_row(make_account):
    account = make_account()
    text = HEADER + "2026-01-05T09:00:00Z,deposit,paper,ETH,0.0000000000000000001,,,,,d-1\n"
    with pytest.raises(ApplicationError, match="line 2: amount .* more than 18 decimal places"):
        ledger_import_csv(actor="test", account=account, text=text)
