"""Risk profile defaults by tolerance and validation of any set of values (DESIGN.md §6)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from core.decimals import to_decimal
from core.errors import ApplicationError

from .models import RISK_PROFILE_FIELDS, RiskProfile

TOLERANCE_DEFAULTS: dict[str, dict[str, Any]] = {
    "LOW": {
        "max_daily_loss_pct": Decimal("2"), "max_position_notional": Decimal("1000"),
        "max_position_pct": Decimal("10"), "max_concurrent_positions": 3, "stop_loss_required": True,
        "stop_loss_pct": Decimal("2"), "max_slippage_pct": Decimal("0.3"), "auto_suspend_on_daily_loss": True,
    },
    "MEDIUM": {
        "max_daily_loss_pct": Decimal("5"), "max_position_notional": Decimal("5000"),
        "max_position_pct": Decimal("20"), "max_concurrent_positions": 5, "stop_loss_required": True,
        "stop_loss_pct": Decimal("5"), "max_slippage_pct": Decimal("0.5"), "auto_suspend_on_daily_loss": False,
    },
    "HIGH": {
        "max_daily_loss_pct": Decimal("10"), "max_position_notional": Decimal("25000"),
        "max_position_pct": Decimal("30"), "max_concurrent_positions": 10, "stop_loss_required": False,
        "stop_loss_pct": None, "max_slippage_pct": Decimal("1.0"), "auto_suspend_on_daily_loss": False,
    },
}

PERCENT_FIELDS = ("max_daily_loss_pct", "max_position_pct", "stop_loss_pct", "max_slippage_pct")
POSITIVE_FIELDS = ("max_daily_loss_amount", "max_position_notional", "leverage_limit")
NON_NEGATIVE_FIELDS = ("min_balance_to_copy", "low_balance_alert")
DECIMAL_FIELDS = PERCENT_FIELDS + POSITIVE_FIELDS + NON_NEGATIVE_FIELDS
BOOL_FIELDS = ("stop_loss_required", "auto_suspend_on_daily_loss")
INSTRUMENT_LIST_FIELDS = ("allowed_instruments", "blocked_instruments")
# The copy engine's market symbols are BASE/QUOTE (ccxt style, optionally :SETTLE for derivatives);
# NIJA and Coinbase write BASE-QUOTE, so both spellings name the same market.
_INSTRUMENT_RE = re.compile(r"^([A-Z0-9]{1,15})[/\-_]([A-Z0-9]{1,15})(:[A-Z0-9]{1,15})?$")


def instrument_symbol_normalise(symbol: str) -> str:
    """'xrp-usd', 'XRP_USD' and 'XRP/USD' are all the market XRP/USD."""
    match = _INSTRUMENT_RE.match(symbol.strip().upper()) if isinstance(symbol, str) else None
    if match is None:
        raise ApplicationError(f"'{symbol}' is not a market symbol like XRP/USD or XRP-USD")
    return f"{match.group(1)}/{match.group(2)}{match.group(3) or ''}"


def instrument_list_clean(raw: Any, *, field: str) -> list[str]:
    """A list of market symbols (or one comma-separated string), normalised, duplicates removed."""
    if isinstance(raw, str):
        raw = [part for part in (p.strip() for p in raw.split(",")) if part]
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ApplicationError(f"{field} is a list of symbols like BTC/USD")
    clean: list[str] = []
    for symbol in raw:
        normal = instrument_symbol_normalise(symbol)
        if normal not in clean:
            clean.append(normal)
    return clean


def risk_defaults(tolerance: str) -> dict[str, Any]:
    if tolerance not in TOLERANCE_DEFAULTS:
        raise ApplicationError(f"risk tolerance must be LOW, MEDIUM or HIGH, not '{tolerance}'")
    return {"risk_tolerance": tolerance, **TOLERANCE_DEFAULTS[tolerance]}


def risk_values_clean(values: dict[str, Any], *, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parse and check a set of risk profile values; raise one ApplicationError listing every
    problem. `current` supplies the other fields for cross-field rules."""
    unknown = set(values) - set(RISK_PROFILE_FIELDS)
    if unknown:
        raise ApplicationError(f"unknown risk profile fields: {', '.join(sorted(unknown))}")
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, raw in values.items():
        try:
            if name in DECIMAL_FIELDS:
                clean[name] = None if raw is None or raw == "" else to_decimal(raw, field=name)
            elif name == "max_concurrent_positions":
                clean[name] = int(raw)
            elif name in BOOL_FIELDS:
                clean[name] = raw if isinstance(raw, bool) else str(raw).lower() in {"1", "true", "yes", "on"}
            elif name in INSTRUMENT_LIST_FIELDS:
                clean[name] = instrument_list_clean(raw if raw is not None else [], field=name)
            elif name == "risk_tolerance":
                if raw not in RiskProfile.Tolerance.values:
                    raise ApplicationError("risk_tolerance must be LOW, MEDIUM or HIGH")
                clean[name] = raw
        except (ApplicationError, ValueError, TypeError) as exc:
            errors[name] = str(exc) if isinstance(exc, ApplicationError) else f"{name}: not a valid value"
    merged = {**(current or {}), **clean}
    for name in PERCENT_FIELDS:
        value = merged.get(name)
        if value is not None and not (Decimal("0") < value <= Decimal("100")):
            errors[name] = f"{name} must be a percentage in (0, 100], got {value}"
    for name in POSITIVE_FIELDS:
        value = merged.get(name)
        if name == "max_position_notional" and value is None:
            errors[name] = "max_position_notional is required"
        elif value is not None and value <= 0:
            errors[name] = f"{name} must be positive, got {value}"
    for name in NON_NEGATIVE_FIELDS:
        value = merged.get(name)
        if value is not None and value < 0:
            errors[name] = f"{name} cannot be negative, got {value}"
    if merged.get("max_concurrent_positions") is not None and merged["max_concurrent_positions"] < 1:
        errors["max_concurrent_positions"] = "max_concurrent_positions must be at least 1"
    both = set(merged.get("allowed_instruments") or []) & set(merged.get("blocked_instruments") or [])
    if both:
        errors["blocked_instruments"] = f"{', '.join(sorted(both))} cannot be both allowed and blocked"
    if merged.get("stop_loss_required") and merged.get("stop_loss_pct") is None:
        errors["stop_loss_pct"] = "a required stop-loss needs its stop distance %"
    if errors:
        raise ApplicationError(
            "invalid risk profile: " + "; ".join(errors[k] for k in sorted(errors)), extra={"fields": errors}
        )
    return clean
