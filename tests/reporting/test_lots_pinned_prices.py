"""Pins the mutation re-run after the issue 10 fixes found unguarded in reporting/lots.py: the price book
remembering which prices it answered with (and their sources), the assets whose open lots are unpriced,
a buy's cost with its fee kept exact past 28 digits, and the flags of an unpriced sale of an unpriced lot.
Every expected value is worked out by hand in the comment next to it."""

from decimal import Decimal as D

from reporting.lots import (
    ACQUIRE,
    DISPOSE,
    FLAG_UNPRICED,
    FLAG_UNPRICED_ACQUISITION,
    TRADE_PRICE,
    UNPRICED_ACQUISITION,
    UNPRICED_TRADE,
    MatchResult,
    OpenLot,
    PriceBook,
    lots_match,
    trade_prices_add,
)
from tests.reporting.test_lots_pinned import at, trade


def test_the_price_book_lists_each_price_it_answered_with_once_by_asset_then_time():
    book = PriceBook()
    book.add("ETH", at(0), D("3000"), "venue")
    book.add("BTC", at(1), D("50000"), "manual")
    book.add("BTC", at(2), D("40000"), "venue")  # cheaper later: a sort by price would put it first
    book.add("BTC", at(3), D("45000"), "demo")  # never asked for
    assert book.at("BTC", at(2, 5)) == D("40000")  # asked before recording: not listed
    book.record_used()
    assert book.used() == []
    assert book.at("BTC", at(2, 5)) == D("40000")
    assert book.at("BTC", at(1, 1)) == D("50000")
    assert book.at("BTC", at(1, 2)) == D("50000")  # the same point again: listed once
    assert book.at("ETH", at(0, 1)) == D("3000")  # ETH's point is older than BTC's: still listed after BTC
    assert book.at("BTC", at(0)) is None  # before BTC's first point: nothing used
    assert book.at("USD", at(9)) == 1  # the dollar needs no price
    assert book.used() == [("BTC", at(1), D("50000"), "manual"), ("BTC", at(2), D("40000"), "venue"),
                           ("ETH", at(0), D("3000"), "venue")]


def test_a_price_book_that_records_nothing_lists_nothing():
    book = PriceBook()
    book.add("BTC", at(0), D("50000"))
    assert book.at("BTC", at(1)) == D("50000")
    assert book.used() == []


def test_own_trades_against_cash_are_priced_with_the_trade_source():
    book = PriceBook()
    trade_prices_add([trade(at(1), "BTC", "0.5", "-20000")], book)  # 20,000 / 0.5 = 40,000
    book.record_used()
    assert book.at("BTC", at(2)) == D("40000")
    assert book.used() == [("BTC", at(1), D("40000"), TRADE_PRICE)] and TRADE_PRICE == "trade"


def test_unpriced_assets_are_those_with_an_open_lot_of_unknown_cost():
    result = MatchResult(method="fifo", open_lots={
        "SOL": [OpenLot("SOL", D("1"), D("100"), at(0), 1), OpenLot("SOL", D("2"), D("0"), at(1), 2, FLAG_UNPRICED)],
        "BTC": [OpenLot("BTC", D("1"), D("50000"), at(0), 3)],
    })
    assert result.unpriced_assets() == {"SOL"}


def test_a_buys_cost_with_its_fee_is_exact_past_28_digits():
    # 1234567890123456789.123456789012 + 0.000000000001 has 31 significant digits: the default 28-digit
    # context would round the sum; the lot's cost must be the exact sum.
    usd, fee = D("1234567890123456789.123456789012"), D("0.000000000001")
    events = [(ACQUIRE, at(0), "BTC", D("1"), usd, fee, 1, "trade"),
              (DISPOSE, at(1), "BTC", D("1"), D("0"), D("0"), 2, "trade")]
    for method in ("fifo", "lifo", "hifo"):
        (sale,) = lots_match(events, method=method).disposals
        assert sale.cost_basis == D("1234567890123456789.123456789013"), method


def test_an_unpriced_sale_of_an_unpriced_lot_names_each_flag_once():
    events = [(ACQUIRE, at(0), "SOL", D("1"), D("0"), D("0"), 1, UNPRICED_ACQUISITION),
              (ACQUIRE, at(1), "SOL", D("1"), D("0"), D("0"), 2, UNPRICED_TRADE),
              (DISPOSE, at(2), "SOL", D("2"), D("0"), D("0"), 3, UNPRICED_TRADE)]
    first, second = lots_match(events, method="fifo").disposals
    # The deposit's lot: the sale is unpriced and so was the acquisition; the trade's lot: unpriced once.
    assert first.flag == f"{FLAG_UNPRICED};{FLAG_UNPRICED_ACQUISITION}"
    assert second.flag == FLAG_UNPRICED
