"""Sizing, the risk gate, the venue's rules and the price guard, with exact numbers (no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from copytrading.sizing import (
    FollowerFacts,
    MarketFacts,
    RiskLimits,
    SignalFacts,
    copy_plan_compute,
)

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
MAX_AGE = dt.timedelta(minutes=15)
BTC = MarketFacts(amount_step=D("0.00001"), price_tick=D("0.1"), min_amount=D("0.00001"), min_cost=D("1"),
                  price=D("50000"))
LIMITS = RiskLimits(max_position_notional=D("5000"), max_position_pct=D("20"), max_concurrent_positions=5,
                    max_slippage_pct=D("0.5"), min_balance_to_copy=D("10"))


def buy(amount="0.1", price="50000", master_equity="50000") -> SignalFacts:
    return SignalFacts(symbol="BTC/USD", side="buy", amount=D(amount), price=D(price), master_equity=D(master_equity))


def sell(fraction) -> SignalFacts:
    return SignalFacts(symbol="BTC/USD", side="sell", amount=D("0.05"), price=D("50000"),
                       exit_fraction=None if fraction is None else D(fraction), master_equity=D("50000"))


def follower(equity="5000", **kw) -> FollowerFacts:
    return FollowerFacts(equity=D(equity), equity_fetched_at=NOW - dt.timedelta(minutes=1), **kw)


def plan(signal=None, f=None, limits=LIMITS, market=BTC):
    return copy_plan_compute(signal=signal or buy(), follower=f or follower(), limits=limits, market=market,
                             now=NOW, max_balance_age=MAX_AGE)


# --- sizing modes ---------------------------------------------------------------------------
def test_proportional_sizing_scales_by_equity_ratio():
    p = plan()  # 0.1 x 5000/50000
    assert (p.reason, p.quantity, p.notional) == ("", D("0.01"), D("500"))


def test_proportional_sizing_applies_the_account_multiplier():
    p = plan(f=follower(multiplier=D("1.5")))  # 0.1 x 0.1 x 1.5 = 0.015 -> 750 USD, under 20% of 5000
    assert p.quantity == D("0.015") and p.notional == D("750")


def test_multiplier_sizing_is_master_quantity_times_k():
    p = plan(f=follower(equity="100000", sizing_mode="multiplier", multiplier=D("0.05")))
    assert p.quantity == D("0.005") and p.notional == D("250")


def test_fixed_notional_sizing_is_amount_over_price():
    p = plan(f=follower(sizing_mode="fixed_notional", fixed_notional=D("250")))
    assert p.quantity == D("0.005") and p.notional == D("250")


def test_proportional_without_master_equity_is_skipped_with_its_reason():
    p = plan(signal=buy(master_equity="0"))
    assert p.reason == "master_balance_unavailable" and p.quantity == 0


# --- risk rules -----------------------------------------------------------------------------
def test_max_position_notional_caps_the_quantity():
    p = plan(limits=RiskLimits(max_position_notional=D("300")))
    assert p.quantity == D("0.006") and p.notional == D("300")


def test_max_position_notional_reached_skips():
    p = plan(f=follower(positions={"BTC": D("300")}), limits=RiskLimits(max_position_notional=D("300")))
    assert p.reason == "max_position_notional"


def test_max_position_pct_caps_to_a_share_of_equity():
    p = plan(limits=RiskLimits(max_position_notional=D("5000"), max_position_pct=D("5")))  # 5% of 5000 = 250
    assert p.quantity == D("0.005") and p.notional == D("250")


def test_max_position_pct_counts_what_is_already_held():
    p = plan(f=follower(positions={"BTC": D("1000")}))  # 20% of 5000 = 1000, all used
    assert p.reason == "max_position_pct"


def test_remaining_exposure_caps_the_quantity():
    p = plan(f=follower(positions={"ETH": D("800"), "SOL": D("4000")}))  # 5000 x leverage 1 - 4800 = 200
    assert p.quantity == D("0.004") and p.notional == D("200")


def test_no_exposure_left_skips():
    p = plan(f=follower(positions={"ETH": D("5000")}))
    assert p.reason == "max_exposure"


def test_max_concurrent_positions_blocks_a_new_instrument():
    limits = RiskLimits(max_position_notional=D("5000"), max_concurrent_positions=2)
    assert plan(f=follower(positions={"ETH": D("10"), "SOL": D("10")}), limits=limits).reason == \
        "max_concurrent_positions"
    # Adding to an instrument already held is not a new position.
    assert plan(f=follower(positions={"BTC": D("10"), "SOL": D("10")}), limits=limits).reason == ""


def test_instrument_not_allowed():
    limits = RiskLimits(max_position_notional=D("5000"), allowed_instruments=("ETH/USD",))
    assert plan(limits=limits).reason == "instrument_not_allowed"


def test_blocked_instrument_is_skipped_with_its_own_reason_for_entries_and_exits():
    limits = RiskLimits(max_position_notional=D("5000"), blocked_instruments=("BTC/USD",))
    entry = plan(limits=limits)
    assert (entry.reason, entry.quantity) == ("instrument_blocked", D("0"))
    assert "BTC/USD" in entry.detail
    # The account's own BTC is not a copy to unwind: the master's exit is not copied either.
    assert plan(signal=sell("0.5"), f=follower(held=D("0.02")), limits=limits).reason == "instrument_blocked"
    other = RiskLimits(max_position_notional=D("5000"), blocked_instruments=("XRP/USD",))
    assert plan(limits=other).reason == ""


def test_derivative_needs_leverage():
    signal = SignalFacts(symbol="BTC/USD:USD", side="buy", amount=D("0.1"), price=D("50000"),
                         master_equity=D("50000"))
    assert plan(signal=signal).reason == "leverage_not_allowed"


@pytest.mark.parametrize(("start", "equity", "limits", "reason"), [
    ("5000", "4700", RiskLimits(max_position_notional=D("5000"), max_daily_loss_pct=D("5")), "daily_loss_limit"),
    ("5000", "4900", RiskLimits(max_position_notional=D("5000"), max_daily_loss_pct=D("5")), ""),
    ("5000", "4800", RiskLimits(max_position_notional=D("5000"), max_daily_loss_amount=D("200")), "daily_loss_limit"),
    ("5000", "4801", RiskLimits(max_position_notional=D("5000"), max_daily_loss_amount=D("200")), ""),
])
def test_daily_loss_limit_blocks_entries(start, equity, limits, reason):
    assert plan(f=follower(equity=equity, start_of_day_equity=D(start)), limits=limits).reason == reason


def test_daily_loss_limit_still_allows_exits():
    limits = RiskLimits(max_position_notional=D("5000"), max_daily_loss_pct=D("5"))
    p = plan(signal=sell("0.5"), f=follower(equity="4000", start_of_day_equity=D("5000"), held=D("0.02")),
             limits=limits)
    assert p.reason == "" and p.quantity == D("0.01")


def test_below_min_balance():
    assert plan(f=follower(equity="9.99")).reason == "below_min_balance"


def test_no_balance_and_stale_balance():
    assert plan(f=FollowerFacts()).reason == "no_balance"
    stale = FollowerFacts(equity=D("5000"), equity_fetched_at=NOW - dt.timedelta(minutes=16))
    assert plan(f=stale).reason == "stale_balance"


def test_copy_disabled_and_no_credential():
    assert plan(f=follower(copy_enabled=False)).reason == "copy_disabled"
    assert plan(f=follower(has_credential=False)).reason == "no_credential"


def test_market_unavailable():
    assert plan(market=MarketFacts(listed=False)).reason == "market_unavailable"
    assert plan(market=MarketFacts(amount_step=D("0.00001"), price=D("50000"), active=False)).reason == \
        "market_unavailable"


# --- venue rules ----------------------------------------------------------------------------
def test_quantity_rounds_down_to_the_step():
    p = plan(f=follower(equity="4999"))  # 0.1 x 4999/50000 = 0.009998 -> 0.00999
    assert p.quantity == D("0.00999") and p.notional == D("499.5")


def test_below_exchange_minimum_is_skipped_not_rounded_up():
    market = MarketFacts(amount_step=D("0.00001"), price_tick=D("0.1"), min_amount=D("0.0001"), min_cost=D("1"),
                         price=D("50000"))
    p = plan(f=follower(equity="20"), market=market)  # 0.00004 < 0.0001
    assert p.reason == "below_exchange_minimum" and p.quantity == 0
    market_cost = MarketFacts(amount_step=D("0.00001"), min_amount=D("0.00001"), min_cost=D("10"), price=D("50000"))
    assert plan(f=follower(equity="20"), market=market_cost).reason == "below_exchange_minimum"  # cost 2 < 10


# --- price guard ----------------------------------------------------------------------------
def test_price_guard_skips_when_follower_price_moved_too_far():
    moved = MarketFacts(amount_step=D("0.00001"), price_tick=D("0.1"), price=D("50300"))  # +0.6%
    assert plan(market=moved).reason == "price_moved"


def test_price_guard_passes_within_slippage_and_sets_ioc_limit():
    near = MarketFacts(amount_step=D("0.00001"), price_tick=D("0.1"), price=D("50200"))  # +0.4%
    p = plan(market=near)
    assert p.reason == "" and p.order_type == "ioc" and p.guard_price == D("50250.0")
    assert p.quantity == D("0.01") and p.notional == D("502")  # valued at the follower's price


# --- exits ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("fraction", "held", "expected"), [
    ("0.5", "0.03", "0.015"),
    ("0.333", "0.03", "0.00999"),
    ("1", "0.03", "0.03"),
    ("1", "0.0300009", "0.03"),  # never more than held: rounds down
])
def test_exits_reduce_pro_rata_and_never_more_than_held(fraction, held, expected):
    p = plan(signal=sell(fraction), f=follower(held=D(held)))
    assert p.reason == "" and p.quantity == D(expected) and p.quantity <= D(held) and p.order_type == "market"


def test_exit_without_position_is_skipped():
    assert plan(signal=sell("0.5"), f=follower(held=D("0"))).reason == "no_position"


def test_exit_below_minimum_is_skipped():
    market = MarketFacts(amount_step=D("0.00001"), min_amount=D("0.0001"), min_cost=D("1"), price=D("50000"))
    assert plan(signal=sell("0.5"), f=follower(held=D("0.0001")), market=market).reason == "below_exchange_minimum"


# --- stops ----------------------------------------------------------------------------------
def test_required_stop_gets_a_stop_price_enforced_by_the_engine():
    limits = RiskLimits(max_position_notional=D("5000"), stop_loss_required=True, stop_loss_pct=D("5"))
    p = plan(limits=limits)
    assert p.stop_price == D("47500.0") and p.stop_mode == "engine"
    venue_stops = MarketFacts(amount_step=D("0.00001"), price_tick=D("0.1"), price=D("50000"), venue_stops=True)
    assert plan(limits=limits, market=venue_stops).stop_mode == "venue"


def test_exit_with_unknown_master_fraction_is_sized_never_a_silent_full_close():
    p = plan(signal=sell(None), f=follower(held=D("0.03")))  # 0.05 x 5000/50000 = 0.005
    assert p.reason == "" and p.quantity == D("0.005")
    capped = plan(signal=sell(None), f=follower(held=D("0.003")))
    assert capped.quantity == D("0.003")
