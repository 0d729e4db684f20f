"""Sizing and risk-gate behaviours the first suite left open (issue 16): the allowlist and every limit
taken from the profile, leverage limits other than 1, tick rounding of prices off the tick, the price guard
for a price that moved down, coins priced under 1 USD, and the exact edges of each rule. Expected
values are worked out by hand in the comments; no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from copytrading.sizing import (
    FollowerFacts,
    MarketFacts,
    RiskLimits,
    SignalFacts,
    copy_plan_compute,
    daily_loss_breached,
    daily_loss_usage,
)

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
MAX_AGE = dt.timedelta(minutes=15)
BTC = MarketFacts(amount_step=D("0.00001"), price_tick=D("0.1"), min_amount=D("0.00001"), min_cost=D("1"),
                  price=D("50000"))
LIMITS = RiskLimits(max_position_notional=D("5000"), max_position_pct=D("20"), max_concurrent_positions=5,
                    max_slippage_pct=D("0.5"), min_balance_to_copy=D("10"))


def buy(amount="0.1", price="50000", master_equity="50000", symbol="BTC/USD") -> SignalFacts:
    return SignalFacts(symbol=symbol, side="buy", amount=D(amount), price=D(price), master_equity=D(master_equity))


def sell(fraction, symbol="BTC/USD") -> SignalFacts:
    return SignalFacts(symbol=symbol, side="sell", amount=D("0.05"), price=D("50000"),
                       exit_fraction=None if fraction is None else D(fraction), master_equity=D("50000"))


def follower(equity="5000", **kw) -> FollowerFacts:
    kw.setdefault("equity_fetched_at", NOW - dt.timedelta(minutes=1))
    return FollowerFacts(equity=D(equity), **kw)


def plan(signal=None, f=None, limits=LIMITS, market=BTC):
    return copy_plan_compute(signal=signal or buy(), follower=f or follower(), limits=limits, market=market,
                             now=NOW, max_balance_age=MAX_AGE)


def btc_market(**kw) -> MarketFacts:
    values = {"amount_step": D("0.00001"), "price_tick": D("0.1"), "min_amount": D("0.00001"), "min_cost": D("1"),
              "price": D("50000")}
    values.update(kw)
    return MarketFacts(**values)


# --- the profile's limits -----------------------------------------------------------------------
def profile(**kw):
    values = {"max_position_notional": D("700"), "max_position_pct": D("12"), "max_concurrent_positions": 2,
              "allowed_instruments": ["eth/usd", "btc/usdt"], "leverage_limit": D("3"),
              "max_daily_loss_amount": D("150"), "max_daily_loss_pct": D("4"), "stop_loss_required": True,
              "stop_loss_pct": D("7"), "max_slippage_pct": D("0.8"), "min_balance_to_copy": D("25")}
    values.update(kw)
    return SimpleNamespace(**values)


def test_limits_from_profile_carry_every_field_and_upper_case_the_allowlist():
    assert RiskLimits.from_profile(profile()) == RiskLimits(
        max_position_notional=D("700"), max_position_pct=D("12"), max_concurrent_positions=2,
        allowed_instruments=("ETH/USD", "BTC/USDT"), leverage_limit=D("3"), max_daily_loss_amount=D("150"),
        max_daily_loss_pct=D("4"), stop_loss_required=True, stop_loss_pct=D("7"), max_slippage_pct=D("0.8"),
        min_balance_to_copy=D("25"))


def test_empty_allowlist_from_profile_allows_everything():
    for empty in (None, []):
        limits = RiskLimits.from_profile(profile(allowed_instruments=empty))
        assert limits.allowed_instruments == ()
        assert plan(limits=limits).reason == ""


def test_allowlist_from_profile_blocks_an_entry_outside_it():
    limits = RiskLimits.from_profile(profile())
    p = plan(limits=limits)
    assert p.reason == "instrument_not_allowed" and p.quantity == 0
    assert p.detail == "BTC/USD not in ETH/USD, BTC/USDT"


def test_allowlist_matches_symbols_whatever_their_case():
    limits = RiskLimits.from_profile(profile(allowed_instruments=["btc/usd"], max_position_notional=D("5000"),
                                             max_position_pct=D("20"), stop_loss_required=False))
    p = plan(signal=buy(symbol="btc/usd"), limits=limits)
    assert p.reason == "" and p.quantity == D("0.01")


def test_allowlist_never_blocks_an_exit():
    limits = RiskLimits(max_position_notional=D("5000"), allowed_instruments=("ETH/USD",))
    p = plan(signal=sell("1"), f=follower(held=D("0.02")), limits=limits)
    assert p.reason == "" and p.quantity == D("0.02")


# --- leverage ------------------------------------------------------------------------------------
def test_leverage_two_doubles_the_exposure_room():
    # Equity 5,000 x leverage 2 = 10,000 of exposure; 9,800 already exposed leaves 200: 0.004 BTC.
    limits = RiskLimits(max_position_notional=D("5000"), leverage_limit=D("2"))
    p = plan(f=follower(positions={"ETH": D("9800")}), limits=limits)
    assert (p.reason, p.quantity, p.notional) == ("", D("0.004"), D("200"))
    assert p.detail == "capped to 200 by max_exposure"


def test_leverage_two_with_the_room_used_up_skips():
    limits = RiskLimits(max_position_notional=D("5000"), leverage_limit=D("2"))
    p = plan(f=follower(positions={"ETH": D("10000")}), limits=limits)
    assert p.reason == "max_exposure"
    assert p.detail == "no room left: exposure limit 10000 USD, exposed 10000 USD"


def test_derivative_is_allowed_with_leverage_above_one():
    signal = SignalFacts(symbol="BTC/USD:USD", side="buy", amount=D("0.1"), price=D("50000"),
                         master_equity=D("50000"))
    p = plan(signal=signal, limits=RiskLimits(max_position_notional=D("5000"), leverage_limit=D("1.5")))
    assert (p.reason, p.quantity) == ("", D("0.01"))


def test_derivative_exit_is_allowed_at_leverage_one():
    p = plan(signal=sell("1", symbol="BTC/USD:USD"), f=follower(held=D("0.01")))
    assert (p.reason, p.quantity) == ("", D("0.01"))


# --- tick rounding ----------------------------------------------------------------------------------
def test_guard_price_off_the_tick_rounds_toward_the_master_price_for_a_buy():
    # 43,210.17 x 1.005 = 43,426.22085 -> down to the 0.1 tick, so the limit stays inside the slippage: 43,426.2.
    market = btc_market(price=D("43210.17"))
    p = plan(signal=buy(price="43210.17"), market=market)
    assert p.guard_price == D("43426.2")
    assert (p.quantity, p.notional) == (D("0.01"), D("432.1017"))


def test_stop_price_off_the_tick_rounds_down():
    # 43,210.17 x 0.95 = 41,049.6615 -> down to the 0.1 tick: 41,049.6.
    limits = RiskLimits(max_position_notional=D("5000"), stop_loss_required=True, stop_loss_pct=D("5"))
    p = plan(signal=buy(price="43210.17"), market=btc_market(price=D("43210.17")), limits=limits)
    assert p.stop_price == D("41049.6") and p.stop_mode == "engine"


def test_without_a_tick_prices_are_not_rounded():
    limits = RiskLimits(max_position_notional=D("5000"), stop_loss_required=True, stop_loss_pct=D("5"))
    for tick in (None, D("0"), D("-0.1")):
        p = plan(signal=buy(price="43210.17"), market=btc_market(price=D("43210.17"), price_tick=tick), limits=limits)
        assert p.guard_price == D("43426.22085") and p.stop_price == D("41049.6615")


def test_no_stop_when_not_required_or_without_a_distance():
    assert plan().stop_price is None and plan().stop_mode == ""
    limits = RiskLimits(max_position_notional=D("5000"), stop_loss_required=True, stop_loss_pct=None)
    assert plan(limits=limits).stop_price is None


# --- the price guard ------------------------------------------------------------------------------
def test_price_guard_skips_a_price_that_moved_down_too_far():
    # 49,700 is 0.6% under the master's 50,000.
    p = plan(market=btc_market(price=D("49700")))
    assert p.reason == "price_moved" and p.reference_price == D("49700")
    assert p.detail == "price 49700 is 0.6000% from master 50000; max 0.5%"


@pytest.mark.parametrize(("price", "notional"), [("49750", "497.5"), ("50250", "502.5")])
def test_price_guard_allows_exactly_the_slippage_limit_either_way(price, notional):
    p = plan(market=btc_market(price=D(price)))
    assert (p.reason, p.quantity, p.notional) == ("", D("0.01"), D(notional))


def test_price_guard_uses_the_accounts_slippage_limit():
    limits = RiskLimits(max_position_notional=D("5000"), max_slippage_pct=D("1"))
    p = plan(market=btc_market(price=D("49600")), limits=limits)  # -0.8% within 1%
    assert p.reason == "" and p.guard_price == D("50500.0")  # 50,000 x 1.01


@pytest.mark.parametrize("price", [None, D("0"), D("-1")])
def test_missing_or_non_positive_price_is_unavailable(price):
    assert plan(market=btc_market(price=price)).reason == "price_unavailable"
    assert plan(signal=sell("1"), f=follower(held=D("1")), market=btc_market(price=price)).reason == \
        "price_unavailable"


# --- coins under 1 USD ----------------------------------------------------------------------------
DOGE = MarketFacts(amount_step=D("1"), price_tick=D("0.0001"), min_amount=D("1"), min_cost=D("1"),
                   price=D("0.0812"))


def doge_buy(price="0.0812") -> SignalFacts:
    return SignalFacts(symbol="DOGE/USD", side="buy", amount=D("10000"), price=D(price), master_equity=D("50000"))


def test_coin_under_a_dollar_is_sized_and_guarded_on_its_own_tick():
    # 10,000 x 5,000/50,000 = 1,000 DOGE = 81.2 USD; guard 0.0812 x 1.005 = 0.081606 -> down: 0.0816;
    # stop 0.0812 x 0.95 = 0.07714 -> down: 0.0771.
    limits = RiskLimits(max_position_notional=D("5000"), stop_loss_required=True, stop_loss_pct=D("5"))
    p = plan(signal=doge_buy(), market=DOGE, limits=limits)
    assert (p.reason, p.quantity, p.notional) == ("", D("1000"), D("81.2000"))
    assert (p.guard_price, p.stop_price) == (D("0.0816"), D("0.0771"))


def test_coin_under_a_dollar_capped_rounds_down_to_whole_units():
    # 100 USD position limit at 0.0812: 1,231.5 DOGE -> 1,231 units.
    p = plan(signal=doge_buy(), f=follower(equity="10000"), market=DOGE,
             limits=RiskLimits(max_position_notional=D("100")))
    assert (p.quantity, p.notional) == (D("1231"), D("99.9572"))


def test_coin_under_a_dollar_price_guard():
    # 0.0816 is 0.4926% above 0.0812 (passes), 0.0817 is 0.6158% (skipped).
    assert plan(signal=doge_buy(), market=MarketFacts(amount_step=D("1"), price=D("0.0816"))).reason == ""
    moved = plan(signal=doge_buy(), market=MarketFacts(amount_step=D("1"), price=D("0.0817")))
    assert moved.reason == "price_moved" and "0.6158%" in moved.detail


# --- the edges of each rule ---------------------------------------------------------------------------
def test_equity_exactly_at_the_minimum_balance_copies_down_to_the_minimum_cost():
    # 0.1 x 10/50,000 = 0.00002 BTC = 1 USD, exactly the venue's minimum cost.
    p = plan(f=follower(equity="10"))
    assert (p.reason, p.quantity, p.notional) == ("", D("0.00002"), D("1.00000"))


def test_below_min_balance_detail():
    p = plan(f=follower(equity="9.99"))
    assert p.detail == "equity 9.99 USD < minimum 10 USD"


def test_quantity_exactly_at_the_minimum_amount_passes():
    p = plan(market=btc_market(min_amount=D("0.01")))
    assert (p.reason, p.quantity) == ("", D("0.01"))
    below = plan(market=btc_market(min_amount=D("0.01001")))
    assert below.reason == "below_exchange_minimum" and below.detail == "quantity 0.01 < minimum amount 0.01001"


def test_minimum_cost_detail():
    p = plan(market=btc_market(min_cost=D("500.01")))
    assert p.reason == "below_exchange_minimum" and p.detail == "cost 500 < minimum cost 500.01"


def test_quantity_rounding_to_zero_is_below_the_minimum():
    p = plan(f=follower(equity="10"), market=btc_market(amount_step=D("0.0001"), min_amount=None, min_cost=None))
    assert p.reason == "below_exchange_minimum" and p.detail == "quantity rounds to 0 at step 0.0001"


def test_balance_exactly_at_the_maximum_age_is_fresh():
    assert plan(f=follower(equity_fetched_at=NOW - MAX_AGE)).reason == ""
    stale = plan(f=follower(equity_fetched_at=NOW - MAX_AGE - dt.timedelta(seconds=1)))
    assert stale.reason == "stale_balance" and stale.detail == "snapshot 901 s old > 900 s"


def test_notional_exactly_at_a_cap_is_not_capped():
    p = plan(limits=RiskLimits(max_position_notional=D("500")))
    assert (p.quantity, p.notional, p.detail) == (D("0.01"), D("500"), "")


def test_each_cap_names_itself_in_the_detail():
    # position limit 300 -> 0.006 BTC
    p = plan(limits=RiskLimits(max_position_notional=D("300")))
    assert (p.quantity, p.detail) == (D("0.006"), "capped to 300 by max_position_notional")
    # 5% of 5,000 = 250, holding 50 -> room 200 -> 0.004 BTC
    p = plan(f=follower(positions={"BTC": D("50")}),
             limits=RiskLimits(max_position_notional=D("5000"), max_position_pct=D("5")))
    assert (p.quantity, p.detail) == (D("0.004"), "capped to 200 by max_position_pct")


def test_position_pct_room_used_up_skips_with_the_numbers():
    p = plan(f=follower(positions={"BTC": D("1000")}), limits=LIMITS)
    assert p.reason == "max_position_pct"
    assert p.detail == "no room left: 20% of equity 5000 USD, holding 1000 USD"


def test_one_position_under_the_concurrency_limit_may_open():
    limits = RiskLimits(max_position_notional=D("5000"), max_concurrent_positions=3)
    assert plan(f=follower(positions={"ETH": D("10"), "SOL": D("10")}), limits=limits).reason == ""
    blocked = plan(f=follower(positions={"ETH": D("10"), "SOL": D("10"), "ADA": D("1")}), limits=limits)
    assert blocked.reason == "max_concurrent_positions" and blocked.detail == "3 open positions >= limit 3"


def test_daily_loss_exactly_at_the_percentage_limit_blocks():
    limits = RiskLimits(max_position_notional=D("5000"), max_daily_loss_pct=D("5"))
    assert daily_loss_breached(limits, start_of_day=D("5000"), equity=D("4750")) == "loss 5.00% >= limit 5%"
    assert daily_loss_breached(limits, start_of_day=D("5000"), equity=D("4751")) == ""


def test_daily_loss_amount_detail_and_no_loss_cases():
    limits = RiskLimits(max_position_notional=D("5000"), max_daily_loss_amount=D("200"), max_daily_loss_pct=D("1"))
    assert daily_loss_breached(limits, start_of_day=D("5000"), equity=D("4800")) == "loss 200 USD >= limit 200 USD"
    # 100 is under the amount limit but 2% is over the percentage limit
    assert daily_loss_breached(limits, start_of_day=D("5000"), equity=D("4900")) == "loss 2.00% >= limit 1%"
    assert daily_loss_breached(limits, start_of_day=D("5000"), equity=D("5100")) == ""  # a gain
    assert daily_loss_breached(limits, start_of_day=D("5000"), equity=D("5000")) == ""
    assert daily_loss_breached(limits, start_of_day=None, equity=D("1")) == ""
    assert daily_loss_breached(limits, start_of_day=D("5000"), equity=None) == ""


def test_daily_loss_percentage_needs_a_positive_start_of_day():
    limits = RiskLimits(max_position_notional=D("5000"), max_daily_loss_pct=D("1"))
    assert daily_loss_breached(limits, start_of_day=D("0"), equity=D("-50")) == ""


# --- sizing modes and exits ----------------------------------------------------------------------------
def test_fixed_notional_without_an_amount_is_skipped():
    p = plan(f=follower(sizing_mode="fixed_notional", fixed_notional=None))
    assert p.reason == "no_balance" and p.detail == "fixed_notional sizing without an amount"


def test_negative_master_equity_cannot_size_proportionally():
    assert plan(signal=buy(master_equity="-1")).reason == "master_balance_unavailable"


def test_proportional_multiplier_on_a_follower_with_more_equity_than_the_master():
    # 0.1 x 100,000/50,000 x 0.5 = 0.1 BTC = 5,000 USD; 20% of 100,000 = 20,000; position limit 5,000.
    p = plan(f=follower(equity="100000", multiplier=D("0.5")))
    assert (p.quantity, p.notional, p.detail) == (D("0.1"), D("5000"), "")


def test_master_exit_beyond_the_whole_position_closes_exactly_what_is_held():
    p = plan(signal=sell("1.5"), f=follower(held=D("0.02")))
    assert (p.quantity, p.detail) == (D("0.02"), "full exit of 0.02")


def test_partial_exit_detail_names_the_fraction():
    p = plan(signal=sell("0.25"), f=follower(held=D("0.02")))
    assert (p.quantity, p.notional, p.detail) == (D("0.005"), D("250"), "reduce 0.02 by fraction 0.25")


def test_exit_with_unknown_fraction_uses_the_followers_sizing_mode():
    # fixed notional 250 at the master's 50,000 = 0.005, under the 0.03 held
    p = plan(signal=sell(None), f=follower(held=D("0.03"), sizing_mode="fixed_notional", fixed_notional=D("250")))
    assert (p.quantity, p.detail) == (D("0.005"), "sized 0.005 (master fraction unknown), holds 0.03")
    skipped = plan(signal=sell(None), f=follower(held=D("0.03"), sizing_mode="fixed_notional"))
    assert skipped.reason == "no_balance"


def test_exit_skips_below_minimum_with_what_is_held():
    market = btc_market(min_amount=D("0.0001"))
    p = plan(signal=sell("0.5"), f=follower(held=D("0.0001")), market=market)
    assert p.detail == "quantity 0.00005 < minimum amount 0.0001 (holds 0.0001)"


def test_exits_are_market_orders_without_guard_or_stop():
    limits = RiskLimits(max_position_notional=D("5000"), stop_loss_required=True, stop_loss_pct=D("5"))
    p = plan(signal=sell("1"), f=follower(held=D("0.02")), limits=limits)
    assert (p.order_type, p.guard_price, p.stop_price, p.reference_price) == ("market", None, None, D("50000"))


def test_gates_before_the_balance_apply_to_exits_too():
    assert plan(signal=sell("1"), f=follower(held=D("1"), copy_enabled=False)).reason == "copy_disabled"
    assert plan(signal=sell("1"), f=follower(held=D("1"), has_credential=False)).reason == "no_credential"
    assert plan(signal=sell("1"), f=follower(held=D("1")), market=MarketFacts(listed=False)).detail == \
        "BTC/USD not listed on the follower's venue"
    assert plan(signal=sell("1"), f=follower(held=D("1")), market=btc_market(active=False)).detail == \
        "BTC/USD not active on the follower's venue"
    no_time = FollowerFacts(equity=D("5000"), held=D("1"))
    assert plan(signal=sell("1"), f=no_time).reason == "no_balance"


# --- edges found by the mutation run ---------------------------------------------------------------
def test_limits_default_to_the_documented_values():
    # DESIGN.md §6: 20% of equity per position, 5 positions, spot only, no stop, 0.5% slippage, 10 USD to copy.
    limits = RiskLimits(max_position_notional=D("100"))
    assert (limits.max_position_pct, limits.max_concurrent_positions, limits.allowed_instruments,
            limits.leverage_limit, limits.max_daily_loss_amount, limits.max_daily_loss_pct,
            limits.stop_loss_required, limits.stop_loss_pct, limits.max_slippage_pct, limits.min_balance_to_copy) == (
        D("20"), 5, (), D("1"), None, None, False, None, D("0.5"), D("10"))


def test_a_plan_says_whether_it_was_skipped():
    assert plan().skipped is False
    assert plan(f=follower(copy_enabled=False)).skipped is True


def test_a_loss_under_one_dollar_counts_against_the_limit():
    limits = RiskLimits(max_position_notional=D("5000"), max_daily_loss_amount=D("0.5"))
    assert daily_loss_breached(limits, start_of_day=D("10"), equity=D("9.5")) == "loss 0.5 USD >= limit 0.5 USD"


def test_a_start_of_day_equity_of_one_dollar_has_a_percentage():
    limits = RiskLimits(max_position_notional=D("5000"), max_daily_loss_pct=D("5"))
    assert daily_loss_breached(limits, start_of_day=D("1"), equity=D("0.9")) == "loss 10.00% >= limit 5%"


def test_less_than_a_dollar_of_room_is_still_room():
    # a 0.5 USD position limit at 50,000: 0.00001 BTC, on a venue with no minimum cost
    p = plan(limits=RiskLimits(max_position_notional=D("0.5")), market=btc_market(min_cost=None))
    assert (p.reason, p.quantity, p.notional) == ("", D("0.00001"), D("0.50000"))


def test_a_master_equity_of_one_dollar_sizes_proportionally():
    # 0.1 x 5,000 / 1 = 500 BTC, capped by 20% of equity (1,000 USD): 0.02 BTC
    p = plan(signal=buy(master_equity="1"))
    assert (p.reason, p.quantity) == ("", D("0.02"))
    assert p.detail == "capped to 5000 by max_position_notional; capped to 1000 by max_position_pct"


def test_a_master_exit_of_exactly_the_whole_position_is_a_full_exit():
    p = plan(signal=sell("1"), f=follower(held=D("0.02")))
    assert (p.quantity, p.detail) == (D("0.02"), "full exit of 0.02")


def test_skips_after_the_price_is_known_carry_the_reference_price():
    no_room = [
        plan(f=follower(positions={"BTC": D("300")}), limits=RiskLimits(max_position_notional=D("300"))),
        plan(f=follower(positions={"BTC": D("1000")})),
        plan(f=follower(positions={"ETH": D("5000")}), limits=RiskLimits(max_position_notional=D("5000"))),
        plan(market=btc_market(min_cost=D("600"))),
        plan(signal=sell("1"), f=follower(held=D("0"))),
        plan(signal=sell("0.5"), f=follower(held=D("0.00001"))),
    ]
    assert [(p.reason, p.reference_price) for p in no_room] == [
        ("max_position_notional", D("50000")), ("max_position_pct", D("50000")), ("max_exposure", D("50000")),
        ("below_exchange_minimum", D("50000")), ("no_position", D("50000")), ("below_exchange_minimum", D("50000"))]


def test_a_planned_copy_carries_the_followers_price_as_reference():
    p = plan(market=btc_market(price=D("50200")))
    assert (p.reason, p.reference_price, p.notional) == ("", D("50200"), D("502"))


def test_daily_loss_usage_is_the_loss_against_the_tightest_limit():
    both = RiskLimits(max_position_notional=D("5000"), max_daily_loss_amount=D("200"), max_daily_loss_pct=D("5"))
    assert daily_loss_usage(both, start_of_day=D("5000"), equity=D("4850")) == (D("150"), D("200"))
    pct_tighter = RiskLimits(max_position_notional=D("5000"), max_daily_loss_amount=D("400"), max_daily_loss_pct=D("5"))
    assert daily_loss_usage(pct_tighter, start_of_day=D("5000"), equity=D("4850")) == (D("150"), D("250"))
    amount_only = RiskLimits(max_position_notional=D("5000"), max_daily_loss_amount=D("400"))
    assert daily_loss_usage(amount_only, start_of_day=D("0"), equity=D("-10")) == (D("10"), D("400"))
    pct_only = RiskLimits(max_position_notional=D("5000"), max_daily_loss_pct=D("5"))
    assert daily_loss_usage(pct_only, start_of_day=D("0"), equity=D("-10")) is None  # no percentage of nothing
    assert daily_loss_usage(both, start_of_day=D("5000"), equity=D("5000")) is None  # no loss
    assert daily_loss_usage(both, start_of_day=D("5000"), equity=D("5001")) is None
    assert daily_loss_usage(both, start_of_day=None, equity=D("1")) is None
    assert daily_loss_usage(both, start_of_day=D("1"), equity=None) is None
    no_limit = RiskLimits(max_position_notional=D("5000"))
    assert daily_loss_usage(no_limit, start_of_day=D("5000"), equity=D("4000")) is None


def test_daily_loss_usage_agrees_with_the_breach_rule_at_the_limit():
    limits = RiskLimits(max_position_notional=D("5000"), max_daily_loss_pct=D("5"))
    loss, limit = daily_loss_usage(limits, start_of_day=D("5000"), equity=D("4750"))
    assert loss >= limit and daily_loss_breached(limits, start_of_day=D("5000"), equity=D("4750"))
    loss, limit = daily_loss_usage(limits, start_of_day=D("5000"), equity=D("4751"))
    assert loss < limit and not daily_loss_breached(limits, start_of_day=D("5000"), equity=D("4751"))
