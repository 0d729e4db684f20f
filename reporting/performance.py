"""Daily NAV, units and the metrics of DESIGN.md §8. Pure functions over in-memory rows.

Money stays Decimal; only statistics on returns (Sharpe, Sortino, drawdown, CAGR, Calmar) use float.
A value that cannot be defined is None (shown as "n/a"), never 0 or infinity."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from core.assets import USD_EQUIVALENTS

from .lots import ONE, ZERO, EntryRow, PriceBook, fee_value_usd, trade_value_usd

PERIODS_PER_YEAR = 365
BREAKEVEN_USD = Decimal("0.005")  # a round trip within half a cent of zero is breakeven: neither win nor loss
MICRO = dt.timedelta(microseconds=1)
# A standard deviation (or downside deviation) of daily returns below this is float noise on constant
# returns: the ratio is undefined (None), not 1e17.
STD_TOLERANCE = 1e-12


class Flow(NamedTuple):
    """A deposit (+) or withdrawal (-) in USD at its own time, with the account's value just before it."""

    at: dt.datetime
    amount: Decimal
    value_before: Decimal


@dataclass
class NavDay:
    day: dt.date
    nav: Decimal  # USD at the day's end
    units: Decimal
    unit_nav: Decimal | None  # None while there are no units
    net_flow: Decimal = ZERO  # deposits - withdrawals, USD at flow time
    deposits: Decimal = ZERO
    cash: Decimal = ZERO
    invested: Decimal = ZERO  # value of non-cash holdings
    fees: Decimal = ZERO  # USD, trading and fee entries of the day
    volume: Decimal = ZERO  # USD notional traded
    trades: int = 0
    missing_prices: list[str] = field(default_factory=list)
    holdings: dict[str, Decimal] = field(default_factory=dict)
    flows: list[Flow] = field(default_factory=list)  # the day's flows in time order


