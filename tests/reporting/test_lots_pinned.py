"""Lot matching behaviours the first suite left open (issue 16): non-cash quotes, fractional deposits,
transfers, HIFO with lots of different sizes, how a sale's proceeds and fee split across lots, round-trip
P&L net of fees, zero-basis open positions and price history given out of order. Every expected value
is worked out by hand in the comment next to it."""

import dataclasses
import datetime as dt
import gc
from decimal import Decimal as D

import pytest

from reporting import lots as lots_module
from reporting.lots import (
    ACQUIRE,
    DISPOSE,
    FEE_PAYMENT,
    FLAG_UNPRICED,
    FLAG_UNPRICED_ACQUISITION,
    REMOVE,
    TRADE,
    EntryRow,
    PriceBook,
    closed_trades,
    fee_value_usd,
    lot_events_from_entries,
    lots_match,
    trade_prices_add,
    trade_value_usd,
)

T0 = dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC)
_ids = iter(range(1, 100_000))


def at(days: int, hours: int = 0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, hours=hours)


def trade(when, asset, amount, counter, counter_asset="USD", fee=None, fee_asset=""):
    amount, counter = D(amount), D(counter)
    return EntryRow(next(_ids), when, "trade", "paper", asset, amount, counter_asset, counter,
                    "buy" if amount > 0 else "sell", fee_asset, D(fee) if fee is not None else None)


def entry(when, kind, asset, amount, venue="paper"):
    return EntryRow(next(_ids), when, kind, venue, asset, D(amount), "", None, "", "", None)


def match(rows, method="fifo", prices=None):
    prices = prices or PriceBook()
    return lots_match(lot_events_from_entries(rows, prices), method=method)


# --- trades against a non-cash quote asset -----------------------------------------------------
def btc_prices() -> PriceBook:
    prices = PriceBook()
    prices.add("BTC", at(0), D("20000"))
    prices.add("BTC", at(1), D("30000"))
    prices.add("BTC", at(2), D("40000"))
    return prices


def test_buying_eth_with_btc_disposes_of_the_btc_at_market_value():
    # 1 BTC bought for 20,000 USD; then 10 ETH bought for 0.5 BTC when BTC is 30,000:
    # the 0.5 BTC leave at 15,000 USD against a basis of 10,000, and the ETH cost 15,000.
    rows = [trade(at(0), "BTC", "1", "-20000"), trade(at(1), "ETH", "10", "-0.5", counter_asset="BTC")]
    result = match(rows, prices=btc_prices())
    [btc_out] = result.disposals
    assert (btc_out.asset, btc_out.quantity, btc_out.purpose) == ("BTC", D("0.5"), TRADE)
    assert (btc_out.proceeds, btc_out.cost_basis, btc_out.gain) == (D("15000"), D("10000"), D("5000"))
    assert btc_out.acquired_at == at(0) and btc_out.disposed_at == at(1)
    [eth] = result.open_lots["ETH"]
    assert (eth.quantity, eth.cost, eth.acquired_at) == (D("10"), D("15000"), at(1))
    [btc_left] = result.open_lots["BTC"]
    assert (btc_left.quantity, btc_left.cost) == (D("0.5"), D("10000"))


def test_selling_eth_for_btc_acquires_btc_at_the_trade_value():
    # ETH bought at 1,500 USD each; 4 ETH sold for 0.3 BTC when BTC is 40,000: proceeds 12,000 USD,
    # basis 6,000, and the 0.3 BTC start a new lot costing 12,000.
    rows = [trade(at(0), "ETH", "10", "-15000"), trade(at(2), "ETH", "-4", "0.3", counter_asset="BTC")]
    result = match(rows, prices=btc_prices())
    [eth_out] = result.disposals
    assert (eth_out.asset, eth_out.quantity) == ("ETH", D("4"))
    assert (eth_out.proceeds, eth_out.cost_basis, eth_out.gain) == (D("12000"), D("6000"), D("6000"))
    [btc_in] = result.open_lots["BTC"]
    assert (btc_in.quantity, btc_in.cost, btc_in.acquired_at) == (D("0.3"), D("12000"), at(2))
    assert result.open_lots["ETH"][0].quantity == D("6")


