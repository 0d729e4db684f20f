"""NAV, units, TWR and the metrics of DESIGN §8, including the cross-check against plain numpy."""

import datetime as dt
import math
from decimal import Decimal as D

import numpy as np
import pytest

from reporting.lots import EntryRow, PriceBook, closed_trades, lot_events_from_entries, lots_match
from reporting.performance import (
    cagr,
    calmar_ratio,
    max_drawdown,
    nav_series,
    period_metrics,
    sharpe_ratio,
    sortino_ratio,
    trade_outcome,
    trade_statistics,
)
from reporting.reports import trade_breakdown

DAY0 = dt.date(2026, 1, 1)


def when(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(DAY0 + dt.timedelta(days=day), dt.time(hour), tzinfo=dt.UTC)


def row(n, t, kind, asset, amount, counter_asset="", counter=None, fee_asset="", fee=None):
    side = "" if kind != "trade" else ("buy" if D(amount) > 0 else "sell")
    return EntryRow(n, t, kind, "paper", asset, D(amount), counter_asset, D(counter) if counter else None, side,
                    fee_asset, D(fee) if fee else None)


def test_deposit_mid_period_does_not_change_twr():
    """BTC goes 100 -> 110 -> 121 (+10% a day). A deposit on day 1 changes NAV, not the return."""
    prices = PriceBook()
    for day, price in enumerate(("100", "110", "121")):
        prices.add("BTC", when(day, 0), D(price))
    base = [row(1, when(0, 1), "deposit", "USD", "1000"), row(2, when(0, 2), "trade", "BTC", "10", "USD", "-1000")]
    with_flow = base + [row(3, when(1, 6), "deposit", "BTC", "5")]
    plain = nav_series(base, prices, end_day=DAY0 + dt.timedelta(days=2))
    flowed = nav_series(with_flow, prices, end_day=DAY0 + dt.timedelta(days=2))
    m_plain = period_metrics(plain, start=DAY0, end=DAY0 + dt.timedelta(days=2), trades=[])
    m_flow = period_metrics(flowed, start=DAY0, end=DAY0 + dt.timedelta(days=2), trades=[])
    assert flowed[-1].nav == D("1815")  # 15 BTC at 121
    assert m_flow["twr"] == m_plain["twr"] == D("0.21")
    # deposit bought units at the unit NAV just before it (1.1 USD): 550 / 1.1 = 500 units
    assert flowed[1].units == D("1500")
    assert m_flow["total_pnl"] == m_plain["total_pnl"] + D("55")  # the deposited BTC also gained on day 2


def test_withdrawal_cancels_units_at_nav_before_flow():
    prices = PriceBook()
    prices.add("ETH", when(0, 0), D("10"))
    prices.add("ETH", when(1, 0), D("20"))
    rows = [row(1, when(0, 1), "deposit", "ETH", "100"), row(2, when(1, 6), "withdrawal", "ETH", "-50")]
    series = nav_series(rows, prices)
    assert series[0].units == D("1000") and series[0].unit_nav == D("1")
    # before the withdrawal NAV = 2000, unit NAV 2; 1000 USD out cancels 500 units
    assert series[1].units == D("500") and series[1].unit_nav == D("2")
    assert series[1].net_flow == D("-1000")


def test_nav_uses_last_price_at_or_before_day_end():
    prices = PriceBook()
    prices.add("BTC", when(0, 0), D("100"))
    prices.add("BTC", dt.datetime.combine(DAY0 + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC), D("999"))
    rows = [row(1, when(0, 1), "deposit", "BTC", "1")]
    series = nav_series(rows, prices)
    assert series[0].nav == D("100")  # the midnight price belongs to the next day


def test_held_asset_without_price_is_reported_missing_not_zeroed():
    rows = [row(1, when(0), "deposit", "USD", "100"), row(2, when(0, 13), "deposit", "XYZ", "5")]
    series = nav_series(rows, PriceBook())
    assert series[0].missing_prices == ["XYZ"]


def test_zero_trades_and_single_day_give_undefined_values():
    rows = [row(1, when(0), "deposit", "USD", "1000")]
    series = nav_series(rows, PriceBook())
    m = period_metrics(series, start=DAY0, end=DAY0, trades=[])
    t = m["trades"]
    assert t["count"] == 0
    for key in ("win_rate", "profit_factor", "expectancy", "risk_reward", "largest_win", "largest_loss",
                "avg_duration_seconds"):
        assert t[key] is None, key
    assert m["sharpe"] is None and m["sortino"] is None and m["cagr"] is None and m["calmar"] is None
    assert m["fees_fraction_of_volume"] is None


def test_all_winning_trades_leave_loss_ratios_undefined():
    rows = [row(1, when(0), "trade", "BTC", "1", "USD", "-100"), row(2, when(1), "trade", "BTC", "-0.5", "USD", "60"),
            row(3, when(2), "trade", "BTC", "-0.5", "USD", "70")]
    trades = closed_trades(lots_match(lot_events_from_entries(rows, PriceBook())).disposals)
    stats = trade_statistics(trades)
    assert (stats["count"], stats["wins"], stats["losses"]) == (2, 2, 0)
    assert stats["win_rate"] == 1
    assert stats["profit_factor"] is None and stats["risk_reward"] is None and stats["largest_loss"] is None
    assert stats["expectancy"] == D("15")


def test_no_losing_day_sortino_undefined_and_no_drawdown():
    returns = [0.01, 0.02, 0.005]
    assert sortino_ratio(returns) is None
    assert sharpe_ratio(returns) is not None
    assert max_drawdown([1.0, 1.01, 1.03]) == 0.0
    assert calmar_ratio(0.5, 0.0) is None


def test_constant_returns_sharpe_undefined_not_infinite():
    assert sharpe_ratio([0.01, 0.01, 0.01]) is None


def test_cagr_only_for_a_year_or_more():
    assert cagr(1.0, 1.5, 364) is None
    assert cagr(1.0, 1.21, 730) == pytest.approx(0.1)


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_metrics_agree_with_plain_numpy(seed):
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.001, 0.02, size=500)
    rf = 0.03
    x = returns - ((1 + rf) ** (1 / 365) - 1)
    np_sharpe = x.mean() / x.std(ddof=1) * np.sqrt(365)
    np_sortino = x.mean() / np.sqrt(np.sum(np.minimum(x, 0) ** 2) / len(x)) * np.sqrt(365)
    nav = np.concatenate([[1.0], np.cumprod(1 + returns)])
    np_mdd = np.min(nav / np.maximum.accumulate(nav) - 1)

    ours = returns.tolist()
    assert abs(sharpe_ratio(ours, rf_annual=rf) - np_sharpe) < 1e-9
    assert abs(sortino_ratio(ours, rf_annual=rf) - np_sortino) < 1e-9
    assert abs(max_drawdown(nav.tolist()) - np_mdd) < 1e-9


