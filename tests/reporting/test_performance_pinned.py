"""Performance behaviours the first suite left open (issue 16): periods that start after inception (unit
NAV at the start is not 1), trade statistics with losses, the period's trade filter, ROI, fees and volume,
exposure, the drawdown curve and CAGR from a starting NAV other than 1. Expected values are worked out by
hand in the comments (floats compared with pytest.approx, money exactly)."""

import datetime as dt
import math
from decimal import Decimal as D

import pytest

from reporting.lots import EntryRow, PriceBook
from reporting.performance import (
    cagr,
    calmar_ratio,
    daily_rf,
    day_end,
    drawdown_curve,
    max_drawdown,
    nav_series,
    period_metrics,
    sharpe_ratio,
    sortino_ratio,
    trade_statistics,
)

DAY0 = dt.date(2026, 1, 1)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def when(n: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day(n), dt.time(hour), tzinfo=dt.UTC)


def row(n, t, kind, asset, amount, counter_asset="", counter=None, fee_asset="", fee=None):
    side = "" if kind != "trade" else ("buy" if D(amount) > 0 else "sell")
    return EntryRow(n, t, kind, "paper", asset, D(amount), counter_asset, D(counter) if counter else None, side,
                    fee_asset, D(fee) if fee else None)


def half_invested(btc_prices: dict[int, str], last_day: int):
    """1,000 USD deposited on day 0, 5 BTC bought at 100 (half the money), then BTC priced per day."""
    prices = PriceBook()
    for n, price in btc_prices.items():
        prices.add("BTC", when(n, 0), D(price))
    rows = [row(1, when(0, 1), "deposit", "USD", "1000"), row(2, when(0, 2), "trade", "BTC", "5", "USD", "-500")]
    return nav_series(rows, prices, end_day=day(last_day))


def series():
    """BTC 100, 110, 121, 133.1: NAV 1,000, 1,050, 1,105, 1,165.5 on 1,000 units. Built inside each test
    (not at import) so the code under test runs in the test."""
    return half_invested({0: "100", 1: "110", 2: "121", 3: "133.1"}, 3)


def test_series_holds_cash_and_invested_apart():
    assert [(d.cash, d.invested, d.nav, d.unit_nav) for d in series()] == [
        (D("500"), D("500"), D("1000"), D("1")), (D("500"), D("550"), D("1050"), D("1.05")),
        (D("500"), D("605"), D("1105"), D("1.105")), (D("500"), D("665.5"), D("1165.5"), D("1.1655"))]
    days = series()
    assert days[0].holdings == {"USD": D("500"), "BTC": D("5")}
    assert days[0].deposits == D("1000") and days[0].net_flow == D("1000") and days[1].net_flow == 0


def test_period_after_inception_measures_from_the_unit_nav_before_it():
    # Days 2..3: the base is day 1 (NAV 1,050, unit NAV 1.05). TWR = 1.1655 / 1.05 - 1 = 0.11.
    m = period_metrics(series(), start=day(2), end=day(3), trades=[])
    assert (m["nav_start"], m["nav_end"], m["unit_nav_start"], m["unit_nav_end"]) == (
        D("1050"), D("1165.5"), D("1.05"), D("1.1655"))
    assert m["twr"] == D("0.11") and m["total_pnl_pct"] == D("0.11")
    assert m["days"] == 2 and m["net_flows"] == 0 and m["deposits"] == 0
    # returns 1.105/1.05 - 1 and 1.1655/1.105 - 1
    assert m["daily_returns"] == pytest.approx([1.105 / 1.05 - 1, 1.1655 / 1.105 - 1], rel=1e-12)


def test_period_pnl_roi_and_daily_pnl_after_inception():
    # P&L 1,165.5 - 1,050 = 115.5 on 1,050 invested: ROI 0.11; days 55 and 60.5.
    m = period_metrics(series(), start=day(2), end=day(3), trades=[])
    assert m["total_pnl"] == D("115.5")
    assert m["roi"] == D("0.11")
    assert m["daily_pnl"] == [{"day": day(2), "pnl": D("55")}, {"day": day(3), "pnl": D("60.5")}]
    assert m["best_day"] == {"day": day(3), "pnl": D("60.5")}
    assert m["worst_day"] == {"day": day(2), "pnl": D("55")}
    assert m["avg_daily_pnl"] == D("57.75")