def test_non_cash_quote_trade_value_falls_back_to_the_base_price():
    # No BTC price known, but ETH has one (1,600): 10 ETH are worth 16,000 USD.
    prices = PriceBook()
    prices.add("ETH", at(0), D("1600"))
    row = trade(at(1), "ETH", "10", "-0.5", counter_asset="BTC")
    assert trade_value_usd(row, prices) == D("16000")
    assert trade_value_usd(row, PriceBook()) is None


def test_unpriced_non_cash_trade_is_flagged_not_valued_at_zero_silently():
    rows = [trade(at(0), "ETH", "10", "-15000"), trade(at(2), "ETH", "-4", "0.3", counter_asset="XYZ")]
    [d] = match(rows).disposals
    assert d.flag == FLAG_UNPRICED and d.proceeds == 0 and d.cost_basis == D("6000")


def test_fee_in_the_non_cash_quote_asset_leaves_the_account_and_costs_the_buy():
    # 10 ETH for 0.5 BTC plus a 0.001 BTC fee, BTC at 30,000: the fee is 30 USD, its BTC a disposal
    # (basis 0.001 x 20,000 = 20); the ETH cost 15,000 + 30.
    rows = [trade(at(0), "BTC", "1", "-20000"),
            trade(at(1), "ETH", "10", "-0.5", counter_asset="BTC", fee="0.001", fee_asset="BTC")]
    result = match(rows, prices=btc_prices())
    fee_out, trade_out = result.disposals
    assert (fee_out.purpose, fee_out.quantity, fee_out.proceeds, fee_out.cost_basis) == (
        FEE_PAYMENT, D("0.001"), D("30.000"), D("20"))
    assert (trade_out.purpose, trade_out.quantity, trade_out.proceeds) == (TRADE, D("0.5"), D("15000"))
    assert result.open_lots["ETH"][0].cost == D("15030.000")
    assert result.open_lots["BTC"][0].quantity == D("0.499")


def test_base_fee_value_is_its_share_of_the_trade_value():
    # 0.02 of 4 ETH traded for 0.3 BTC at 40,000 (12,000 USD): 12,000 x 0.02 / 4 = 60 USD.
    row = trade(at(2), "ETH", "-4", "0.3", counter_asset="BTC", fee="0.02", fee_asset="ETH")
    assert fee_value_usd(row, btc_prices()) == D("60")


def test_third_asset_fee_on_a_sale_is_deducted_from_its_proceeds():
    # BNB at 300: a 0.1 BNB fee is 30 USD, a cost of the sale, and a disposal of the BNB itself.
    prices = PriceBook()
    prices.add("BNB", at(0), D("300"))
    rows = [trade(at(0), "BNB", "1", "-250"), trade(at(0), "SOL", "10", "-1000"),
            trade(at(1), "SOL", "-10", "1200", fee="0.1", fee_asset="BNB")]
    bnb_fee, sale = match(rows, prices=prices).disposals
    assert (bnb_fee.asset, bnb_fee.purpose, bnb_fee.proceeds, bnb_fee.cost_basis) == (
        "BNB", FEE_PAYMENT, D("30.0"), D("25.0"))
    assert (sale.proceeds, sale.cost_basis, sale.fees, sale.gain) == (D("1200"), D("1000"), D("30.0"), D("170.0"))


def test_trades_against_cash_record_the_unit_price():
    prices = PriceBook()
    trade_prices_add([trade(at(0), "SOL", "4", "-500"), trade(at(1), "SOL", "-2", "300"),
                      trade(at(2), "ETH", "1", "-0.05", counter_asset="BTC")], prices)
    assert prices.at("SOL", at(0)) == D("125")  # 500 / 4
    assert prices.at("SOL", at(1)) == D("150")  # 300 / 2
    assert prices.at("ETH", at(3)) is None  # not a cash trade: no price taken from it


