"""Decimal helpers: parse without floats, round at the edges with explicit modes."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from .errors import ApplicationError

CENT = Decimal("0.01")


def to_decimal(value: Any, *, field: str = "value") -> Decimal:
    """Parse a number given as a string, int or Decimal. Floats are refused: they carry binary
    rounding error into money. Exchange JSON is converted through str() by the adapters."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool | float):
        raise ApplicationError(f"{field}: give a decimal string, not {type(value).__name__}", code="invalid")
    elif isinstance(value, int | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ApplicationError(f"{field}: '{value}' is not a number", code="invalid") from None
    else:
        raise ApplicationError(f"{field}: '{value}' is not a number", code="invalid")
    if not result.is_finite():
        raise ApplicationError(f"{field}: '{value}' is not a finite number", code="invalid")
    return result


def decimal_from_venue(value: Any) -> Decimal | None:
    """Exchange libraries hand back floats; str() keeps the digits the venue sent."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


def money_round(value: Decimal) -> Decimal:
    """Displayed money: half-even to cents."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def round_down_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Quantities round down to the venue's step, never up."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def format_money(value: Decimal | None, currency: str = "USD") -> str:
    if value is None:
        return "n/a"
    rounded = money_round(value)
    if currency == "USD":
        sign = "-" if rounded < 0 else ""
        return f"{sign}${abs(rounded):,.2f}"
    return f"{rounded:,.2f} {currency}"


def to_jsonable(value: Any) -> Any:
    """Decimals as strings, datetimes as ISO 8601, recursively; never a float for money."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def format_decimal(value: Decimal | None) -> str:
    """A Decimal without trailing zeros or exponent: 20.00000000 -> 20, 0.50 -> 0.5."""
    if value is None:
        return "n/a"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def decimal_fit(value: Decimal, *, field: str, max_digits: int, decimal_places: int,
                allow_zero: bool = False) -> Decimal:
    """`value` as the database will store it (rounded DOWN to `decimal_places`), or a clear error:
    more integer digits than the column holds, or a non-zero value that would be stored as 0."""
    integer_digits = max_digits - decimal_places
    if value.adjusted() >= integer_digits:
        raise ApplicationError(f"{field}: {value} is too large (at most {integer_digits} digits before the point)",
                               code="invalid")
    # a precision of max_digits, not the context's 28: 12 integer digits at 18 places are 30 digits
    stored = value.quantize(Decimal(1).scaleb(-decimal_places), rounding=ROUND_DOWN, context=Context(prec=max_digits))
    if stored == 0 and value != 0 and not allow_zero:
        raise ApplicationError(f"{field}: {value:f} rounds to 0 at {decimal_places} decimal places",
                               code="invalid")
    return stored


def decimal_for_field(value: Decimal, *, model_field: Any, field: str | None = None,
                      allow_zero: bool = False) -> Decimal:
    """`decimal_fit` with the precision of a model's DecimalField (e.g. `MasterSignal._meta.get_field("amount")`)."""
    return decimal_fit(value, field=field or model_field.name, max_digits=model_field.max_digits,
                       decimal_places=model_field.decimal_places, allow_zero=allow_zero)