def test_period_from_inception_counts_the_deposit_as_capital_not_profit():
    m = period_metrics(series(), start=day(0), end=day(3), trades=[])
    assert (m["nav_start"], m["unit_nav_start"], m["deposits"], m["net_flows"]) == (0, 1, D("1000"), D("1000"))
    assert m["total_pnl"] == D("165.5") and m["roi"] == D("0.1655") and m["twr"] == D("0.1655")
    assert m["daily_pnl"][0] == {"day": day(0), "pnl": D("0")}


def test_roi_counts_deposits_made_inside_the_period():
    # A further 500 USD on day 2: invested capital 1,050 + 500; NAV end 1,665.5; P&L 1,665.5 - 1,050 - 500.
    prices = PriceBook()
    for n, price in {0: "100", 1: "110", 2: "121", 3: "133.1"}.items():
        prices.add("BTC", when(n, 0), D(price))
    rows = [row(1, when(0, 1), "deposit", "USD", "1000"), row(2, when(0, 2), "trade", "BTC", "5", "USD", "-500"),
            row(3, when(2, 6), "deposit", "USD", "500")]
    m = period_metrics(nav_series(rows, prices, end_day=day(3)), start=day(2), end=day(3), trades=[])
    assert (m["nav_end"], m["deposits"], m["total_pnl"]) == (D("1665.5"), D("500"), D("115.5"))
    assert m["roi"] == D("115.5") / D("1550")
    # The deposit bought units at 1.105 (NAV 1,105 on 1,000 units) and day 3 earned 1,665.5 / 1,605 - 1 on the
    # bigger, more cash-heavy book: TWR chains the day returns.
    assert float(m["twr"]) == pytest.approx((1.105 / 1.05) * (1665.5 / 1605) - 1, rel=1e-12)
    assert m["unit_nav_end"] * (1000 + D("500") / D("1.105")) == pytest.approx(D("1665.5"), rel=D("1e-20"))


def test_withdrawal_in_the_period_is_a_flow_but_not_a_deposit():
    prices = PriceBook()
    for n, price in {0: "100", 1: "110", 2: "121"}.items():
        prices.add("BTC", when(n, 0), D(price))
    rows = [row(1, when(0, 1), "deposit", "USD", "1000"), row(2, when(0, 2), "trade", "BTC", "5", "USD", "-500"),
            row(3, when(2, 6), "withdrawal", "USD", "-105")]
    m = period_metrics(nav_series(rows, prices, end_day=day(2)), start=day(2), end=day(2), trades=[])
    # NAV 1,105 - 105 = 1,000; P&L 1,000 - 1,050 + 105 = 55; ROI on 1,050 (withdrawals are not capital in)
    assert (m["net_flows"], m["deposits"], m["total_pnl"]) == (D("-105"), D("0"), D("55"))
    assert m["roi"] == D("55") / D("1050")


def test_exposure_is_the_invested_share_of_nav():
    m = period_metrics(series(), start=day(2), end=day(3), trades=[])
    assert m["exposure_end"] == D("665.5") / D("1165.5")
    assert m["exposure_avg"] == (D("605") / D("1105") + D("665.5") / D("1165.5")) / 2


def test_exposure_is_undefined_without_nav():
    m = period_metrics([], start=day(0), end=day(1), trades=[])
    assert m["exposure_avg"] is None and m["exposure_end"] is None and m["roi"] is None
    assert m["twr"] is None and m["days"] == 0 and m["avg_daily_pnl"] is None and m["best_day"] is None


def test_empty_ledger_gives_an_empty_series():
    assert nav_series([], PriceBook()) == []