# --- deposits, withdrawals, transfers -----------------------------------------------------------
def test_deposit_of_less_than_one_unit_opens_a_lot_at_market_value():
    # 0.5 ETH deposited when ETH is 2,000: basis 1,000; sold for 1,100 -> gain 100.
    prices = PriceBook()
    prices.add("ETH", at(0), D("2000"))
    rows = [entry(at(0, 1), "deposit", "ETH", "0.5"), trade(at(1), "ETH", "-0.5", "1100")]
    result = match(rows, prices=prices)
    [d] = result.disposals
    assert (d.quantity, d.cost_basis, d.gain, d.acquired_at) == (D("0.5"), D("1000.0"), D("100.0"), at(0, 1))


def test_buy_of_less_than_one_unit_opens_a_lot():
    [lot] = match([trade(at(0), "BTC", "0.25", "-7500")]).open_lots["BTC"]
    assert (lot.quantity, lot.cost) == (D("0.25"), D("7500"))


def test_transfers_between_venues_keep_the_lots_and_realize_nothing():
    # 1 BTC bought on one venue, moved to another (out then in), sold there: one disposal with the
    # original basis and acquisition time, nothing removed.
    rows = [trade(at(0), "BTC", "1", "-10000"), entry(at(1), "transfer", "BTC", "-1", venue="paper"),
            entry(at(1, 1), "transfer", "BTC", "1", venue="kraken"), trade(at(2), "BTC", "-1", "12000")]
    events = lot_events_from_entries(rows, PriceBook())
    assert [e[0] for e in events] == [ACQUIRE, DISPOSE]
    result = lots_match(events)
    [d] = result.disposals
    assert (d.cost_basis, d.acquired_at, d.gain) == (D("10000"), at(0), D("2000"))
    assert result.removed_basis == 0 and not result.open_lots


def test_partial_withdrawal_removes_basis_pro_rata_from_the_oldest_lot():
    # Lots 1 BTC @10,000 then 1 BTC @14,000; 1.5 BTC withdrawn (FIFO): 10,000 + half of 14,000 leave.
    rows = [trade(at(0), "BTC", "1", "-10000"), trade(at(1), "BTC", "1", "-14000"),
            entry(at(2), "withdrawal", "BTC", "-1.5")]
    result = match(rows)
    assert result.removed_basis == D("17000")
    assert result.disposals == []
    [lot] = result.open_lots["BTC"]
    assert (lot.quantity, lot.cost, lot.acquired_at) == (D("0.5"), D("7000"), at(1))


def test_withdrawal_beyond_known_lots_removes_what_exists_without_a_disposal():
    result = match([trade(at(0), "BTC", "1", "-10000"), entry(at(1), "withdrawal", "BTC", "-3")])
    assert result.removed_basis == D("10000") and result.disposals == [] and not result.open_lots


def test_negative_adjustment_removes_and_positive_adjustment_acquires():
    prices = PriceBook()
    prices.add("ETH", at(0), D("2000"))
    rows = [entry(at(0), "adjustment", "ETH", "2"), entry(at(1), "adjustment", "ETH", "-0.5")]
    events = lot_events_from_entries(rows, prices)
    assert [(e[0], e[3], e[4]) for e in events] == [(ACQUIRE, D("2"), D("4000")), (REMOVE, D("0.5"), 0)]
    result = lots_match(events)
    assert result.removed_basis == D("1000")
    assert result.open_lots["ETH"][0].cost == D("3000")


def test_fee_entry_in_a_coin_is_a_fee_disposal_at_market_value():
    # 0.01 ETH taken as a fee when ETH is 2,500: proceeds 25, basis 0.01 x 2,000 = 20.
    prices = PriceBook()
    prices.add("ETH", at(1), D("2500"))
    rows = [trade(at(0), "ETH", "1", "-2000"), entry(at(1, 1), "fee", "ETH", "-0.01")]
    [d] = match(rows, prices=prices).disposals
    assert (d.purpose, d.quantity, d.proceeds, d.cost_basis) == (FEE_PAYMENT, D("0.01"), D("25.00"), D("20.00"))
    assert closed_trades([d]) == []  # a fee payment is no round trip


