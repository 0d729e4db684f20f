"""Pure planning logic for one follower (DESIGN.md §5 and §6): sizing, the risk gate, the venue's
rules and the price guard. No database and no network here, so every rule is tested with exact
numbers; `copytrading.planning` gathers the facts and writes the results.

Money: equity and limits are USD; notionals are in the market's quote asset, taken as USD for USD
and USD stablecoin quotes (the PAPER and Kraken/Coinbase/OKX spot markets we copy)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from core.assets import symbol_base
from core.decimals import format_decimal as _n
from core.decimals import round_down_to_step

from .models import SkipReason

HUNDRED = Decimal("100")
ZERO = Decimal("0")


@dataclass(frozen=True)
class RiskLimits:
    max_position_notional: Decimal
    max_position_pct: Decimal = Decimal("20")
    max_concurrent_positions: int = 5
    allowed_instruments: tuple[str, ...] = ()
    blocked_instruments: tuple[str, ...] = ()
    leverage_limit: Decimal = Decimal("1")
    max_daily_loss_amount: Decimal | None = None
    max_daily_loss_pct: Decimal | None = None
    stop_loss_required: bool = False
    stop_loss_pct: Decimal | None = None
    max_slippage_pct: Decimal = Decimal("0.5")
    min_balance_to_copy: Decimal = Decimal("10")

    @classmethod
    def from_profile(cls, profile) -> RiskLimits:
        return cls(
            max_position_notional=profile.max_position_notional, max_position_pct=profile.max_position_pct,
            max_concurrent_positions=profile.max_concurrent_positions,
            allowed_instruments=tuple(s.upper() for s in (profile.allowed_instruments or [])),
            # getattr: profiles built before the blocklist existed (plain namespaces in tests) have none.
            blocked_instruments=tuple(s.upper() for s in (getattr(profile, "blocked_instruments", None) or [])),
            leverage_limit=profile.leverage_limit, max_daily_loss_amount=profile.max_daily_loss_amount,
            max_daily_loss_pct=profile.max_daily_loss_pct, stop_loss_required=profile.stop_loss_required,
            stop_loss_pct=profile.stop_loss_pct, max_slippage_pct=profile.max_slippage_pct,
            min_balance_to_copy=profile.min_balance_to_copy,
        )


@dataclass(frozen=True)
class SignalFacts:
    symbol: str
    side: str  # buy | sell
    amount: Decimal
    price: Decimal  # master's fill price
    exit_fraction: Decimal | None = None  # sells: fraction of the master position closed
    master_equity: Decimal | None = None

    @property
    def is_exit(self) -> bool:
        return self.side == "sell"

    @property
    def base(self) -> str:
        return symbol_base(self.symbol)


@dataclass(frozen=True)
class FollowerFacts:
    copy_enabled: bool = True
    sizing_mode: str = "proportional"
    multiplier: Decimal = Decimal("1")
    fixed_notional: Decimal | None = None
    has_credential: bool = True
    equity: Decimal | None = None  # USD, latest good snapshot
    equity_fetched_at: dt.datetime | None = None
    start_of_day_equity: Decimal | None = None
    held: Decimal = ZERO  # base asset held on the follower's venue
    positions: dict[str, Decimal] = field(default_factory=dict)  # asset -> USD value of open positions


@dataclass(frozen=True)
class MarketFacts:
    """The follower venue's rules and price for the symbol; rules None = market not listed."""

    amount_step: Decimal | None = None
    price_tick: Decimal | None = None
    min_amount: Decimal | None = None
    min_cost: Decimal | None = None
    active: bool = True
    price: Decimal | None = None
    listed: bool = True
    venue_stops: bool = False  # the venue takes stop orders through our client interface


@dataclass
class CopyPlan:
    quantity: Decimal = ZERO
    notional: Decimal = ZERO
    reason: str = ""  # a SkipReason value when skipped
    detail: str = ""
    reference_price: Decimal | None = None
    guard_price: Decimal | None = None
    order_type: str = "market"
    stop_price: Decimal | None = None
    stop_mode: str = ""

    @property
    def skipped(self) -> bool:
        return bool(self.reason)


def _skip(reason: SkipReason, detail: str, **extra) -> CopyPlan:
    return CopyPlan(reason=reason.value, detail=detail, **extra)


def _round_to_tick(price: Decimal, tick: Decimal | None, *, up: bool) -> Decimal:
    if not tick or tick <= 0:
        return price
    return (price / tick).to_integral_value(rounding=ROUND_UP if up else ROUND_DOWN) * tick