# --- fees and volume -----------------------------------------------------------------------------
def test_fees_and_volume_from_trades_and_fee_entries():
    # Day 0: buy 5 BTC for 500 + 2 USD fee; a 1.5 USD fee entry; a 0.01 BNB fee entry with BNB at 300 (3 USD).
    # Day 1: sell 2 BTC for 240, fee 0.01 BTC (0.01 x 240/2 = 1.2 USD).
    prices = PriceBook()
    prices.add("BTC", when(0, 0), D("100"))
    prices.add("BTC", when(1, 0), D("120"))
    prices.add("BNB", when(0, 0), D("300"))
    rows = [row(1, when(0, 1), "deposit", "USD", "1000"), row(2, when(0, 2), "deposit", "BNB", "1"),
            row(3, when(0, 3), "trade", "BTC", "5", "USD", "-500", "USD", "2"),
            row(4, when(0, 4), "fee", "USD", "-1.5"), row(5, when(0, 5), "fee", "BNB", "-0.01"),
            row(6, when(1, 3), "trade", "BTC", "-2", "USD", "240", "BTC", "0.01")]
    series = nav_series(rows, prices, end_day=day(1))
    assert (series[0].fees, series[0].volume, series[0].trades) == (D("6.50"), D("500"), 1)
    assert (series[1].fees, series[1].volume, series[1].trades) == (D("1.2"), D("240"), 1)
    # the fee left the account: 1,000 - 500 - 2 - 1.5 = 496.5 USD, 0.99 BNB, then 4.99 - 2 BTC... exactly:
    assert series[0].holdings == {"USD": D("496.5"), "BNB": D("0.99"), "BTC": D("5")}
    assert series[1].holdings == {"USD": D("736.5"), "BNB": D("0.99"), "BTC": D("2.99")}
    m = period_metrics(series, start=day(0), end=day(1), trades=[])
    assert (m["total_fees"], m["volume"], m["trades_executed"]) == (D("7.70"), D("740"), 2)
    assert m["fees_fraction_of_volume"] == D("7.70") / D("740")


def test_fees_fraction_of_volume_undefined_without_volume():
    m = period_metrics(series()[1:], start=day(1), end=day(3), trades=[])
    assert m["volume"] == 0 and m["fees_fraction_of_volume"] is None


def test_volume_of_a_non_cash_quote_trade_is_valued_in_usd():
    # 2 ETH bought for 0.1 BTC with BTC at 30,000: 3,000 USD of volume.
    prices = PriceBook()
    prices.add("BTC", when(0, 0), D("30000"))
    prices.add("ETH", when(0, 0), D("1500"))
    rows = [row(1, when(0, 1), "deposit", "BTC", "1"), row(2, when(0, 2), "trade", "ETH", "2", "BTC", "-0.1")]
    [d] = nav_series(rows, prices)
    assert d.volume == D("3000.0") and d.nav == D("30000")  # 0.9 BTC + 2 ETH = 27,000 + 3,000


def test_deposit_of_an_unpriced_coin_is_reported_missing():
    rows = [row(1, when(0, 1), "deposit", "USD", "100"), row(2, when(0, 2), "deposit", "XYZ", "5")]
    [d] = nav_series(rows, PriceBook())
    assert d.missing_prices == ["XYZ"] and d.net_flow == D("100") and d.nav == D("100")


# --- drawdown, CAGR, ratios ------------------------------------------------------------------------
def test_drawdown_curve_follows_the_running_peak():
    # 1, 1.2, 0.9, 1.1, 1.3: peak 1.2 until day 4; 0.9/1.2 - 1 = -0.25, 1.1/1.2 - 1 = -1/12.
    assert drawdown_curve([1.0, 1.2, 0.9, 1.1, 1.3]) == pytest.approx([0.0, 0.0, -0.25, -1 / 12, 0.0], abs=1e-12)
    assert max_drawdown([1.0, 1.2, 0.9, 1.1, 1.3]) == pytest.approx(-0.25, abs=1e-12)


def test_drawdown_curve_from_a_first_value_above_one():
    assert drawdown_curve([2.0, 1.0, 1.5]) == pytest.approx([0.0, -0.5, -0.25], abs=1e-12)
    assert drawdown_curve([]) == []
    assert drawdown_curve([0.0, 1.0]) == [0.0, 0.0]  # no positive peak yet: no drawdown


def test_max_drawdown_starts_from_the_first_value_given():
    assert max_drawdown([2.0, 1.5, 3.0, 2.4]) == pytest.approx(-0.25, abs=1e-12)  # 1.5/2 and 2.4/3
    assert max_drawdown([1.0, 1.1, 1.2]) == 0.0
    assert max_drawdown([1.0]) is None


def test_period_drawdown_is_measured_on_unit_nav_from_the_base():
    # BTC 100, 120, 80, 100 on a half-invested book: unit NAV 1, 1.1, 0.9, 1.0; from day 1: 0.9/1.1 - 1.
    series = half_invested({0: "100", 1: "120", 2: "80", 3: "100"}, 3)
    m = period_metrics(series, start=day(2), end=day(3), trades=[])
    assert m["max_drawdown"] == pytest.approx(0.9 / 1.1 - 1, abs=1e-12)
    assert m["unit_nav_start"] == D("1.1")