def test_period_metrics_from_nav_match_numpy_on_the_same_returns():
    """The full path: a ledger and prices -> unit NAV -> returns -> metrics, vs numpy on those returns."""
    rng = np.random.default_rng(3)
    prices = PriceBook()
    price = D("100")
    for day in range(60):
        price = (price * D(str(round(1 + rng.normal(0, 0.03), 6)))).quantize(D("0.000001"))
        prices.add("BTC", when(day, 0), price)
    rows = [row(1, when(0, 1), "deposit", "BTC", "10")]
    end = DAY0 + dt.timedelta(days=59)
    series = nav_series(rows, prices, end_day=end)
    m = period_metrics(series, start=DAY0 + dt.timedelta(days=1), end=end, trades=[])
    r = np.array(m["daily_returns"])
    assert len(r) == 59
    assert abs(m["sharpe"] - r.mean() / r.std(ddof=1) * np.sqrt(365)) < 1e-9
    nav = np.concatenate([[1.0], np.cumprod(1 + r)])
    assert abs(m["max_drawdown"] - np.min(nav / np.maximum.accumulate(nav) - 1)) < 1e-9


# --- issue 10 §1.8 -------------------------------------------------------------------------------
def test_sharpe_and_sortino_of_near_constant_returns_are_undefined_not_huge():
    # Float noise on a steady 0.1% a day: the standard deviation is ~1e-19, Sharpe was ~1e17.
    steady = [0.001, math.nextafter(0.001, 1.0), 0.001, math.nextafter(0.001, 0.0)] * 5
    assert sharpe_ratio(steady) is None
    noisy_down = [0.001, -math.ulp(0.0) * 1e6, 0.001, 0.001]  # a "losing day" of -5e-318
    assert sortino_ratio(noisy_down) is None
    # Unit NAV rising exactly 0.1% a day, through the series: the same.
    prices = PriceBook()
    rows = [row(1, when(0, 1), "deposit", "USD", "1000")]
    rows += [row(1 + d, when(d, 6), "deposit", "USD", str(D("1000") * (D("1.001") ** d - D("1.001") ** (d - 1))))
             for d in range(1, 30)]
    series = nav_series(rows, prices)
    m = period_metrics(series, start=DAY0, end=DAY0 + dt.timedelta(days=29), trades=[])
    assert m["sharpe"] is None and m["sortino"] is None
    # Real variation is still measured.
    assert sharpe_ratio([0.001, 0.002, 0.0015]) is not None


def test_win_loss_breakeven_is_one_rule_in_the_statistics_and_the_weekly_breakdown():
    # A round trip of +0.004 USD is breakeven everywhere: not a win in the weekly breakdown either.
    assert [trade_outcome(D(p)) for p in ("0.005", "0.004", "0", "-0.004", "-0.005")] == [
        "win", "breakeven", "breakeven", "breakeven", "loss"]
    trades = [{"pnl": D(p), "closed_at": when(1), "quantity": D("1"), "duration_seconds": None, "flagged": False,
               "asset": "BTC", "proceeds": D("1")} for p in ("0.004", "-0.003", "1", "-1")]
    stats = trade_statistics(trades)
    [breakdown] = trade_breakdown(trades)
    assert (stats["wins"], stats["losses"], stats["breakeven"]) == (1, 1, 2)
    assert (breakdown["wins"], breakdown["losses"], breakdown["breakeven"]) == (1, 1, 2)