def test_cash_deposits_and_withdrawals_make_no_lot_events():
    rows = [entry(at(0), "deposit", "USD", "1000"), entry(at(1), "withdrawal", "USDT", "-10"),
            entry(at(1), "fee", "USDC", "-1")]
    assert lot_events_from_entries(rows, PriceBook()) == []


# --- HIFO ---------------------------------------------------------------------------------------
def test_hifo_picks_the_highest_unit_cost_not_the_biggest_lot():
    # A: 1 SOL for 300 (300 each); B: 10 SOL for 2,000 (200 each, the bigger lot and total).
    rows = [trade(at(0), "SOL", "1", "-300"), trade(at(1), "SOL", "10", "-2000"), trade(at(2), "SOL", "-1", "250")]
    [d] = match(rows, method="hifo").disposals
    assert (d.cost_basis, d.acquired_at, d.gain) == (D("300"), at(0), D("-50"))


def test_hifo_partial_close_of_the_dearest_lot_then_the_next():
    # A: 2 SOL for 400 (200 each) at day 0; B: 1 SOL for 300 at day 1. Selling 2: all of B (300) and
    # 1 of A (200); left: 1 SOL of A costing 200.
    rows = [trade(at(0), "SOL", "2", "-400"), trade(at(1), "SOL", "1", "-300"), trade(at(2), "SOL", "-2", "500")]
    result = match(rows, method="hifo")
    assert [(d.quantity, d.cost_basis, d.acquired_at) for d in result.disposals] == [
        (D("1"), D("300"), at(1)), (D("1"), D("200"), at(0))]
    [lot] = result.open_lots["SOL"]
    assert (lot.quantity, lot.cost, lot.acquired_at) == (D("1"), D("200"), at(0))


def test_hifo_tie_goes_to_the_older_lot_whatever_its_size():
    # Both lots cost exactly 100 a unit; the older one is the bigger (2 units), the newer is 1 unit.
    rows = [trade(at(0), "SOL", "2", "-200"), trade(at(1), "SOL", "1", "-100"), trade(at(2), "SOL", "-1", "120")]
    result = match(rows, method="hifo")
    [d] = result.disposals
    assert d.acquired_at == at(0) and d.cost_basis == D("100")
    # Open lots come back in acquisition order.
    assert [(lot.acquired_at, lot.quantity) for lot in result.open_lots["SOL"]] == [(at(0), D("1")), (at(1), D("1"))]


def test_hifo_counts_the_buy_fee_in_the_unit_cost():
    # A: 1 SOL for 100 + 60 fee = 160 each; B: 1 SOL for 150, no fee. HIFO sells A first.
    rows = [trade(at(0), "SOL", "1", "-100", fee="60", fee_asset="USD"), trade(at(1), "SOL", "1", "-150"),
            trade(at(2), "SOL", "-1", "155")]
    [d] = match(rows, method="hifo").disposals
    assert (d.acquired_at, d.cost_basis) == (at(0), D("160"))


def test_lifo_open_lots_keep_acquisition_order():
    rows = [trade(at(0), "SOL", "1", "-100"), trade(at(1), "SOL", "1", "-200"), trade(at(2), "SOL", "1", "-300"),
            trade(at(3), "SOL", "-1", "250")]
    result = match(rows, method="lifo")
    assert result.disposals[0].acquired_at == at(2)
    assert [lot.cost for lot in result.open_lots["SOL"]] == [D("100"), D("200")]


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="fifo, lifo, hifo"):
        lots_match([], method="average")