def test_cagr_from_a_starting_nav_other_than_one():
    # (2.42 / 2) ^ (365 / 730) - 1 = 1.1 - 1
    assert cagr(2.0, 2.42, 730) == pytest.approx(0.1, rel=1e-12)
    assert cagr(1.5, 1.65, 365) == pytest.approx(0.1, rel=1e-12)
    assert cagr(1.0, 1.2, 364) is None
    assert cagr(0.0, 1.2, 400) is None and cagr(1.0, 0.0, 400) is None


def test_period_cagr_and_calmar_from_a_base_unit_nav_of_two():
    # Fully invested: 10 BTC at 100. BTC 200 on day 1 (unit NAV 2, the base), 210 on day 2 (the first day of
    # the period), 150 on day 100 (1.5), 242 on day 731 (2.42).
    prices = PriceBook()
    for n, price in {0: "100", 1: "200", 2: "210", 100: "150", 731: "242"}.items():
        prices.add("BTC", when(n, 0), D(price))
    rows = [row(1, when(0, 1), "deposit", "USD", "1000"), row(2, when(0, 2), "trade", "BTC", "10", "USD", "-1000")]
    series = nav_series(rows, prices, end_day=day(731))
    m = period_metrics(series, start=day(2), end=day(731), trades=[])
    assert m["days"] == 730 and m["unit_nav_start"] == D("2") and m["unit_nav_end"] == D("2.42")
    assert m["cagr"] == pytest.approx(0.1, rel=1e-9)  # (2.42/2)^(365/730) - 1
    assert m["max_drawdown"] == pytest.approx(1.5 / 2.1 - 1, rel=1e-12)  # from the 2.1 peak
    assert m["calmar"] == pytest.approx(0.1 / (1 - 1.5 / 2.1), rel=1e-9)


def test_calmar_undefined_without_drawdown_or_cagr():
    assert calmar_ratio(0.1, 0.0) is None and calmar_ratio(None, -0.2) is None and calmar_ratio(0.1, None) is None
    assert calmar_ratio(0.1, -0.2) == pytest.approx(0.5)


def test_sharpe_and_sortino_by_hand_with_a_risk_free_rate():
    # returns 0.01, -0.02, 0.03 with rf 3.65% a year; x = r - rf_d.
    returns = [0.01, -0.02, 0.03]
    rf_d = (1.0365) ** (1 / 365) - 1
    assert daily_rf(0.0365) == pytest.approx(rf_d, rel=1e-12)
    x = [r - rf_d for r in returns]
    mean = sum(x) / 3
    std = math.sqrt(sum((v - mean) ** 2 for v in x) / 2)
    downside = math.sqrt(sum(min(v, 0.0) ** 2 for v in x) / 3)
    assert sharpe_ratio(returns, rf_annual=0.0365) == pytest.approx(mean / std * math.sqrt(365), rel=1e-12)
    assert sortino_ratio(returns, rf_annual=0.0365) == pytest.approx(mean / downside * math.sqrt(365), rel=1e-12)
    assert sharpe_ratio([0.01]) is None and sortino_ratio([0.01]) is None


def test_day_end_is_the_last_microsecond_of_the_utc_day():
    assert day_end(day(0)) == dt.datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=dt.UTC)


# --- trade statistics ------------------------------------------------------------------------------
def closed(pnl, closed_at=None, quantity="1", duration=None, flagged=False):
    return {"pnl": D(pnl), "closed_at": closed_at or when(1), "quantity": D(quantity),
            "duration_seconds": D(duration) if duration is not None else None, "flagged": flagged}


def test_trade_statistics_with_wins_losses_and_a_breakeven():
    # wins 100, 50; losses -30, -20; one breakeven 0.
    trades = [closed("100", duration="3600", quantity="2"), closed("-30", duration="7200"), closed("50"),
              closed("-20", flagged=True), closed("0", duration="600", quantity="1")]
    s = trade_statistics(trades)
    assert (s["count"], s["wins"], s["losses"], s["breakeven"]) == (5, 2, 2, 1)
    assert s["win_rate"] == D("0.4")
    assert (s["largest_win"], s["largest_loss"]) == (D("100"), D("-30"))
    assert (s["gross_profit"], s["gross_loss"]) == (D("150"), D("-50"))
    assert s["profit_factor"] == D("3")  # 150 / 50, positive
    assert (s["avg_win"], s["avg_loss"]) == (D("75"), D("-25"))
    assert s["risk_reward"] == D("3")  # 75 / 25
    assert s["expectancy"] == D("20") and s["realized_pnl"] == D("100")
    # quantity-weighted duration over the timed trades: (2 x 3600 + 1 x 7200 + 1 x 600) / 4
    assert s["avg_duration_seconds"] == D("3750")
    assert s["flagged"] == 1


