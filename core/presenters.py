"""Money and quantities as the outside world reads them: JSON from the API and from commands.

Inside, every figure keeps full Decimal precision; at the edge `present_json` quantizes
- money to its currency's minor unit (cents for USD), where the output names its currency
  (a `currency` key in the dict or an enclosing one);
- prices (currency per unit) to 8 places, at least the minor unit's;
- quantities to their asset's precision, where the row names the asset (`asset`, or the asset key a
  field is in: `balance_asset`, `fee_asset`).
Ratios (returns, rates, shares) and anything unnamed are left as they are, exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from .assets import asset_code
from .decimals import to_jsonable

CURRENCY_PLACES = {"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "JPY": 0}
# Quantities: the asset's smallest unit where it is coarser than the ledger's 18 places.
ASSET_PLACES = {"ZUSD": 2, "ZEUR": 2, "ZGBP": 2, "USDT": 6, "USDC": 6, "BTC": 8, "XBT": 8, "ETH": 18}
DEFAULT_ASSET_PLACES = 8
PRICE_PLACES = 8

# Field names whose numbers are money in the output's currency.
MONEY_KEYS = frozenset({
    "nav", "nav_start", "nav_end", "net_flows", "deposits", "total_pnl", "pnl", "day_pnl", "avg_daily_pnl",
    "largest_win", "largest_loss", "gross_profit", "gross_loss", "avg_win", "avg_loss", "expectancy",
    "realized_pnl", "total_fees", "volume", "proceeds", "cost_basis", "cost", "fees", "gain", "market_value",
    "unrealized_pnl", "total_usd", "venue_fees_total", "total", "basis", "amount_usd", "gain_above_hwm",
    "hwm_before", "hwm_after", "avg_nav", "daily_loss_limit", "cash", "invested", "amount", "last_good",
    "filed", "recomputed",  # a closed tax year's figure as filed and as recomputed (counts stay integers)
})
# Mappings whose values are all money (e.g. fees by kind).
MONEY_MAP_KEYS = frozenset({"by_kind"})
PRICE_KEYS = frozenset({"price", "current_price", "avg_cost", "stop", "unit_nav", "unit_nav_start",
                        "unit_nav_end"})
# Field -> the row's key naming its asset. A named asset wins over the money reading of the same field.
QUANTITY_ASSET_KEYS = {"quantity": "asset", "size": "asset", "amount": "balance_asset",
                       "balance_after": "balance_asset", "fee": "fee_asset"}


def _places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def money_text(value: Decimal, currency: str = "USD") -> str:
    """Money quantized to the currency's minor unit (half-even): 4800.7350204 USD -> "4800.74"."""
    return format(_places(value, CURRENCY_PLACES.get(asset_code(currency), 2)), "f")


def quantity_text(value: Decimal, asset: str) -> str:
    """A quantity to the asset's precision, without trailing zeros: 0.499500000000000000 BTC -> "0.4995".
    A fiat currency is money: 10000 USD -> "10000.00"."""
    if asset_code(asset) in CURRENCY_PLACES:
        return money_text(value, asset)
    text = format(_places(value, ASSET_PLACES.get(asset_code(asset), DEFAULT_ASSET_PLACES)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def price_text(value: Decimal, currency: str = "USD") -> str:
    """A price to 8 places, trailing zeros dropped down to the currency's minor unit: "103050.00", "0.00001234"."""
    minor = CURRENCY_PLACES.get(asset_code(currency), 2)
    whole, _, frac = format(_places(value, PRICE_PLACES), "f").partition(".")
    frac = frac.rstrip("0").ljust(minor, "0")
    return f"{whole}.{frac}" if frac else whole


def _number(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and value and value[0] in "-+0123456789":  # stored reports hold strings
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def present_json(data: Any, *, currency: str | None = None) -> Any:
    """`data` JSON-ready (see core.decimals.to_jsonable) with money, prices and quantities quantized as
    the module says. `currency` applies where the data names none."""
    return _present(data, currency, None)


def _present(value: Any, currency: str | None, key: str | None) -> Any:
    if isinstance(value, dict):
        named = value.get("currency")
        currency = named if isinstance(named, str) and named else currency
        if key in MONEY_MAP_KEYS and currency:
            return {str(k): _field(v, currency, "amount_usd", {}) for k, v in value.items()}
        return {str(k): _field(v, currency, str(k), value) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_present(v, currency, key) for v in value]
    return to_jsonable(value)


def _field(value: Any, currency: str | None, key: str, row: dict) -> Any:
    if isinstance(value, dict | list | tuple):
        return _present(value, currency, key)
    asset = row.get(QUANTITY_ASSET_KEYS.get(key, ""))
    if isinstance(asset, str) and asset:
        present, unit = quantity_text, asset
    elif currency and key in PRICE_KEYS:
        present, unit = price_text, currency
    elif currency and key in MONEY_KEYS:
        present, unit = money_text, currency
    else:
        return to_jsonable(value)
    number = _number(value)
    return present(number, unit) if number is not None else to_jsonable(value)
