import datetime as dt
from decimal import Decimal as D

from copytrading.models import CopyFill, CopyOrder, MasterSignal
from reporting.models import LedgerEntry
from reporting.services import ledger_entries_from_copy_fills

T = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def test_copy_fills_become_trade_entries_once(make_account):
    account = make_account("daivon_frazier")
    signal = MasterSignal.objects.create(source="api", source_id="s-1", venue="paper", symbol="BTC/USD", side="buy",
                                         amount=D("1"), price=D("50000"), executed_at=T, mode="LIVE")
    order = CopyOrder.objects.create(signal=signal, account=account, venue="paper", symbol="BTC/USD", side="buy",
                                     client_order_id="nija-1", status="FILLED")
    CopyFill.objects.create(copy_order=order, trade_id="f-1", symbol="BTC/USD", side="buy", amount=D("0.01"),
                            price=D("50000"), cost=D("500"), fee=D("0.5"), fee_asset="USD", occurred_at=T)
    CopyFill.objects.create(copy_order=order, trade_id="f-2", symbol="BTC/USD", side="buy", amount=D("0.02"),
                            price=D("50010"), cost=D("1000.2"), fee=None, fee_asset="", occurred_at=T)
    assert ledger_entries_from_copy_fills(account=account) == 2
    assert ledger_entries_from_copy_fills() == 0
    first = LedgerEntry.objects.get(external_id="f-1")
    assert (first.source, first.venue, first.amount, first.counter_amount, first.fee_amount) == (
        "copy_fill", "paper", D("0.01"), D("-500"), D("0.5"))
    assert LedgerEntry.objects.get(external_id="f-2").fee_amount is None


def test_positions_show_the_copy_engine_stop(make_account):
    from reporting.selectors import AccountBooks, positions_view

    account = make_account("daivon_frazier")
    signal = MasterSignal.objects.create(source="api", source_id="s-2", venue="paper", symbol="ETH/USD", side="buy",
                                         amount=D("1"), price=D("3000"), executed_at=T, mode="LIVE")
    order = CopyOrder.objects.create(signal=signal, account=account, venue="paper", symbol="ETH/USD", side="buy",
                                     client_order_id="nija-2", status="FILLED", stop_price=D("2850"),
                                     stop_mode="engine")
    CopyFill.objects.create(copy_order=order, trade_id="e-1", symbol="ETH/USD", side="buy", amount=D("0.5"),
                            price=D("3000"), cost=D("1500"), fee=D("1.5"), fee_asset="USD", occurred_at=T)
    ledger_entries_from_copy_fills(account=account)
    [position] = positions_view(books=AccountBooks(account=account))
    assert position["stop"] == D("2850") and position["avg_cost"] == D("3003")
    assert position["opened_at"] == T
