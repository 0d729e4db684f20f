"""accounts.risk without the database (issue 16): the LOW/MEDIUM/HIGH defaults in full, how string
booleans, numbers and instrument lists parse, and every range rule at its edge."""

from decimal import Decimal as D

import pytest

from accounts.risk import risk_defaults, risk_values_clean
from core.errors import ApplicationError

LOW = {"risk_tolerance": "LOW", "max_daily_loss_pct": D("2"), "max_position_notional": D("1000"),
       "max_position_pct": D("10"), "max_concurrent_positions": 3, "stop_loss_required": True,
       "stop_loss_pct": D("2"), "max_slippage_pct": D("0.3"), "auto_suspend_on_daily_loss": True}
MEDIUM = {"risk_tolerance": "MEDIUM", "max_daily_loss_pct": D("5"), "max_position_notional": D("5000"),
          "max_position_pct": D("20"), "max_concurrent_positions": 5, "stop_loss_required": True,
          "stop_loss_pct": D("5"), "max_slippage_pct": D("0.5"), "auto_suspend_on_daily_loss": False}
HIGH = {"risk_tolerance": "HIGH", "max_daily_loss_pct": D("10"), "max_position_notional": D("25000"),
        "max_position_pct": D("30"), "max_concurrent_positions": 10, "stop_loss_required": False,
        "stop_loss_pct": None, "max_slippage_pct": D("1.0"), "auto_suspend_on_daily_loss": False}


# What the account's profile holds already: the one required field.
CURRENT = {"max_position_notional": D("5000")}


def clean(values, current=None):
    return risk_values_clean(values, current=CURRENT if current is None else {**CURRENT, **current})


@pytest.mark.parametrize(("tolerance", "expected"), [("LOW", LOW), ("MEDIUM", MEDIUM), ("HIGH", HIGH)])
def test_tolerance_defaults_are_pinned_field_by_field(tolerance, expected):
    defaults = risk_defaults(tolerance)
    assert defaults == expected
    # the types matter too: a bool is not 1, an int count is not a Decimal
    assert {k: type(v) for k, v in defaults.items()} == {k: type(v) for k, v in expected.items()}


@pytest.mark.parametrize("tolerance", ["LOW", "MEDIUM", "HIGH"])
def test_tolerance_defaults_pass_their_own_validation(tolerance):
    values = {k: v for k, v in risk_defaults(tolerance).items()}
    assert clean(values) == values


def test_defaults_are_a_fresh_copy_each_time():
    risk_defaults("LOW")["max_position_pct"] = D("99")
    assert risk_defaults("LOW")["max_position_pct"] == D("10")


@pytest.mark.parametrize("tolerance", ["low", "EXTREME", ""])
def test_unknown_tolerance_is_refused(tolerance):
    with pytest.raises(ApplicationError, match="risk tolerance must be LOW, MEDIUM or HIGH"):
        risk_defaults(tolerance)


@pytest.mark.parametrize("raw", ["true", "True", "TRUE", "on", "ON", "yes", "1", 1, True])
def test_string_and_number_trues_parse_to_true(raw):
    assert clean({"auto_suspend_on_daily_loss": raw}) == {"auto_suspend_on_daily_loss": True}


@pytest.mark.parametrize("raw", ["false", "off", "no", "0", "", "nope", 0, False])
def test_anything_else_parses_to_false(raw):
    assert clean({"stop_loss_required": raw}) == {"stop_loss_required": False}


def test_stop_loss_required_as_a_string_needs_a_distance():
    with pytest.raises(ApplicationError, match="stop distance"):
        clean({"stop_loss_required": "on"}, current={"stop_loss_pct": None})
    assert clean({"stop_loss_required": "on"}, current={"stop_loss_pct": D("3")}) == {
        "stop_loss_required": True}


def test_numbers_parse_as_decimal_and_blank_clears_an_optional_limit():
    assert clean({"max_position_pct": "12.5", "max_daily_loss_amount": "", "stop_loss_pct": None,
                              "max_concurrent_positions": "4"}) == {
        "max_position_pct": D("12.5"), "max_daily_loss_amount": None, "stop_loss_pct": None,
        "max_concurrent_positions": 4}


def test_instrument_lists_parse_from_text_or_list_in_upper_case():
    assert clean({"allowed_instruments": " btc/usd, eth/usdt ,, "}) == {
        "allowed_instruments": ["BTC/USD", "ETH/USDT"]}
    assert clean({"allowed_instruments": ["sol/usd"]}) == {"allowed_instruments": ["SOL/USD"]}
    assert clean({"allowed_instruments": ""}) == {"allowed_instruments": []}


