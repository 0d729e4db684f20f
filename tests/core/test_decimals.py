from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.decimals import format_money, money_round, round_down_to_step, to_decimal, to_jsonable
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