def day_end(day: dt.date) -> dt.datetime:
    """The last moment of a UTC day."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) - MICRO


def _value(holdings: dict[str, Decimal], prices: PriceBook, when: dt.datetime) -> tuple[Decimal, Decimal, list[str]]:
    cash = invested = ZERO
    missing = []
    for asset, qty in holdings.items():
        if not qty:
            continue
        if asset in USD_EQUIVALENTS:
            cash += qty
            continue
        price = prices.at(asset, when)
        if price is None:
            missing.append(asset)
        else:
            invested += qty * price
    return cash, invested, missing


def nav_series(entries: Sequence[EntryRow], prices: PriceBook, *, end_day: dt.date | None = None) -> list[NavDay]:
    """One NavDay per UTC day from the first entry's day to end_day. Deposits buy units and
    withdrawals cancel them at the unit NAV just before the flow; the first units cost 1 USD."""
    if not entries:
        return []
    first = entries[0].occurred_at.astimezone(dt.UTC).date()
    last = end_day or max(entries[-1].occurred_at.astimezone(dt.UTC).date(), first)
    holdings: dict[str, Decimal] = {}
    units = ZERO
    last_unit_nav = ONE
    out: list[NavDay] = []
    i, n = 0, len(entries)
    day = first
    while day <= last:
        boundary = day_end(day)
        today = NavDay(day=day, nav=ZERO, units=ZERO, unit_nav=None)
        while i < n and entries[i].occurred_at <= boundary:
            e = entries[i]
            i += 1
            if e.kind in ("deposit", "withdrawal"):
                price = prices.at(e.asset, e.occurred_at)
                flow = e.amount * price if price is not None else ZERO
                if price is None:
                    today.missing_prices.append(e.asset)
                cash, invested, _ = _value(holdings, prices, e.occurred_at)
                before = cash + invested
                unit_price = before / units if units > 0 and before > 0 else last_unit_nav
                units += flow / unit_price
                if units < 0:
                    units = ZERO
                today.net_flow += flow
                today.flows.append(Flow(e.occurred_at, flow, before))
                if flow > 0:
                    today.deposits += flow
            elif e.kind == "trade":
                today.trades += 1
                value = trade_value_usd(e, prices)
                if value is not None:
                    today.volume += value
            if e.kind == "fee" and e.asset in USD_EQUIVALENTS:
                today.fees -= e.amount
            elif e.kind == "fee":
                price = prices.at(e.asset, e.occurred_at)
                if price is not None:
                    today.fees -= e.amount * price
            if e.fee_amount:
                fee = fee_value_usd(e, prices)
                if fee is not None:
                    today.fees += fee
                holdings[e.fee_asset] = holdings.get(e.fee_asset, ZERO) - e.fee_amount
            holdings[e.asset] = holdings.get(e.asset, ZERO) + e.amount
            if e.counter_amount is not None and e.counter_asset:
                holdings[e.counter_asset] = holdings.get(e.counter_asset, ZERO) + e.counter_amount
        cash, invested, missing = _value(holdings, prices, boundary)
        today.cash, today.invested = cash, invested
        today.missing_prices = sorted(set(today.missing_prices + missing))
        today.nav = cash + invested
        today.units = units
        if units > 0:
            today.unit_nav = today.nav / units
            last_unit_nav = today.unit_nav if today.unit_nav > 0 else last_unit_nav
        today.holdings = {a: q for a, q in holdings.items() if q}
        out.append(today)
        day += dt.timedelta(days=1)
    return out


# --- statistics on returns (float) --------------------------------------------------------
def daily_rf(rf_annual: float) -> float:
    return (1.0 + rf_annual) ** (1.0 / PERIODS_PER_YEAR) - 1.0


def sharpe_ratio(returns: Sequence[float], *, rf_annual: float = 0.0) -> float | None:
    n = len(returns)
    if n < 2:
        return None
    rf = daily_rf(rf_annual)
    x = [r - rf for r in returns]
    mean = math.fsum(x) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in x) / (n - 1))
    if std < STD_TOLERANCE:
        return None
    return mean / std * math.sqrt(PERIODS_PER_YEAR)


def sortino_ratio(returns: Sequence[float], *, rf_annual: float = 0.0) -> float | None:
    n = len(returns)
    if n < 2:
        return None
    rf = daily_rf(rf_annual)
    x = [r - rf for r in returns]
    downside = math.sqrt(math.fsum(min(v, 0.0) ** 2 for v in x) / n)
    if downside < STD_TOLERANCE:  # no (real) losing day: undefined, not infinity
        return None
    return (math.fsum(x) / n) / downside * math.sqrt(PERIODS_PER_YEAR)


def max_drawdown(navs: Sequence[float]) -> float | None:
    """min over t of NAV_t / max(NAV_0..t) - 1, from the first NAV given. <= 0."""
    if len(navs) < 2:
        return None
    peak = navs[0]
    worst = 0.0
    for v in navs:
        if v > peak:
            peak = v
        if peak > 0:
            dd = v / peak - 1.0
            if dd < worst:
                worst = dd
    return worst


def drawdown_curve(navs: Sequence[float]) -> list[float]:
    peak = -math.inf
    out = []
    for v in navs:
        peak = max(peak, v)
        out.append(v / peak - 1.0 if peak > 0 else 0.0)
    return out


def cagr(nav_start: float, nav_end: float, days: int) -> float | None:
    """Only for periods of at least one year."""
    if days < PERIODS_PER_YEAR or nav_start <= 0 or nav_end <= 0:
        return None
    return (nav_end / nav_start) ** (PERIODS_PER_YEAR / days) - 1.0


def calmar_ratio(cagr_value: float | None, mdd: float | None) -> float | None:
    if cagr_value is None or mdd is None or mdd == 0:
        return None
    return cagr_value / abs(mdd)


# --- trade statistics (money, Decimal) ----------------------------------------------------
WIN, LOSS, BREAKEVEN = "win", "loss", "breakeven"


def trade_outcome(pnl: Decimal) -> str:
    """The one rule for a round trip everywhere (statistics, breakdowns, reports): within half a cent
    of zero is breakeven, neither win nor loss."""
    if pnl >= BREAKEVEN_USD:
        return WIN
    return LOSS if pnl <= -BREAKEVEN_USD else BREAKEVEN


def trade_statistics(trades: Sequence[dict]) -> dict:
    """From closed, lot-matched round trips (see lots.closed_trades)."""
    outcomes = [trade_outcome(t["pnl"]) for t in trades]
    wins = [t["pnl"] for t, o in zip(trades, outcomes, strict=True) if o == WIN]
    losses = [t["pnl"] for t, o in zip(trades, outcomes, strict=True) if o == LOSS]
    count = len(trades)
    gross_win = sum(wins, ZERO)
    gross_loss = sum(losses, ZERO)
    avg_win = gross_win / len(wins) if wins else None
    avg_loss = gross_loss / len(losses) if losses else None
    timed = [(t["quantity"], t["duration_seconds"]) for t in trades if t["duration_seconds"] is not None]
    timed_qty = sum((q for q, _ in timed), ZERO)
    return {
        "count": count,
        "wins": len(wins),
        "losses": len(losses),
        "breakeven": count - len(wins) - len(losses),
        "win_rate": Decimal(len(wins)) / count if count else None,
        "avg_duration_seconds": (sum((q * s for q, s in timed), ZERO) / timed_qty) if timed_qty else None,
        "largest_win": max(wins) if wins else None,
        "largest_loss": min(losses) if losses else None,
        "gross_profit": gross_win,
        "gross_loss": gross_loss,
        "profit_factor": gross_win / -gross_loss if losses else None,
        "avg_win": avg_win,
        "avg_loss": avg_loss,
        "expectancy": sum((t["pnl"] for t in trades), ZERO) / count if count else None,
        "risk_reward": avg_win / -avg_loss if avg_win is not None and avg_loss is not None else None,
        "realized_pnl": sum((t["pnl"] for t in trades), ZERO),
        "flagged": sum(1 for t in trades if t["flagged"]),
    }


def period_metrics(series: Sequence[NavDay], *, start: dt.date, end: dt.date, trades: Sequence[dict],
                   rf_annual: float = 0.0) -> dict:
    """Every metric of DESIGN.md §8 for the UTC days start..end (inclusive)."""
    window = [d for d in series if start <= d.day <= end]
    before = [d for d in series if d.day < start]
    base = before[-1] if before else None
    base_nav = base.nav if base else ZERO
    base_unit = base.unit_nav if base and base.unit_nav else ONE
    unit_navs = [base_unit] + [d.unit_nav for d in window if d.unit_nav is not None]
    returns = [float(b / a - 1) for a, b in zip(unit_navs, unit_navs[1:], strict=False) if a > 0]
    daily_pnl = []
    prev = base_nav
    for d in window:
        daily_pnl.append((d.day, d.nav - prev - d.net_flow))
        prev = d.nav
    flows = sum((d.net_flow for d in window), ZERO)
    deposits = sum((d.deposits for d in window), ZERO)
    nav_end = window[-1].nav if window else base_nav
    total_pnl = nav_end - base_nav - flows
    invested_capital = base_nav + deposits
    twr = (unit_navs[-1] / base_unit - 1) if len(unit_navs) > 1 else None
    nav_floats = [float(v) for v in unit_navs]
    mdd = max_drawdown(nav_floats)
    span_days = (window[-1].day - window[0].day).days + 1 if window else 0
    cagr_value = cagr(nav_floats[0], nav_floats[-1], span_days) if len(nav_floats) > 1 else None
    fees = sum((d.fees for d in window), ZERO)
    volume = sum((d.volume for d in window), ZERO)
    exposures = [d.invested / d.nav for d in window if d.nav > 0]
    in_window = [t for t in trades if start <= t["closed_at"].astimezone(dt.UTC).date() <= end]
    best = max(daily_pnl, key=lambda p: p[1]) if daily_pnl else None
    worst = min(daily_pnl, key=lambda p: p[1]) if daily_pnl else None
    return {
        "start": start, "end": end, "days": len(window),
        "nav_start": base_nav, "nav_end": nav_end, "net_flows": flows, "deposits": deposits,
        "unit_nav_start": base_unit, "unit_nav_end": unit_navs[-1],
        "total_pnl": total_pnl,
        "total_pnl_pct": twr,  # time-weighted: flows never count as performance
        "twr": twr,
        "roi": total_pnl / invested_capital if invested_capital > 0 else None,
        "best_day": {"day": best[0], "pnl": best[1]} if best else None,
        "worst_day": {"day": worst[0], "pnl": worst[1]} if worst else None,
        "avg_daily_pnl": total_pnl / len(window) if window else None,
        "max_drawdown": mdd,
        "sharpe": sharpe_ratio(returns, rf_annual=rf_annual),
        "sortino": sortino_ratio(returns, rf_annual=rf_annual),
        "cagr": cagr_value,
        "calmar": calmar_ratio(cagr_value, mdd),
        "trades": trade_statistics(in_window),
        "trades_executed": sum(d.trades for d in window),
        "exposure_avg": sum(exposures, ZERO) / len(exposures) if exposures else None,
        "exposure_end": (window[-1].invested / window[-1].nav) if window and window[-1].nav > 0 else None,
        "total_fees": fees,
        "volume": volume,
        "fees_fraction_of_volume": fees / volume if volume > 0 else None,  # a fraction, as fee_report's
        "missing_prices": sorted({a for d in window for a in d.missing_prices}),
        "daily_returns": returns,
        "daily_pnl": [{"day": day, "pnl": pnl} for day, pnl in daily_pnl],
    }