@pytest.mark.parametrize("raw", [["BTC/USD", 3], {"BTC/USD": 1}, 7])
def test_instrument_list_of_other_things_is_refused(raw):
    with pytest.raises(ApplicationError, match="allowed_instruments is a list of symbols") as exc:
        clean({"allowed_instruments": raw})
    assert set(exc.value.extra["fields"]) == {"allowed_instruments"}


def test_tolerance_value_is_checked():
    assert clean({"risk_tolerance": "HIGH"}) == {"risk_tolerance": "HIGH"}
    with pytest.raises(ApplicationError, match="risk_tolerance must be LOW, MEDIUM or HIGH"):
        clean({"risk_tolerance": "high"})


@pytest.mark.parametrize("name", ["min_balance_to_copy", "low_balance_alert"])
def test_negative_balance_thresholds_are_refused_and_zero_is_allowed(name):
    with pytest.raises(ApplicationError, match=f"{name} cannot be negative, got -0.01") as exc:
        clean({name: "-0.01"})
    assert list(exc.value.extra["fields"]) == [name]
    assert clean({name: "0"}) == {name: D("0")}


@pytest.mark.parametrize("name", ["max_daily_loss_pct", "max_position_pct", "stop_loss_pct", "max_slippage_pct"])
def test_every_percentage_is_in_zero_to_a_hundred(name):
    assert clean({name: "100"}) == {name: D("100")}
    assert clean({name: "0.0001"}) == {name: D("0.0001")}
    for bad in ("0", "-1", "100.0001"):
        with pytest.raises(ApplicationError, match=rf"{name} must be a percentage in \(0, 100\], got {bad}"):
            clean({name: bad})


@pytest.mark.parametrize("name", ["max_daily_loss_amount", "max_position_notional", "leverage_limit"])
def test_positive_fields_refuse_zero_and_accept_a_cent(name):
    assert clean({name: "0.01"}) == {name: D("0.01")}
    with pytest.raises(ApplicationError, match=f"{name} must be positive, got 0"):
        clean({name: "0"})


def test_max_position_notional_cannot_be_cleared():
    with pytest.raises(ApplicationError, match="max_position_notional is required"):
        clean({"max_position_notional": ""})
    assert clean({"max_daily_loss_amount": None}) == {"max_daily_loss_amount": None}


def test_concurrent_positions_at_least_one():
    assert clean({"max_concurrent_positions": 1}) == {"max_concurrent_positions": 1}
    with pytest.raises(ApplicationError, match="max_concurrent_positions must be at least 1"):
        clean({"max_concurrent_positions": "0"})
    with pytest.raises(ApplicationError, match="max_concurrent_positions: not a valid value"):
        clean({"max_concurrent_positions": "three"})


def test_current_values_feed_the_cross_field_rules_but_are_not_returned():
    current = {"max_position_pct": D("150"), "stop_loss_required": True, "stop_loss_pct": D("2")}
    with pytest.raises(ApplicationError, match="max_position_pct must be a percentage"):
        clean({"max_slippage_pct": "1"}, current=current)
    assert clean({"stop_loss_pct": "4"}, current={"stop_loss_required": True}) == {"stop_loss_pct": D("4")}


def test_every_problem_is_reported_at_once_in_field_order():
    with pytest.raises(ApplicationError) as exc:
        clean({"max_position_pct": "0", "leverage_limit": "-2", "min_balance_to_copy": "-1",
                           "max_slippage_pct": "abc"})
    assert exc.value.message == (
        "invalid risk profile: leverage_limit must be positive, got -2; max_position_pct must be a percentage in "
        "(0, 100], got 0; max_slippage_pct: 'abc' is not a number; min_balance_to_copy cannot be negative, got -1")
    assert sorted(exc.value.extra["fields"]) == ["leverage_limit", "max_position_pct", "max_slippage_pct",
                                                 "min_balance_to_copy"]


def test_unknown_fields_are_named():
    with pytest.raises(ApplicationError, match="unknown risk profile fields: a, zeta"):
        clean({"zeta": 1, "a": 2, "max_position_pct": "5"})


def test_a_float_is_refused_for_money():
    with pytest.raises(ApplicationError, match="give a decimal string, not float"):
        clean({"max_position_notional": 10.5})
