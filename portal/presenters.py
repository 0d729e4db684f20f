"""How the portal words things for an investor: figures with their currency, the risk profile and
the copy status in plain sentences. Pure functions over what the selectors returned."""

from __future__ import annotations

from decimal import Decimal

from core.decimals import format_decimal, format_money
from reporting.reports import pct, signed_money

ENGINE_WORDS = {
    "OFF": "The copy engine is switched off: no trades are copied to any account.",
    "OBSERVE": "The copy engine is in observe mode: the master's trades are planned for your account and "
               "recorded, but no orders are sent.",
    "LIVE": "The copy engine is live: the master's trades are copied to your account as orders.",
}


def copy_status(*, account, copy_enabled: bool, engine_mode: str) -> dict:
    copying = account.status == "ACTIVE" and account.trading_enabled and copy_enabled
    if account.status == "INACTIVE":
        why = "Your account is closed."
    elif not account.trading_enabled:
        why = f"Trading is switched off for your account ({account.get_status_display().lower()})."
    elif not copy_enabled:
        why = "Copying is switched off for your account."
    else:
        why = "Your account follows the master."
    return {"copying": copying and engine_mode != "OFF", "headline": "Copying on" if copying and engine_mode != "OFF"
            else "Copying off", "account_words": why, "engine_mode": engine_mode,
            "engine_words": ENGINE_WORDS.get(engine_mode, engine_mode)}


def _pct_text(value: Decimal) -> str:
    return f"{format_decimal(value)}%"


def risk_sentences(risk) -> list[str]:
    """The risk profile as sentences an investor reads without knowing the field names."""
    if risk is None:
        return ["No risk profile is set."]
    out = [f"Risk tolerance: {risk.get_risk_tolerance_display().lower()}."]
    limits = []
    if risk.max_daily_loss_amount:
        limits.append(format_money(risk.max_daily_loss_amount))
    if risk.max_daily_loss_pct:
        limits.append(f"{_pct_text(risk.max_daily_loss_pct)} of the day's starting equity")
    if limits:
        then = " and the account is suspended" if risk.auto_suspend_on_daily_loss else ""
        out.append(f"Daily loss limit: after a loss of {' or '.join(limits)} in one day, no new positions are opened "
                   f"that day{then} (closing trades are still copied).")
    else:
        out.append("No daily loss limit.")
    out.append(f"At most {risk.max_concurrent_positions} open positions at a time, each at most "
               f"{format_money(risk.max_position_notional)} and at most {_pct_text(risk.max_position_pct)} of your "
               "equity.")
    out.append("Spot only: no leverage." if risk.leverage_limit <= 1
               else f"Leverage up to {format_decimal(risk.leverage_limit)} times your equity.")
    if risk.stop_loss_required and risk.stop_loss_pct:
        out.append(f"Every new position gets a stop-loss {_pct_text(risk.stop_loss_pct)} below its entry price.")
    out.append(f"A copied entry is skipped when the price moved more than {_pct_text(risk.max_slippage_pct)} from "
               "the master's price.")
    out.append(f"Copying pauses while your equity is below {format_money(risk.min_balance_to_copy)}.")
    if risk.allowed_instruments:
        out.append(f"Only these instruments are copied: {', '.join(risk.allowed_instruments)}.")
    if risk.blocked_instruments:
        out.append(f"Never copied: {', '.join(risk.blocked_instruments)}.")
    return out


def range_figures(metrics: dict) -> dict:
    """One overview range as display strings (USD, percentages; undefined is n/a)."""
    trades = metrics["trades"]
    return {
        "twr": pct(metrics["twr"], signed=True, places=2), "pnl": signed_money(metrics["total_pnl"]),
        "pnl_value": metrics["total_pnl"], "max_drawdown": pct(metrics["max_drawdown"], places=2),
        "win_rate": pct(trades["win_rate"]), "closed_trades": trades["count"], "wins": trades["wins"],
        "losses": trades["losses"], "nav_start": format_money(metrics["nav_start"]),
        "net_flows": signed_money(metrics["net_flows"]), "start": metrics["start"], "end": metrics["end"],
    }
