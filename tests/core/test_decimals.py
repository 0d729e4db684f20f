from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.decimals import decimal_fit, format_money, money_round, round_down_to_step, to_decimal, to_jsonable
from core.errors import ApplicationError


def test_to_decimal_refuses_floats_and_garbage():
    assert to_decimal("0.1") + to_decimal("0.2") == Decimal("0.3")
    for bad in (0.1, True, "abc", "NaN", "Infinity", None):
        with pytest.raises(ApplicationError):
            to_decimal(bad)


def test_money_rounds_half_even_to_cents():
    assert money_round(Decimal("2.345")) == Decimal("2.34")
    assert money_round(Decimal("2.355")) == Decimal("2.36")
    assert format_money(Decimal("-1234.5")) == "-$1,234.50"
    assert format_money(None) == "n/a"


@given(st.decimals(min_value=0, max_value=10**6, places=10, allow_nan=False),
       st.sampled_from([Decimal("0.00001"), Decimal("0.001"), Decimal("1")]))
def test_round_down_to_step_never_rounds_up(value, step):
    rounded = round_down_to_step(value, step)
    assert rounded <= value
    assert value - rounded < step
    assert (rounded / step) == (rounded / step).to_integral_value()


def test_json_keeps_decimals_as_strings():
    assert to_jsonable({"a": Decimal("1.10"), "b": [Decimal("2")]}) == {"a": "1.10", "b": ["2"]}


@pytest.mark.parametrize(("raw", "stored"), [
    ("1.123456789", "1.12345678"),  # rounded down, never up
    ("99999999999999999999.99999999", "99999999999999999999.99999999"),  # the largest value that fits
    ("0.00000001", "0.00000001"),
    ("-5.5", "-5.50000000"),
])
def test_decimal_fit_keeps_what_the_column_stores(raw, stored):
    assert decimal_fit(Decimal(raw), field="amount", max_digits=28, decimal_places=8) == Decimal(stored)


@pytest.mark.parametrize(("raw", "message"), [
    ("100000000000000000000", "amount: 100000000000000000000 is too large (at most 20 digits before the point)"),
    ("1E+30", "amount: 1E+30 is too large"),
    ("0.000000001", "amount: 0.000000001 rounds to 0 at 8 decimal places"),
])
def test_decimal_fit_refuses_what_the_column_cannot_hold(raw, message):
    with pytest.raises(ApplicationError) as exc:
        decimal_fit(Decimal(raw), field="amount", max_digits=28, decimal_places=8)
    assert str(exc.value).startswith(message)


def test_decimal_fit_may_allow_a_value_rounding_to_zero():
    assert decimal_fit(Decimal("1E-12"), field="fee", max_digits=28, decimal_places=8, allow_zero=True) == 0


@given(st.decimals(min_value=Decimal("1E-18"), max_value=Decimal("999999999999999999.999999999999999999"),
                   allow_nan=False, allow_infinity=False, places=18))
def test_decimal_fit_holds_every_value_a_36_18_column_holds(value):
    # 36 digits are more than the default context's 28: found by the API fuzz (a 12-digit amount)
    stored = decimal_fit(value, field="amount", max_digits=36, decimal_places=18)
    assert stored == value and stored.as_tuple().exponent == -18
