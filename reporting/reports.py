"""Periodic reports: the data (a JSON-able dict), the text and the HTML with NAV and drawdown charts."""

from __future__ import annotations

import base64
import datetime as dt
import io
from decimal import Decimal
from html import escape as html_escape
from typing import TYPE_CHECKING

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from brokers.selectors import account_equity_usd
from core.decimals import format_decimal, format_money, money_round

from .lots import ZERO
from .performance import BREAKEVEN, LOSS, WIN, day_end, drawdown_curve, trade_outcome
from .selectors import AccountBooks, positions_view

if TYPE_CHECKING:
    from accounts.models import Account

PERIODS = ("daily", "weekly", "monthly")
PRICE_QUANTUM = Decimal("0.00000001")
CHART_LOOKBACK_DAYS = 30  # the daily report shows the last 30 days of NAV for context


def report_window(*, period: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """daily: that day; weekly: the 7 days ending that day; monthly: the calendar month of that day."""
    if period == "daily":
        return day, day
    if period == "weekly":
        return day - dt.timedelta(days=6), day
    if period == "monthly":
        first = day.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return first, nxt - dt.timedelta(days=1)
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


# --- formatting -------------------------------------------------------------------------------
def signed_money(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    rounded = money_round(value)
    return f"{'-' if rounded < 0 else '+'}${abs(rounded):,.2f}"


def pct(value: Decimal | float | None, *, signed: bool = False, places: int = 1) -> str:
    """A fraction as a percentage: 0.012 -> 1.2%."""
    if value is None:
        return "n/a"
    number = float(value) * 100
    return f"{number:+.{places}f}%" if signed else f"{number:.{places}f}%"


def ratio(value: float | Decimal | None, places: int = 2) -> str:
    return "n/a" if value is None else f"{float(value):.{places}f}"


def duration(seconds: Decimal | None) -> str:
    if seconds is None:
        return "n/a"
    s = int(seconds)
    days, rest = divmod(s, 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {(rest % 3600) // 60}m"


def plural(n: int, word: str, plural_word: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural_word or word + 's')}"


# --- charts ---------------------------------------------------------------------------------
def chart_png(*, days: list[dt.date], values: list[float], title: str, ylabel: str, fill: bool = False) -> str | None:
    """A line chart as base64 PNG, drawn with matplotlib's Agg backend (no display needed)."""
    if len(days) < 1:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # the Figure API keeps no global state between reports

    fig = Figure(figsize=(7, 2.6), dpi=90)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(days, values, color="#1f6feb" if not fill else "#cf222e", linewidth=1.6)
    if fill:
        ax.fill_between(days, values, 0, color="#cf222e", alpha=0.25)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode()


# --- data -----------------------------------------------------------------------------------
def _journal(books: AccountBooks, start: dt.date, end: dt.date) -> list[dict]:
    """The period's fills, already JSON-ready (strings): a month can hold 100,000 of them."""
    lo, hi = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC), day_end(end)
    realized: dict[object, Decimal] = {t["ref"]: t["pnl"] for t in books.trades}
    out = []
    for r in books.rows:
        if r.kind != "trade" or not lo <= r.occurred_at <= hi:
            continue
        pnl = realized.get(r.id)
        out.append({
            "id": r.id, "time": r.occurred_at.isoformat(), "venue": r.venue, "pair": f"{r.asset}/{r.counter_asset}",
            "side": r.side, "size": format_decimal(abs(r.amount)),
            "price": format_decimal((abs(r.counter_amount) / abs(r.amount)).quantize(PRICE_QUANTUM)),
            "fee": format_decimal(r.fee_amount) if r.fee_amount else None, "fee_asset": r.fee_asset or None,
            "realized_pnl": format(money_round(pnl), "f") if pnl is not None else None,
        })
    return out


def report_data(*, account: Account, period: str, day: dt.date, books: AccountBooks | None = None) -> dict:
    start, end = report_window(period=period, day=day)
    # A period still running (this month) stops at today: no NAV is invented for days to come.
    last = max(start, min(end, timezone.now().date()))
    books = books or AccountBooks(account=account, until=day_end(last), end_day=last)
    metrics = books.metrics(start=start, end=last)
    # Weekly: the 7-day chart; monthly: the month; daily: the last 30 days for context.
    chart_start = last - dt.timedelta(days=CHART_LOOKBACK_DAYS - 1) if period == "daily" else start
    curve = [d for d in books.series if chart_start <= d.day <= last and d.unit_nav is not None]
    trades = [t for t in books.trades if start <= t["closed_at"].astimezone(dt.UTC).date() <= end]
    daily_pnl = metrics["daily_pnl"][-1]["pnl"] if metrics["daily_pnl"] else None
    data: dict = {
        "user_id": account.user_id, "name": account.full_name, "status": account.get_status_display(),
        "period": period, "start": start, "end": end, "data_through": last, "currency": "USD",
        "metrics": {k: v for k, v in metrics.items() if k not in ("daily_returns",)},
        "day_pnl": daily_pnl,
        "nav_curve": [{"day": d.day, "nav": d.nav, "unit_nav": d.unit_nav} for d in curve],
    }
    data["venue_equity"] = _venue_equity(account)
    if period in ("weekly", "monthly"):
        ranked = sorted(trades, key=lambda t: t["pnl"])
        data["trade_breakdown"] = trade_breakdown(trades)
        data["best_trades"] = [_trade_summary(t) for t in reversed(ranked[-3:])]
        data["worst_trades"] = [_trade_summary(t) for t in ranked[:3]]
        data["risk"] = _risk_analysis(account, metrics)
    if period == "monthly":
        nav_end = metrics["nav_end"]
        data["positions"] = [
            {**p, "weight": p["market_value"] / nav_end if p["market_value"] is not None and nav_end > 0 else None}
            for p in positions_view(books=books)
        ]
        data["journal"] = _journal(books, start, last)
    return data


def trade_breakdown(trades: list[dict]) -> list[dict]:
    """Round trips by asset: count, wins, losses and breakeven (the statistics' rule), P&L, proceeds."""
    breakdown: dict[str, dict] = {}
    for t in trades:
        b = breakdown.setdefault(t["asset"], {"asset": t["asset"], "count": 0, "wins": 0, "losses": 0,
                                              "breakeven": 0, "pnl": ZERO, "proceeds": ZERO})
        b["count"] += 1
        b["pnl"] += t["pnl"]
        b["proceeds"] += t["proceeds"]
        b[{WIN: "wins", LOSS: "losses", BREAKEVEN: "breakeven"}[trade_outcome(t["pnl"])]] += 1
    return sorted(breakdown.values(), key=lambda b: b["asset"])


def _venue_equity(account: Account) -> dict | None:
    """The brokers' latest good balance snapshot, shown beside the ledger NAV as a cross-check
    (None when there is no snapshot: "unavailable", never 0)."""
    reading = account_equity_usd(account=account)
    if reading is None:
        return None
    return {"total_usd": reading.total_usd, "fetched_at": reading.fetched_at}


def _trade_summary(t: dict) -> dict:
    return {"asset": t["asset"], "closed_at": t["closed_at"], "opened_at": t["opened_at"], "quantity": t["quantity"],
            "pnl": t["pnl"], "duration_seconds": t["duration_seconds"], "flagged": t["flagged"]}


def _risk_analysis(account: Account, metrics: dict) -> dict:
    """Drawdown, exposure and how much of the daily loss limit the worst day used."""
    risk = getattr(account, "risk_profile", None)
    worst = metrics["worst_day"]
    limit = None
    if risk is not None and risk.max_daily_loss_amount:
        limit = risk.max_daily_loss_amount
    elif risk is not None and risk.max_daily_loss_pct and metrics["nav_start"] > 0:
        limit = metrics["nav_start"] * risk.max_daily_loss_pct / 100
    used = None
    if limit and worst is not None:
        used = max(ZERO, -worst["pnl"]) / limit
    return {"max_drawdown": metrics["max_drawdown"], "exposure_avg": metrics["exposure_avg"],
            "exposure_end": metrics["exposure_end"], "daily_loss_limit": limit, "daily_loss_limit_used": used,
            "worst_day": worst}


# --- rendering ------------------------------------------------------------------------------
def report_text(data: dict) -> str:
    m = data["metrics"]
    t = m["trades"]
    if data["period"] == "daily":
        return "\n".join([
            f"User: {data['name']}",
            f"Date: {data['start']:%Y-%m-%d}",
            f"Trades: {t['count']} ({plural(t['wins'], 'win')}, {plural(t['losses'], 'loss', 'losses')})",
            f"P&L: {signed_money(m['total_pnl'])} ({pct(m['total_pnl_pct'], signed=True)})",
            f"Win Rate: {pct(t['win_rate'])}",
            f"Status: {data['status']}",
        ]) + "\n"
    lines = [
        f"User: {data['name']}",
        f"{data['period'].title()} report: {data['start']:%Y-%m-%d} to {data['end']:%Y-%m-%d}",
        f"NAV: {format_money(m['nav_start'])} -> {format_money(m['nav_end'])} "
        f"(net flows {format_money(m['net_flows'])})",
        f"P&L: {signed_money(m['total_pnl'])} (TWR {pct(m['twr'], signed=True, places=2)}, "
        f"ROI {pct(m['roi'], signed=True, places=2)})",
        f"Best day: {_day_line(m['best_day'])}   Worst day: {_day_line(m['worst_day'])}",
        f"Average daily P&L: {signed_money(m['avg_daily_pnl'])}",
        f"Max drawdown: {pct(m['max_drawdown'], places=2)}   Sharpe: {ratio(m['sharpe'])}   "
        f"Sortino: {ratio(m['sortino'])}   Calmar: {ratio(m['calmar'])}   CAGR: {pct(m['cagr'], places=2)}",
        f"Trades: {t['count']} ({plural(t['wins'], 'win')}, {plural(t['losses'], 'loss', 'losses')}), "
        f"win rate {pct(t['win_rate'])}, profit factor {ratio(t['profit_factor'])}, "
        f"expectancy {signed_money(t['expectancy'])}, risk/reward {ratio(t['risk_reward'])}",
        f"Largest win: {signed_money(t['largest_win'])}   Largest loss: {signed_money(t['largest_loss'])}   "
        f"Average duration: {duration(t['avg_duration_seconds'])}",
        f"Exposure (avg): {pct(m['exposure_avg'])}   Fees: {format_money(m['total_fees'])} "
        f"({pct(m['fees_fraction_of_volume'], places=3)} of {format_money(m['volume'])} volume)",
    ]
    risk = data.get("risk")
    if risk:
        lines.append(f"Daily loss limit used (worst day): {pct(risk['daily_loss_limit_used'])} of "
                     f"{format_money(risk['daily_loss_limit'])}")
    if data.get("best_trades"):
        lines.append("Best trades: " + ", ".join(f"{b['asset']} {signed_money(b['pnl'])}" for b in data["best_trades"]))
        lines.append("Worst trades: " + ", ".join(f"{b['asset']} {signed_money(b['pnl'])}"
                                                  for b in data["worst_trades"]))
    if data.get("positions") is not None:
        lines.append(f"Open positions: {len(data['positions'])}")
        for p in data["positions"]:
            lines.append(f"  {p['asset']}: {format_decimal(p['quantity'])} @ avg {format_money(p['avg_cost'])}, "
                         f"unrealized {signed_money(p['unrealized_pnl'])}, {pct(p['weight'])} of NAV")
    if data.get("journal") is not None:
        lines.append(f"Trade journal: {len(data['journal'])} fills (see the HTML report)")
    equity = data.get("venue_equity")
    lines.append("Venue equity (latest balance snapshot): "
                 + (f"{format_money(equity['total_usd'])} at {equity['fetched_at']:%Y-%m-%d %H:%M} UTC" if equity
                    else "unavailable"))
    if m["missing_prices"]:
        lines.append(f"Warning: no price for {', '.join(m['missing_prices'])}; NAV excludes them")
    lines.append(f"Status: {data['status']}")
    return "\n".join(lines) + "\n"


def _day_line(day: dict | None) -> str:
    return "n/a" if day is None else f"{day['day']:%Y-%m-%d} {signed_money(day['pnl'])}"


def _journal_rows_html(journal: list[dict]) -> str:
    """Table rows built directly: a monthly journal can hold 100,000 fills, too many for the template engine."""
    parts = []
    for j in journal:
        pnl = j["realized_pnl"]
        cells = (
            j["time"][:16].replace("T", " "), html_escape(j["venue"]), html_escape(j["pair"]), j["side"], j["size"],
            j["price"], f"{j['fee']} {html_escape(j['fee_asset'] or '')}" if j["fee"] else "",
            signed_money(Decimal(pnl)) if pnl is not None else "",
        )
        parts.append("<tr><td>" + "</td><td>".join(cells) + "</td></tr>")
    return "\n".join(parts)


def report_html(data: dict) -> str:
    curve = data["nav_curve"]
    days = [p["day"] for p in curve]
    unit = [float(p["unit_nav"]) for p in curve]
    nav_img = chart_png(days=days, values=[float(p["nav"]) for p in curve], title="NAV (USD)", ylabel="USD")
    dd_img = chart_png(days=days, values=[v * 100 for v in drawdown_curve(unit)], title="Drawdown (%)",
                       ylabel="%", fill=True)
    m = data["metrics"]
    t = m["trades"]
    rows = [
        ("NAV start", format_money(m["nav_start"])), ("NAV end", format_money(m["nav_end"])),
        ("Net flows", format_money(m["net_flows"])), ("Total P&L", signed_money(m["total_pnl"])),
        ("TWR", pct(m["twr"], signed=True, places=2)), ("ROI", pct(m["roi"], signed=True, places=2)),
        ("Best day", _day_line(m["best_day"])), ("Worst day", _day_line(m["worst_day"])),
        ("Average daily P&L", signed_money(m["avg_daily_pnl"])), ("Max drawdown", pct(m["max_drawdown"], places=2)),
        ("Sharpe", ratio(m["sharpe"])), ("Sortino", ratio(m["sortino"])), ("Calmar", ratio(m["calmar"])),
        ("CAGR", pct(m["cagr"], places=2)),
        ("Closed trades", f"{t['count']} ({t['wins']} wins, {t['losses']} losses, {t['breakeven']} breakeven)"),
        ("Win rate", pct(t["win_rate"])), ("Average duration", duration(t["avg_duration_seconds"])),
        ("Largest win", signed_money(t["largest_win"])), ("Largest loss", signed_money(t["largest_loss"])),
        ("Profit factor", ratio(t["profit_factor"])), ("Expectancy", signed_money(t["expectancy"])),
        ("Risk/reward", ratio(t["risk_reward"])), ("Exposure (average)", pct(m["exposure_avg"])),
        ("Total fees", format_money(m["total_fees"])),
        ("Fees % of volume", pct(m["fees_fraction_of_volume"], places=3)),
        ("Venue equity (latest snapshot)", format_money(data["venue_equity"]["total_usd"])
         if data.get("venue_equity") else "unavailable"),
    ]
    context = {
        "data": data, "rows": rows, "nav_img": nav_img, "dd_img": dd_img,
        "daily_text": report_text(data) if data["period"] == "daily" else "",
        "breakdown": [{**b, "pnl_text": signed_money(b["pnl"])} for b in data.get("trade_breakdown", [])],
        "best": [{**b, "pnl_text": signed_money(b["pnl"])} for b in data.get("best_trades", [])],
        "worst": [{**b, "pnl_text": signed_money(b["pnl"])} for b in data.get("worst_trades", [])],
        "risk": data.get("risk") and {
            "max_drawdown": pct(data["risk"]["max_drawdown"], places=2),
            "exposure_avg": pct(data["risk"]["exposure_avg"]), "exposure_end": pct(data["risk"]["exposure_end"]),
            "limit": format_money(data["risk"]["daily_loss_limit"]),
            "used": pct(data["risk"]["daily_loss_limit_used"]),
        },
        "positions": [
            {**p, "quantity_text": format_decimal(p["quantity"]), "avg_cost_text": format_money(p["avg_cost"]),
             "price_text": format_money(p["current_price"]), "pnl_text": signed_money(p["unrealized_pnl"]),
             "stop_text": format_money(p["stop"]), "weight_text": pct(p["weight"])}
            for p in data.get("positions") or []
        ],
        "journal_html": mark_safe(_journal_rows_html(data.get("journal") or [])),  # noqa: S308 - cells escaped in _journal_rows_html
        "has_positions": data.get("positions") is not None,
        "has_journal": data.get("journal") is not None,
    }
    return render_to_string("reporting/report.html", context)