# --- how one sale splits across the lots it closes -------------------------------------------------
def test_sale_proceeds_and_fee_split_across_lots_by_quantity():
    # Lots of 1, 1 and 2 ETH; 4 ETH sold for 4,400 with a 10 USD fee: quantity shares 1/4, 1/4, 2/4.
    rows = [trade(at(0), "ETH", "1", "-900"), trade(at(1), "ETH", "1", "-1000"), trade(at(2), "ETH", "2", "-2200"),
            trade(at(3), "ETH", "-4", "4400", fee="10", fee_asset="USD")]
    disposals = match(rows).disposals
    assert [(d.quantity, d.proceeds, d.fees, d.cost_basis) for d in disposals] == [
        (D("1"), D("1100"), D("2.5"), D("900")),
        (D("1"), D("1100"), D("2.5"), D("1000")),
        (D("2"), D("2200"), D("5.0"), D("2200")),
    ]
    assert [d.gain for d in disposals] == [D("197.5"), D("97.5"), D("-5.0")]
    assert {d.ref for d in disposals} == {rows[-1].id}


def test_sale_split_fee_partial_lot_and_remaining_lot():
    # Lots 1 and 3 ETH; 2 ETH sold for 2,400 with an 8 USD fee: 1 from the first lot (half), 1 of the second.
    rows = [trade(at(0), "ETH", "1", "-1000"), trade(at(1), "ETH", "3", "-3300"),
            trade(at(2), "ETH", "-2", "2400", fee="8", fee_asset="USD")]
    result = match(rows)
    assert [(d.quantity, d.proceeds, d.fees, d.cost_basis) for d in result.disposals] == [
        (D("1"), D("1200"), D("4"), D("1000")), (D("1"), D("1200"), D("4"), D("1100"))]
    [lot] = result.open_lots["ETH"]
    assert (lot.quantity, lot.cost) == (D("2"), D("2200"))


def test_sale_beyond_lots_gives_the_unmatched_part_its_share_of_proceeds_and_fee():
    # 1 ETH known, 4 sold for 4,000 with an 8 USD fee: the matched quarter gets 1,000 and 2; the rest
    # (3 ETH, no known lot) 3,000 and 6, so the parts add up to the sale.
    rows = [trade(at(0), "ETH", "1", "-800"), trade(at(1), "ETH", "-4", "4000", fee="8", fee_asset="USD")]
    matched, missing = match(rows).disposals
    assert (matched.proceeds, matched.fees, matched.cost_basis) == (D("1000"), D("2"), D("800"))
    assert (missing.quantity, missing.proceeds, missing.fees, missing.cost_basis) == (D("3"), D("3000"), D("6"), 0)


# --- round trips ---------------------------------------------------------------------------------
def test_round_trip_pnl_subtracts_both_fees():
    # Bought 1 ETH for 1,000 + 2 fee (cost 1,002); sold for 1,100 with a 3 fee: 1,100 - 1,002 - 3 = 95.
    rows = [trade(at(0), "ETH", "1", "-1000", fee="2", fee_asset="USD"),
            trade(at(2), "ETH", "-1", "1100", fee="3", fee_asset="USD")]
    disposals = match(rows).disposals
    assert disposals[0].gain == D("95")
    [t] = closed_trades(disposals)
    assert {k: t[k] for k in ("asset", "quantity", "proceeds", "cost", "fees", "pnl", "flagged")} == {
        "asset": "ETH", "quantity": D("1"), "proceeds": D("1100"), "cost": D("1002"), "fees": D("3"),
        "pnl": D("95"), "flagged": False}
    assert (t["opened_at"], t["closed_at"], t["ref"]) == (at(0), at(2), rows[1].id)
    assert t["duration_seconds"] == D(2 * 86400)


def test_round_trip_groups_one_sale_over_several_lots_and_opens_at_the_oldest():
    # Lots at day 2 (LIFO takes it first) and day 0; one sale at day 4 closing both.
    rows = [trade(at(0), "ETH", "1", "-1000"), trade(at(2), "ETH", "1", "-1200"),
            trade(at(4), "ETH", "-2", "2600", fee="4", fee_asset="USD")]
    [t] = closed_trades(match(rows, method="lifo").disposals)
    assert (t["quantity"], t["cost"], t["fees"], t["pnl"]) == (D("2"), D("2200"), D("4"), D("396"))
    assert t["opened_at"] == at(0)
    assert t["duration_seconds"] == D(3 * 86400)  # (2 days + 4 days) / 2