def daily_loss_breached(limits: RiskLimits, *, start_of_day: Decimal | None, equity: Decimal | None) -> str:
    """'' when within limits, else the numbers that breach (for the skip detail and the alert)."""
    if start_of_day is None or equity is None:
        return ""
    loss = start_of_day - equity
    if loss <= 0:
        return ""
    if limits.max_daily_loss_amount is not None and loss >= limits.max_daily_loss_amount:
        return f"loss {_n(loss)} USD >= limit {_n(limits.max_daily_loss_amount)} USD"
    if limits.max_daily_loss_pct is not None and start_of_day > 0:
        pct = loss / start_of_day * HUNDRED
        if pct >= limits.max_daily_loss_pct:
            return f"loss {pct.quantize(Decimal('0.01'))}% >= limit {_n(limits.max_daily_loss_pct)}%"
    return ""


def daily_loss_usage(limits: RiskLimits, *, start_of_day: Decimal | None,
                     equity: Decimal | None) -> tuple[Decimal, Decimal] | None:
    """(loss today, the tightest daily loss limit) in USD, or None without a reading, a loss or a limit.
    The limit is breached when loss >= limit (the same rule as daily_loss_breached)."""
    if start_of_day is None or equity is None or start_of_day - equity <= 0:
        return None
    caps = []
    if limits.max_daily_loss_amount is not None:
        caps.append(limits.max_daily_loss_amount)
    if limits.max_daily_loss_pct is not None and start_of_day > 0:
        caps.append(start_of_day * limits.max_daily_loss_pct / HUNDRED)
    return (start_of_day - equity, min(caps)) if caps else None


def _within_venue_minimum(qty: Decimal, price: Decimal, market: MarketFacts) -> str:
    if qty <= 0:
        return f"quantity rounds to 0 at step {_n(market.amount_step)}"
    if market.min_amount is not None and qty < market.min_amount:
        return f"quantity {_n(qty)} < minimum amount {_n(market.min_amount)}"
    if market.min_cost is not None and qty * price < market.min_cost:
        return f"cost {_n(qty * price)} < minimum cost {_n(market.min_cost)}"
    return ""


def copy_plan_compute(
    *, signal: SignalFacts, follower: FollowerFacts, limits: RiskLimits, market: MarketFacts,
    now: dt.datetime, max_balance_age: dt.timedelta,
) -> CopyPlan:
    """Size one follower's copy and apply every rule in the documented order. Returns the plan
    (quantity > 0, not skipped) or the first rule that blocks it, with the numbers behind it."""
    if not follower.copy_enabled:
        return _skip(SkipReason.COPY_DISABLED, "copy switched off for this account")
    if not follower.has_credential:
        return _skip(SkipReason.NO_CREDENTIAL, "no active broker credential")
    symbol = signal.symbol.upper()
    # Exits too: what an account holds of a blocked market is its own trading, not a copy to unwind.
    if symbol in limits.blocked_instruments:
        return _skip(SkipReason.INSTRUMENT_BLOCKED, f"{symbol} is in the account's blocked instruments")
    if not signal.is_exit:
        if limits.allowed_instruments and symbol not in limits.allowed_instruments:
            return _skip(SkipReason.INSTRUMENT_NOT_ALLOWED, f"{symbol} not in {', '.join(limits.allowed_instruments)}")
        if ":" in symbol and limits.leverage_limit <= 1:
            return _skip(SkipReason.LEVERAGE_NOT_ALLOWED, f"{symbol} is a derivative; leverage limit is 1 (spot only)")
    if not market.listed or not market.active:
        return _skip(SkipReason.MARKET_UNAVAILABLE, f"{symbol} not {'active' if market.listed else 'listed'} "
                                                    "on the follower's venue")
    if follower.equity is None or follower.equity_fetched_at is None:
        return _skip(SkipReason.NO_BALANCE, "no good balance snapshot")
    age = now - follower.equity_fetched_at
    if age > max_balance_age:
        return _skip(SkipReason.STALE_BALANCE, f"snapshot {int(age.total_seconds())} s old > "
                                               f"{int(max_balance_age.total_seconds())} s")
    price = market.price
    if price is None or price <= 0:
        return _skip(SkipReason.PRICE_UNAVAILABLE, "no price from the follower's venue")
    step = market.amount_step or ZERO

    if signal.is_exit:
        return _plan_exit(signal=signal, follower=follower, market=market, price=price, step=step)

    equity = follower.equity
    if equity < limits.min_balance_to_copy:
        return _skip(SkipReason.BELOW_MIN_BALANCE,
                     f"equity {_n(equity)} USD < minimum {_n(limits.min_balance_to_copy)} USD")
    breach = daily_loss_breached(limits, start_of_day=follower.start_of_day_equity, equity=equity)
    if breach:
        return _skip(SkipReason.DAILY_LOSS_LIMIT, breach)
    deviation = abs(price - signal.price) / signal.price * HUNDRED
    if deviation > limits.max_slippage_pct:
        return _skip(SkipReason.PRICE_MOVED, f"price {_n(price)} is {deviation.quantize(Decimal('0.0001'))}% from "
                                             f"master {_n(signal.price)}; max {_n(limits.max_slippage_pct)}%",
                     reference_price=price)

    # Sizing (DESIGN.md §5).
    qty, skip = _sized(signal=signal, follower=follower, equity=equity)
    if skip is not None:
        return skip

    # Risk caps, in notional at the follower's price.
    base = signal.base
    held_value = follower.positions.get(base, ZERO)
    if base not in follower.positions and len(follower.positions) >= limits.max_concurrent_positions:
        return _skip(SkipReason.MAX_CONCURRENT_POSITIONS,
                     f"{len(follower.positions)} open positions >= limit {limits.max_concurrent_positions}")
    notional = qty * price
    exposed = sum(follower.positions.values(), ZERO)
    caps = [
        (SkipReason.MAX_POSITION_NOTIONAL, limits.max_position_notional - held_value,
         f"position limit {_n(limits.max_position_notional)} USD, holding {_n(held_value)} USD"),
        (SkipReason.MAX_POSITION_PCT, equity * limits.max_position_pct / HUNDRED - held_value,
         f"{_n(limits.max_position_pct)}% of equity {_n(equity)} USD, holding {_n(held_value)} USD"),
        (SkipReason.MAX_EXPOSURE, equity * limits.leverage_limit - exposed,
         f"exposure limit {_n(equity * limits.leverage_limit)} USD, exposed {_n(exposed)} USD"),
    ]
    details = []
    for reason, room, text in caps:
        if room <= 0:
            return _skip(reason, f"no room left: {text}", reference_price=price)
        if notional > room:
            notional = room
            details.append(f"capped to {_n(room)} by {reason.value}")
    qty = min(qty, notional / price)
    qty = round_down_to_step(qty, step)
    below = _within_venue_minimum(qty, price, market)
    if below:
        return _skip(SkipReason.BELOW_EXCHANGE_MINIMUM, below, reference_price=price)

    plan = CopyPlan(quantity=qty, notional=qty * price, reference_price=price, detail="; ".join(details))
    # Entries go as IOC limit orders at the guard price, so a fill never lands beyond the slippage limit.
    slip = limits.max_slippage_pct / HUNDRED
    up = signal.side == "buy"
    plan.guard_price = _round_to_tick(signal.price * (1 + slip if up else 1 - slip), market.price_tick, up=not up)
    plan.order_type = "ioc"
    if limits.stop_loss_required and limits.stop_loss_pct:
        plan.stop_price = _round_to_tick(signal.price * (1 - limits.stop_loss_pct / HUNDRED), market.price_tick,
                                         up=False)
        plan.stop_mode = "venue" if market.venue_stops else "engine"
    return plan