def test_trade_statistics_with_only_losses():
    s = trade_statistics([closed("-10"), closed("-40")])
    assert (s["wins"], s["losses"], s["win_rate"]) == (0, 2, D("0"))
    assert s["largest_win"] is None and s["avg_win"] is None and s["risk_reward"] is None
    assert s["profit_factor"] == D("0") and s["largest_loss"] == D("-40") and s["avg_loss"] == D("-25")
    assert s["expectancy"] == D("-25") and s["avg_duration_seconds"] is None


def test_trade_statistics_of_no_trades_are_undefined():
    s = trade_statistics([])
    assert s["count"] == 0 and s["win_rate"] is None and s["expectancy"] is None
    assert s["profit_factor"] is None and s["realized_pnl"] == 0 and s["gross_loss"] == 0


def test_breakeven_band_is_half_a_cent_either_side():
    s = trade_statistics([closed("0.004"), closed("-0.004"), closed("0.01"), closed("-0.01")])
    assert (s["wins"], s["losses"], s["breakeven"]) == (1, 1, 2)


def test_period_trade_filter_takes_trades_closed_inside_the_utc_days():
    trades = [closed("1", closed_at=dt.datetime(2026, 1, 1, 23, 59, tzinfo=dt.UTC)),  # day 0: before
              closed("2", closed_at=when(1, 0)),  # first day of the period
              closed("4", closed_at=day_end(day(3))),  # last moment of the period
              closed("8", closed_at=when(4, 0)),  # after
              # 20:00 at UTC-5 on day 3 is 01:00 UTC on day 4: outside
              closed("16", closed_at=dt.datetime(2026, 1, 4, 20, tzinfo=dt.timezone(dt.timedelta(hours=-5))))]
    m = period_metrics(series(), start=day(1), end=day(3), trades=trades)
    assert m["trades"]["count"] == 2 and m["trades"]["realized_pnl"] == D("6")


# --- edges of the NAV walk and of the metrics --------------------------------------------------------
def test_a_holding_back_to_zero_is_not_reported_missing():
    # 5 XYZ (never priced) deposited and withdrawn on day 0: flagged that day, not on day 1 when none is held.
    rows = [row(1, when(0, 1), "deposit", "USD", "10"), row(2, when(0, 2), "deposit", "XYZ", "5"),
            row(3, when(0, 3), "withdrawal", "XYZ", "-5")]
    days = nav_series(rows, PriceBook(), end_day=day(1))
    assert days[0].missing_prices == ["XYZ"] and days[1].missing_prices == []
    assert days[1].holdings == {"USD": D("10")}


def test_an_unpriced_holding_is_missing_on_every_day_it_is_held():
    rows = [row(1, when(0, 1), "deposit", "USD", "100"), row(2, when(0, 2), "trade", "XYZ", "10", "USD", "-100")]
    days = nav_series(rows, PriceBook(), end_day=day(1))
    assert [d.missing_prices for d in days] == [["XYZ"], ["XYZ"]]
    assert [d.nav for d in days] == [0, 0]  # never valued at a made-up price


def test_a_deposit_priced_only_later_that_day_is_still_flagged():
    prices = PriceBook()
    prices.add("ETH", when(0, 11), D("2000"))
    rows = [row(1, when(0, 10), "deposit", "ETH", "1")]
    [d] = nav_series(rows, prices)
    assert d.missing_prices == ["ETH"] and d.net_flow == 0 and d.nav == D("2000")


def test_an_entry_at_the_last_microsecond_belongs_to_its_day():
    rows = [row(1, when(0, 1), "deposit", "USD", "100"), row(2, day_end(day(0)), "deposit", "USD", "50")]
    days = nav_series(rows, PriceBook(), end_day=day(1))
    assert days[0].nav == D("150") and days[0].deposits == D("150")


