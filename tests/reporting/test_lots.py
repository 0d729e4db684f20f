"""Lot matching: fee cases, partial closes, FIFO/LIFO/HIFO, unknown acquisitions. Pure, no database."""

import datetime as dt
from decimal import Decimal as D

import pytest

from reporting.lots import (
    FEE_PAYMENT,
    FLAG_MISSING,
    EntryRow,
    PriceBook,
    closed_trades,
    lot_events_from_entries,
    lots_match,
)

T0 = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)
_ids = iter(range(1, 10_000))


def at(days: int, hours: int = 0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, hours=hours)


def trade(when, asset, amount, counter, counter_asset="USD", fee=None, fee_asset=""):
    amount, counter = D(amount), D(counter)
    return EntryRow(next(_ids), when, "trade", "paper", asset, amount, counter_asset, counter,
                    "buy" if amount > 0 else "sell", fee_asset, D(fee) if fee is not None else None)


def match(rows, method="fifo", prices=None):
    prices = prices or PriceBook()
    return lots_match(lot_events_from_entries(rows, prices), method=method)


def test_quote_fee_is_added_to_cost_and_deducted_from_proceeds():
    rows = [trade(at(0), "BTC", "0.1", "-5000", fee="5", fee_asset="USD"),
            trade(at(1), "BTC", "-0.1", "6000", fee="6", fee_asset="USD")]
    result = match(rows)
    [d] = result.disposals
    assert d.cost_basis == D("5005")
    assert d.proceeds == D("6000") and d.fees == D("6")
    assert d.gain == D("989")
    assert not result.open_lots


def test_base_fee_on_buy_reduces_quantity_acquired():
    rows = [trade(at(0), "BTC", "0.1", "-5000", fee="0.001", fee_asset="BTC")]
    result = match(rows)
    [lot] = result.open_lots["BTC"]
    assert lot.quantity == D("0.099")
    assert lot.cost == D("5000")


def test_base_fee_on_sell_gives_up_extra_quantity_at_no_extra_proceeds():
    rows = [trade(at(0), "BTC", "1", "-50000"),
            trade(at(1), "BTC", "-0.5", "30000", fee="0.01", fee_asset="BTC")]
    result = match(rows)
    [d] = result.disposals
    assert d.quantity == D("0.51")
    assert d.cost_basis == D("25500")
    assert d.proceeds == D("30000") and d.fees == 0
    assert result.open_lots["BTC"][0].quantity == D("0.49")


def test_third_asset_fee_is_its_own_disposal_and_a_cost_of_the_trade():
    prices = PriceBook()
    rows = [trade(at(0), "BNB", "2", "-600"),  # 300 USD each
            trade(at(1), "BTC", "0.1", "-5000", fee="0.01", fee_asset="BNB")]
    prices.add("BNB", at(1), D("400"))
    result = match(rows, prices=prices)
    [fee_disposal] = result.disposals
    assert fee_disposal.purpose == FEE_PAYMENT
    assert fee_disposal.asset == "BNB" and fee_disposal.quantity == D("0.01")
    assert fee_disposal.proceeds == D("4.00") and fee_disposal.cost_basis == D("3")
    assert result.open_lots["BTC"][0].cost == D("5004.00")  # the fee's USD value is a cost of the buy
    assert result.open_lots["BNB"][0].quantity == D("1.99")


def test_partial_close_keeps_original_acquisition_time():
    rows = [trade(at(0), "ETH", "2", "-4000"), trade(at(10), "ETH", "-0.5", "1200"),
            trade(at(20), "ETH", "-0.5", "1300")]
    result = match(rows)
    assert [d.acquired_at for d in result.disposals] == [at(0), at(0)]
    assert [d.cost_basis for d in result.disposals] == [D("1000"), D("1000")]
    [lot] = result.open_lots["ETH"]
    assert lot.quantity == D("1") and lot.acquired_at == at(0) and lot.cost == D("2000")


@pytest.mark.parametrize(("method", "expected_cost", "expected_acquired"), [
    ("fifo", D("100"), at(0)),  # oldest lot first
    ("lifo", D("150"), at(2)),  # newest lot first
    ("hifo", D("300"), at(1)),  # highest unit cost first
])
def test_lot_selection_methods(method, expected_cost, expected_acquired):
    rows = [trade(at(0), "SOL", "1", "-100"), trade(at(1), "SOL", "1", "-300"), trade(at(2), "SOL", "1", "-150"),
            trade(at(3), "SOL", "-1", "200")]
    [d] = match(rows, method=method).disposals
    assert d.cost_basis == expected_cost
    assert d.acquired_at == expected_acquired
    assert d.gain == D("200") - expected_cost


def test_sale_across_lots_splits_proceeds_exactly():
    rows = [trade(at(0), "BTC", "0.3", "-3000"), trade(at(1), "BTC", "0.3", "-3300"),
            trade(at(2), "BTC", "-0.45", "4999.99", fee="3.33", fee_asset="USD")]
    disposals = match(rows).disposals
    assert [d.quantity for d in disposals] == [D("0.3"), D("0.15")]
    assert sum(d.proceeds for d in disposals) == D("4999.99")
    assert sum(d.fees for d in disposals) == D("3.33")


def test_sale_without_known_acquisition_is_flagged_with_zero_basis():
    rows = [trade(at(0), "BTC", "0.1", "-5000"), trade(at(1), "BTC", "-0.3", "18000")]
    disposals = match(rows).disposals
    assert len(disposals) == 2
    missing = disposals[1]
    assert missing.flag == FLAG_MISSING and missing.acquired_at is None
    assert missing.quantity == D("0.2") and missing.cost_basis == 0
    assert missing.proceeds == D("12000")
    [round_trip] = closed_trades(disposals)
    assert round_trip["flagged"] is True


def test_withdrawal_removes_lots_without_realizing():
    rows = [trade(at(0), "BTC", "1", "-10000"),
            EntryRow(next(_ids), at(1), "withdrawal", "paper", "BTC", D("-0.4"), "", None, "", "", None),
            trade(at(2), "BTC", "-0.6", "9000")]
    result = match(rows)
    [d] = result.disposals
    assert d.quantity == D("0.6") and d.cost_basis == D("6000")
    assert result.removed_basis == D("4000")


def test_round_trip_duration_is_quantity_weighted():
    rows = [trade(at(0), "ETH", "1", "-1000"), trade(at(2), "ETH", "3", "-3000"), trade(at(4), "ETH", "-4", "4400")]
    [t] = closed_trades(match(rows).disposals)
    # 1 unit held 4 days, 3 units held 2 days -> (4 + 6) / 4 = 2.5 days
    assert t["duration_seconds"] == D(2.5 * 86400)
    assert t["pnl"] == D("400")


def test_coin_deposited_without_a_known_price_is_flagged_when_sold():
    rows = [EntryRow(next(_ids), at(0), "deposit", "paper", "DOGE", D("100"), "", None, "", "", None),
            trade(at(1), "DOGE", "-100", "12")]
    [d] = match(rows).disposals
    assert d.cost_basis == 0 and d.flag == "unpriced_acquisition" and d.acquired_at == at(0)


def test_coin_deposit_takes_its_basis_from_the_price_history():
    prices = PriceBook()
    prices.add("ETH", at(0), D("2000"))
    rows = [EntryRow(next(_ids), at(0, 1), "deposit", "paper", "ETH", D("2"), "", None, "", "", None),
            trade(at(1), "ETH", "-1", "2500")]
    [d] = match(rows, prices=prices).disposals
    assert d.cost_basis == D("2000") and d.flag == "" and d.gain == D("500")