def test_round_trips_come_back_in_closing_order():
    rows = [trade(at(0), "ETH", "2", "-2000"), trade(at(0), "SOL", "1", "-100"),
            trade(at(3), "ETH", "-1", "1500"), trade(at(1), "SOL", "-1", "90")]
    trips = closed_trades(match(rows).disposals)
    assert [(t["asset"], t["pnl"]) for t in trips] == [("SOL", D("-10")), ("ETH", D("500"))]


def test_round_trip_of_unknown_acquisition_has_no_duration():
    [t] = closed_trades(match([trade(at(1), "ETH", "-1", "1000")]).disposals)
    assert t["flagged"] is True and t["duration_seconds"] is None and t["opened_at"] is None
    assert t["pnl"] == D("1000")


# --- open positions ------------------------------------------------------------------------------
def test_zero_basis_lot_counts_in_open_positions():
    # 100 DOGE deposited with no known price: held at zero basis, flagged on the lot.
    rows = [entry(at(0), "deposit", "DOGE", "100"), trade(at(1), "ETH", "0.5", "-1000"),
            trade(at(2), "DOGE", "-40", "4")]
    result = match(rows)
    assert result.positions() == {"DOGE": (D("60"), D("0"), at(0)), "ETH": (D("0.5"), D("1000"), at(1))}
    [d] = result.disposals
    assert d.flag == FLAG_UNPRICED_ACQUISITION and d.gain == D("4")


def test_positions_sum_lots_and_date_from_the_oldest():
    rows = [trade(at(1), "BTC", "0.5", "-10000"), trade(at(3), "BTC", "0.25", "-6000")]
    assert match(rows).positions() == {"BTC": (D("0.75"), D("16000"), at(1))}


def test_closed_asset_leaves_no_position():
    rows = [trade(at(0), "BTC", "1", "-10000"), trade(at(1), "BTC", "-1", "11000")]
    result = match(rows, method="hifo")
    assert result.positions() == {} and result.open_lots == {}


# --- price history ---------------------------------------------------------------------------------
def test_price_history_added_out_of_order_is_read_in_time_order():
    prices = PriceBook()
    prices.add("ETH", at(2), D("30"))
    prices.add("ETH", at(0), D("10"))
    prices.add("ETH", at(1), D("20"))
    assert prices.at("ETH", at(0, -1)) is None  # before the first price
    assert prices.at("ETH", at(0)) == D("10")  # a price counts from its own moment
    assert prices.at("ETH", at(1, 5)) == D("20")
    assert prices.at("ETH", at(9)) == D("30")
    assert prices.latest("ETH") == (D("30"), at(2))


def test_prices_added_after_a_read_merge_with_the_earlier_ones():
    prices = PriceBook()
    prices.add("ETH", at(0), D("10"))
    prices.add("ETH", at(4), D("50"))
    assert prices.at("ETH", at(2)) == D("10")
    prices.add("ETH", at(2), D("30"))  # an older price arriving late
    assert prices.at("ETH", at(3)) == D("30")
    assert prices.at("ETH", at(1)) == D("10")
    assert prices.latest("ETH") == (D("50"), at(4))


def test_cash_is_always_worth_one_and_unknown_assets_have_no_price():
    prices = PriceBook()
    assert prices.at("USDT", at(0)) == 1 and prices.latest("USD")[0] == 1
    assert prices.at("XYZ", at(0)) is None and prices.latest("XYZ") is None


# --- edges found by the mutation run ---------------------------------------------------------------
def test_matching_leaves_the_garbage_collector_as_it_found_it():
    assert gc.isenabled()
    match([trade(at(0), "BTC", "1", "-100")])
    assert gc.isenabled()
    gc.disable()
    try:
        match([trade(at(0), "BTC", "1", "-100")])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_buy_whose_base_fee_takes_the_whole_amount_opens_no_lot():
    # 1 SOL bought for 100 with a 1 SOL fee: nothing acquired (and HIFO never divides by a zero quantity).
    rows = [trade(at(0), "SOL", "1", "-100", fee="1", fee_asset="SOL")]
    for method in ("fifo", "hifo"):
        assert match(rows, method=method).open_lots == {}