def test_units_below_one_are_priced_like_any_others():
    # 0.25 BTC deposited at 1 USD: 0.25 units at 1. BTC 2 on day 1: NAV 0.5, unit NAV 2, so a 1 USD deposit
    # buys 0.5 units (0.75 in all).
    prices = PriceBook()
    prices.add("BTC", when(0, 0), D("1"))
    prices.add("BTC", when(1, 0), D("2"))
    rows = [row(1, when(0, 1), "deposit", "BTC", "0.25"), row(2, when(1, 6), "deposit", "USD", "1")]
    days = nav_series(rows, prices)
    assert (days[0].units, days[0].unit_nav, days[0].deposits) == (D("0.25"), D("1"), D("0.25"))
    assert (days[1].units, days[1].nav, days[1].deposits) == (D("0.75"), D("1.5"), D("1"))
    m = period_metrics(days, start=day(0), end=day(0), trades=[])
    assert m["roi"] == 0 and m["exposure_end"] == 1 and m["exposure_avg"] == 1 and m["twr"] == 0


def test_a_coin_held_before_any_deposit_does_not_buy_units():
    # A 1 BTC adjustment (no flow) then a 100 USD deposit: the deposit buys units at 1, the coin none.
    prices = PriceBook()
    prices.add("BTC", when(0, 0), D("100"))
    rows = [row(1, when(0, 1), "adjustment", "BTC", "1"), row(2, when(1, 1), "deposit", "USD", "100")]
    days = nav_series(rows, prices)
    assert (days[0].units, days[0].unit_nav, days[0].nav) == (0, None, D("100"))
    assert (days[1].units, days[1].unit_nav) == (D("100"), D("2"))


def test_a_deposit_after_the_book_is_worth_nothing_buys_at_the_last_good_unit_nav():
    # 100 USD into 10 XYZ that never get a price: NAV 0, unit NAV 0 (not a price to buy at); the next
    # deposit buys at the last positive unit NAV, 1.
    rows = [row(1, when(0, 1), "deposit", "USD", "100"), row(2, when(0, 2), "trade", "XYZ", "10", "USD", "-100"),
            row(3, when(1, 1), "deposit", "USD", "50")]
    days = nav_series(rows, PriceBook())
    assert (days[0].units, days[0].unit_nav) == (D("100"), D("0"))
    assert (days[1].units, days[1].nav) == (D("150"), D("50"))
    m = period_metrics(days, start=day(0), end=day(1), trades=[])
    assert m["exposure_avg"] == 0 and m["exposure_end"] == 0
    assert m["daily_returns"] == [-1.0]  # 1 -> 0; the day from 0 has no return
    m0 = period_metrics(days, start=day(0), end=day(0), trades=[])
    assert m0["exposure_end"] is None and m0["exposure_avg"] is None


def test_after_a_full_withdrawal_the_next_deposit_buys_at_the_last_unit_nav():
    # 100 USD into 1 BTC at 100; BTC 50 (unit NAV 0.5); all withdrawn (0 units); 100 USD deposited again
    # buys 200 units at 0.5.
    prices = PriceBook()
    prices.add("BTC", when(0, 0), D("100"))
    prices.add("BTC", when(1, 0), D("50"))
    rows = [row(1, when(0, 1), "deposit", "USD", "100"), row(2, when(0, 2), "trade", "BTC", "1", "USD", "-100"),
            row(3, when(2, 1), "withdrawal", "BTC", "-1"), row(4, when(3, 1), "deposit", "USD", "100")]
    days = nav_series(rows, prices)
    assert [d.unit_nav for d in days] == [D("1"), D("0.5"), None, D("0.5")]
    assert days[3].units == D("200")


def test_withdrawing_more_than_the_book_leaves_no_negative_units():
    rows = [row(1, when(0, 1), "deposit", "USD", "100"), row(2, when(0, 2), "withdrawal", "USD", "-150")]
    [d] = nav_series(rows, PriceBook())
    assert d.units == 0 and d.unit_nav is None and d.net_flow == D("-50") and d.deposits == D("100")


def test_a_fee_in_a_coin_is_valued_at_that_coins_price():
    # The 0.01 BNB fee comes right after a USD deposit: 0.01 x 300 = 3 USD.
    prices = PriceBook()
    prices.add("BNB", when(0, 0), D("300"))
    rows = [row(1, when(0, 1), "deposit", "BNB", "1"), row(2, when(0, 2), "deposit", "USD", "10"),
            row(3, when(0, 3), "fee", "BNB", "-0.01")]
    [d] = nav_series(rows, prices)
    assert d.fees == D("3.00")