def _sized(*, signal: SignalFacts, follower: FollowerFacts, equity: Decimal) -> tuple[Decimal, CopyPlan | None]:
    if follower.sizing_mode == "multiplier":
        return signal.amount * follower.multiplier, None
    if follower.sizing_mode == "fixed_notional":
        if not follower.fixed_notional:
            return ZERO, _skip(SkipReason.NO_BALANCE, "fixed_notional sizing without an amount")
        return follower.fixed_notional / signal.price, None
    if not signal.master_equity or signal.master_equity <= 0:
        return ZERO, _skip(SkipReason.MASTER_BALANCE_UNAVAILABLE, "master equity unknown; proportional sizing needs it")
    return signal.amount * (equity / signal.master_equity) * follower.multiplier, None


def _plan_exit(*, signal: SignalFacts, follower: FollowerFacts, market: MarketFacts, price: Decimal,
               step: Decimal) -> CopyPlan:
    held = follower.held
    if held <= 0:
        return _skip(SkipReason.NO_POSITION, f"holds no {signal.base}", reference_price=price)
    fraction = signal.exit_fraction
    if fraction is None:
        # The master's position is unknown, so the fraction is too: size the sell like an entry
        # (never a silent full close), and still never more than held.
        sized, skip = _sized(signal=signal, follower=follower, equity=follower.equity or ZERO)
        if skip is not None:
            return skip
        qty, how = min(sized, held), f"sized {_n(sized)} (master fraction unknown), holds {_n(held)}"
    elif fraction >= 1:
        qty, how = held, f"full exit of {_n(held)}"  # a full master exit closes the whole position
    else:
        qty, how = min(held * fraction, held), f"reduce {_n(held)} by fraction {_n(fraction)}"
    qty = round_down_to_step(qty, step)
    below = _within_venue_minimum(qty, price, market)
    if below:
        return _skip(SkipReason.BELOW_EXCHANGE_MINIMUM, f"{below} (holds {_n(held)})", reference_price=price)
    return CopyPlan(quantity=qty, notional=qty * price, reference_price=price, order_type="market", detail=how)