def test_an_unpriced_sale_is_a_flagged_round_trip():
    rows = [trade(at(0), "ETH", "10", "-15000"), trade(at(2), "ETH", "-4", "0.3", counter_asset="XYZ")]
    disposals = match(rows).disposals
    assert disposals[0].purpose == TRADE
    [t] = closed_trades(disposals)
    assert (t["quantity"], t["proceeds"], t["cost"]) == (D("4"), 0, D("6000"))


def test_a_lot_closed_exactly_leaves_nothing_behind_for_the_next_sale():
    rows = [trade(at(0), "ETH", "1", "-1000"), trade(at(1), "ETH", "1", "-1200"),
            trade(at(2), "ETH", "-1", "1300"), trade(at(3), "ETH", "-1", "1400")]
    result = match(rows)
    assert [(d.quantity, d.cost_basis, d.proceeds) for d in result.disposals] == [
        (D("1"), D("1000"), D("1300")), (D("1"), D("1200"), D("1400"))]


def test_the_last_portion_of_a_sale_takes_the_remainder_so_thirds_add_up():
    # 1,000 over three equal lots: 333.33... twice, then what is left, so the parts sum to exactly 1,000.
    rows = [trade(at(0), "ETH", "1", "-300"), trade(at(1), "ETH", "1", "-300"), trade(at(2), "ETH", "1", "-300"),
            trade(at(3), "ETH", "-3", "1000", fee="1", fee_asset="USD")]
    disposals = match(rows).disposals
    assert sum(d.proceeds for d in disposals) == D("1000") and sum(d.fees for d in disposals) == D("1")
    assert disposals[2].proceeds == D("1000") - 2 * disposals[0].proceeds


def test_hifo_open_lots_are_returned_in_acquisition_order_with_their_refs():
    # Ledger ids do not follow time here (id 50 is older than id 10): the order is by acquisition time.
    older = EntryRow(50, at(0), "trade", "paper", "SOL", D("2"), "USD", D("-200"), "buy", "", None)
    newer = EntryRow(10, at(1), "trade", "paper", "SOL", D("1"), "USD", D("-300"), "buy", "", None)
    result = match([older, newer], method="hifo")
    assert [(lot.acquired_at, lot.quantity, lot.ref) for lot in result.open_lots["SOL"]] == [
        (at(0), D("2"), 50), (at(1), D("1"), 10)]


def test_two_prices_at_the_same_moment_the_later_added_wins():
    prices = PriceBook()
    prices.add("ETH", at(0), D("30"))
    prices.add("ETH", at(0), D("20"))
    assert prices.at("ETH", at(0)) == D("20")


def test_latest_price_reads_prices_not_yet_settled():
    prices = PriceBook()
    prices.add("ETH", at(1), D("20"))
    prices.add("ETH", at(0), D("10"))
    assert prices.latest("ETH") == (D("20"), at(1))
    when = prices.latest("USDC")[1]
    assert when == dt.datetime.max.replace(tzinfo=dt.UTC) and when.tzinfo is not None


def test_entry_row_fields_name_every_field_of_the_row_in_order():
    # read through the module: the selectors that build rows from values_list use this tuple
    assert tuple(f.name for f in dataclasses.fields(EntryRow)) == lots_module.ENTRY_ROW_FIELDS


def test_sale_against_a_non_cash_quote_valued_from_the_base_price_is_positive():
    prices = PriceBook()
    prices.add("ETH", at(0), D("1600"))
    assert trade_value_usd(trade(at(1), "ETH", "-10", "0.5", counter_asset="BTC"), prices) == D("16000")


def test_no_fee_is_worth_zero_not_unknown():
    assert fee_value_usd(trade(at(0), "ETH", "1", "-100"), PriceBook()) == 0
    assert fee_value_usd(trade(at(0), "ETH", "1", "-100", fee="0", fee_asset="XYZ"), PriceBook()) == 0