def test_fees_pct_of_a_volume_under_one_dollar():
    rows = [row(1, when(0, 1), "deposit", "USD", "10"), row(2, when(0, 2), "trade", "XYZ", "1", "USD", "-0.5", "USD",
                                                            "0.01")]
    m = period_metrics(nav_series(rows, PriceBook()), start=day(0), end=day(0), trades=[])
    assert (m["volume"], m["total_fees"], m["fees_fraction_of_volume"]) == (D("0.5"), D("0.01"), D("0.02"))


def test_best_and_worst_days_are_by_pnl_not_by_date():
    # BTC 100, 120, 126 on 5 BTC: day 1 earns 100, day 2 earns 30.
    m = period_metrics(half_invested({0: "100", 1: "120", 2: "126"}, 2), start=day(1), end=day(2), trades=[])
    assert m["best_day"] == {"day": day(1), "pnl": D("100")}
    assert m["worst_day"] == {"day": day(2), "pnl": D("30")}


def test_a_one_day_period_has_a_return():
    m = period_metrics(series(), start=day(1), end=day(1), trades=[])
    assert m["twr"] == D("0.05") and m["daily_returns"] == pytest.approx([0.05])


def test_period_ratios_use_the_given_risk_free_rate():
    days = half_invested({0: "100", 1: "110", 2: "99", 3: "120"}, 3)
    m = period_metrics(days, start=day(0), end=day(3), trades=[], rf_annual=0.05)
    assert m["sharpe"] == pytest.approx(sharpe_ratio(m["daily_returns"], rf_annual=0.05), rel=1e-12)
    assert m["sortino"] == pytest.approx(sortino_ratio(m["daily_returns"], rf_annual=0.05), rel=1e-12)
    assert m["sharpe"] != pytest.approx(sharpe_ratio(m["daily_returns"]), rel=1e-6)


def test_ratios_default_to_a_zero_risk_free_rate_and_need_two_returns():
    returns = [0.02, -0.01]
    mean = 0.005
    std = math.sqrt(((0.015) ** 2 + (0.015) ** 2) / 1)
    assert sharpe_ratio(returns) == pytest.approx(mean / std * math.sqrt(365), rel=1e-12)
    assert sortino_ratio(returns) == pytest.approx(mean / math.sqrt(0.0001 / 2) * math.sqrt(365), rel=1e-12)
    assert max_drawdown([1.0, 0.8]) == pytest.approx(-0.2)


def test_drawdown_before_a_positive_peak_is_zero():
    assert max_drawdown([0.0, 1.0, 0.5]) == pytest.approx(-0.5)
    assert drawdown_curve([0.5, 0.25]) == pytest.approx([0.0, -0.5])


def test_cagr_with_navs_under_one():
    assert cagr(0.5, 0.605, 730) == pytest.approx(0.1, rel=1e-12)
    assert cagr(1.0, 0.81, 730) == pytest.approx(-0.1, rel=1e-12)


def test_each_flow_of_a_day_is_kept_at_its_own_time_with_the_value_before_it():
    # Issue 10 §1.2/1.3 (the performance fee moves its high-water mark flow by flow): 1,000 USD in at 01:00,
    # 5 BTC bought for 500 at 02:00, BTC 120 from 03:00, 200 USD out at 04:00 (value before: 500 + 5 x 120 =
    # 1,100), 300 USD in at 05:00 (value before: 300 + 600 = 900). Netting them would lose all of that.
    prices = PriceBook()
    prices.add("BTC", when(0, 0), D("100"))
    prices.add("BTC", when(0, 3), D("120"))
    rows = [row(1, when(0, 1), "deposit", "USD", "1000"), row(2, when(0, 2), "trade", "BTC", "5", "USD", "-500"),
            row(3, when(0, 4), "withdrawal", "USD", "-200"), row(4, when(0, 5), "deposit", "USD", "300")]
    [d] = nav_series(rows, prices, end_day=day(0))
    assert [tuple(f) for f in d.flows] == [(when(0, 1), D("1000"), D("0")), (when(0, 4), D("-200"), D("1100")),
                                           (when(0, 5), D("300"), D("900"))]
    assert d.net_flow == D("1100") and d.deposits == D("1300")
