"""Planning: one CopyOrder per eligible follower for a signal, written in bulk.

Facts are gathered first (followers, credentials, balances in bulk, each follower venue's market
rules and price once per venue), outside the write transaction; the pure rules in sizing.py
decide each plan; the plans and the signal's new status are written in one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.selectors import account_master, accounts_copy_followers
from brokers.clients.base import BrokerError
from brokers.market_data import venue_markets, venue_price
from brokers.selectors import credential_rows_active
from core.db import rows_insert
from core.decimals import format_decimal

from .daily_loss import DailyLossBreach, daily_losses_handle
from .execution import copy_orders_enqueue
from .models import CopyOrder, EngineMode, MasterSignal, SkipReason
from .selectors import (
    BalanceFacts,
    balances_for_accounts,
    engine_mode_get,
    followers_read,
    signals_received_before,
)
from .sizing import (
    CopyPlan,
    FollowerFacts,
    MarketFacts,
    SignalFacts,
    copy_plan_compute,
    daily_loss_usage,
)

logger = logging.getLogger("nija.copytrading")

# Venues whose client in brokers/ places stop orders at the venue. The BrokerClient interface has
# no stop order today, so every required stop is enforced by the engine (see README "Copy engine").
VENUE_STOP_SUPPORT: frozenset[str] = frozenset()


def max_balance_age() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "NIJA_COPY_BALANCE_MAX_AGE", 900))


def client_order_id_for(*, signal_id: int, account_id: int) -> str:
    """Deterministic, 18 characters of [a-z0-9]: accepted as Kraken cl_ord_id free text, OKX
    clOrdId (alphanumeric, <= 32), Coinbase and Alpaca client_order_id. Keyed with SECRET_KEY so a
    second installation (or a rebuilt database) never reuses an id a venue has already seen."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"copy:{signal_id}:{account_id}".encode(), hashlib.sha256)
    return "nj" + digest.hexdigest()[:16]


# --- venue facts ------------------------------------------------------------------------------
def venue_market_facts(*, venue: str, symbol: str, sandbox: bool = False,
                       credential_id: int | None = None) -> tuple[MarketFacts, str]:
    """The symbol's rules and current price on `venue`, from its public market data (a credential
    only for a venue that serves none without a key). A failure becomes an unlisted market or a
    missing price with the venue's message."""
    try:
        markets = venue_markets(venue=venue, sandbox=sandbox, credential_id=credential_id)
    except BrokerError as exc:
        return MarketFacts(listed=False), f"markets unavailable: {exc.venue_message}"
    rules = markets.get(symbol)
    if rules is None:
        return MarketFacts(listed=False), f"{symbol} not listed on {venue}"
    try:
        price = venue_price(venue=venue, symbol=symbol, sandbox=sandbox, credential_id=credential_id)
        problem = ""
    except BrokerError as exc:
        price, problem = None, f"price unavailable: {exc.venue_message}"
    return MarketFacts(
        amount_step=rules.amount_step, price_tick=rules.price_tick, min_amount=rules.min_amount,
        min_cost=rules.min_cost, active=rules.active, price=price, listed=True,
        venue_stops=venue in VENUE_STOP_SUPPORT,
    ), problem


# --- exit fraction ----------------------------------------------------------------------------
def exit_fraction_compute(*, signal: MasterSignal, master_balances: BalanceFacts | None) -> Decimal | None:
    """Fraction of the master position a sell closed, from the master's latest snapshot. A snapshot
    taken before the trade holds the pre-trade position; one taken after holds what is left."""
    if master_balances is None or master_balances.fetched_at is None:
        return None
    held = master_balances.holdings.get(signal.venue, {}).get(signal.base_asset)
    if held is None:
        return None
    before = held if master_balances.fetched_at <= signal.executed_at else held + signal.amount
    if before <= 0:
        return None
    return min(Decimal("1"), signal.amount / before)


# --- planning ---------------------------------------------------------------------------------
@dataclass
class PlanSummary:
    planned: int = 0
    observed: int = 0
    skipped: int = 0
    by_reason: dict[str, int] | None = None


def _pick_credential(credentials: list, venue: str):
    same = [c for c in credentials if c.venue == venue]
    return (same or credentials or [None])[0]


def _observed_signal_count() -> int:
    return MasterSignal.objects.filter(mode=EngineMode.Mode.OBSERVE).exclude(planned_at=None).count()


def signal_plan(*, signal: MasterSignal, now: dt.datetime | None = None) -> PlanSummary:
    """Plan the copies of a stored signal. Claims the signal (RECEIVED -> planning) so two callers
    never plan it twice; returns what was planned."""
    now = now or timezone.now()
    mode = engine_mode_get()
    if mode == EngineMode.Mode.OFF:
        MasterSignal.objects.filter(pk=signal.pk, status=MasterSignal.Status.RECEIVED).update(
            status=MasterSignal.Status.IGNORED, mode=mode, planned_at=now)
        signal.refresh_from_db()
        logger.info("Copy engine OFF - signal #%s %s %s %s on %s stored, not planned",
                    signal.pk, signal.side.upper(), format_decimal(signal.amount), signal.symbol, signal.venue)
        return PlanSummary(by_reason={})

    followers = followers_read()
    ids = [a.id for a in followers]
    credentials: dict[int, list] = {}
    # a subquery, not the ids: a 5,000-literal IN list costs more to build and parse than the rows
    for row in credential_rows_active(account_ids=accounts_copy_followers().values("id")):
        credentials.setdefault(row["account_id"], []).append(
            SimpleNamespace(pk=row["id"], venue=row["venue"], is_paper=row["is_paper"]))
    master = account_master()
    balances = balances_for_accounts(account_ids=ids + ([master.id] if master else []), now=now)
    master_balances = balances.get(master.id) if master else None
    master_equity = master_balances.equity_usd if master_balances else None

    exit_fraction = signal.exit_fraction
    if signal.is_exit and exit_fraction is None:
        exit_fraction = exit_fraction_compute(signal=signal, master_balances=master_balances)
        signal.exit_fraction = exit_fraction
        signal.exit_fraction_source = "computed" if exit_fraction is not None else "unknown"

    facts = SignalFacts(symbol=signal.symbol, side=signal.side, amount=signal.amount, price=signal.price,
                        exit_fraction=exit_fraction, master_equity=master_equity)
    chosen = {a.id: _pick_credential(credentials.get(a.id, []), signal.venue) for a in followers}
    venue_facts: dict[tuple[str, bool], tuple[MarketFacts, str]] = {}
    for cred in chosen.values():
        if cred is not None and (cred.venue, cred.is_paper) not in venue_facts:
            venue_facts[(cred.venue, cred.is_paper)] = venue_market_facts(
                venue=cred.venue, symbol=signal.symbol, sandbox=cred.is_paper, credential_id=cred.pk)

    age = max_balance_age()
    orders: list[PlannedOrder] = []
    loss_usage: dict[int, tuple[Decimal, Decimal]] = {}  # account id -> (loss today, limit), USD
    for account in followers:
        cred = chosen[account.id]
        cs = account.copy_settings
        bal = balances.get(account.id)
        market, problem = venue_facts[(cred.venue, cred.is_paper)] if cred else (MarketFacts(), "")
        follower = FollowerFacts(
            copy_enabled=cs.copy_enabled if cs else True,
            sizing_mode=cs.sizing_mode if cs else "proportional",
            multiplier=cs.multiplier if cs else Decimal("1"),
            fixed_notional=cs.fixed_notional if cs else None,
            has_credential=cred is not None,
            equity=bal.equity_usd if bal else None, equity_fetched_at=bal.fetched_at if bal else None,
            start_of_day_equity=bal.start_of_day_equity if bal else None,
            held=(bal.holdings.get(cred.venue, {}).get(signal.base_asset, Decimal("0")) if bal and cred
                  else Decimal("0")),
            positions=bal.positions if bal else {},
        )
        plan = copy_plan_compute(signal=facts, follower=follower, limits=account.limits, market=market, now=now,
                                 max_balance_age=age)
        if plan.reason in (SkipReason.MARKET_UNAVAILABLE, SkipReason.PRICE_UNAVAILABLE) and problem:
            plan.detail = problem
        orders.append(_order_from_plan(signal=signal, account_id=account.id, credential=cred, plan=plan, mode=mode,
                                       now=now))
        if not facts.is_exit:
            usage = daily_loss_usage(account.limits, start_of_day=follower.start_of_day_equity, equity=follower.equity)
            if usage:
                loss_usage[account.id] = usage

    with transaction.atomic():
        claimed = MasterSignal.objects.filter(pk=signal.pk, status=MasterSignal.Status.RECEIVED).update(
            status=MasterSignal.Status.OBSERVED if mode == EngineMode.Mode.OBSERVE else MasterSignal.Status.EXECUTING,
            mode=mode, planned_at=now, master_equity_usd=master_equity, exit_fraction=signal.exit_fraction,
            exit_fraction_source=signal.exit_fraction_source,
        )
        if claimed != 1:  # another caller planned it already
            signal.refresh_from_db()
            return PlanSummary(by_reason={})
        copy_orders_insert(orders)
        if mode == EngineMode.Mode.LIVE and signal.is_exit and exit_fraction is not None and exit_fraction >= 1:
            # A full exit sells the position the engine's stops were guarding.
            exiting = [o.account_id for o in orders if o.status == CopyOrder.Status.PLANNED]
            CopyOrder.objects.filter(account_id__in=exiting, symbol=signal.symbol, stop_state="armed").update(
                stop_state="cleared")
        live_ids = list(CopyOrder.objects.filter(signal_id=signal.pk, status=CopyOrder.Status.PLANNED)
                        .order_by("id").values_list("id", flat=True))
        if mode == EngineMode.Mode.LIVE and live_ids:
            copy_orders_enqueue(signal_id=signal.pk, order_ids=live_ids)
    signal.refresh_from_db()
    if mode == EngineMode.Mode.LIVE and not live_ids:
        MasterSignal.objects.filter(pk=signal.pk).update(status=MasterSignal.Status.COMPLETED)
        signal.refresh_from_db()
    summary = _summarize(orders)
    breaches = [DailyLossBreach(account_id=o.account_id, detail=o.detail, signal_id=o.signal_id)
                for o in orders if o.reason == SkipReason.DAILY_LOSS_LIMIT]
    daily_losses_handle(breaches=breaches, usage=loss_usage, day=now.date())
    if mode == EngineMode.Mode.OBSERVE and logger.isEnabledFor(logging.INFO):
        # a line per follower: not built (nor the count queried) when nothing would log it
        _log_observe(signal=signal, orders=orders, accounts={a.id: a for a in followers})
    else:
        logger.info("LIVE - signal #%s %s %s %s on %s: %s orders to send, %s skipped %s", signal.pk,
                    signal.side.upper(), format_decimal(signal.amount), signal.symbol, signal.venue,
                    summary.planned, summary.skipped, summary.by_reason)
    return summary


@dataclass(slots=True)
class PlannedOrder:
    """The columns planning sets on one follower's CopyOrder; every other column takes its model
    default. A plain object: 5,000 CopyOrder instances cost more to build than to plan."""

    signal_id: int
    account_id: int
    credential_id: int | None
    venue: str
    symbol: str
    side: str
    order_type: str
    is_exit: bool
    quantity: Decimal
    notional: Decimal
    quote_currency: str
    reference_price: Decimal | None
    guard_price: Decimal | None
    client_order_id: str
    status: str
    reason: str
    detail: str
    stop_mode: str
    stop_price: Decimal | None
    created_at: dt.datetime


def copy_orders_insert(orders: list[PlannedOrder]) -> None:
    """A plan's rows in one statement (COPY on PostgreSQL). bulk_create compiles a statement per
    batch (SQLite's 999-parameter limit makes those ~30 rows) and preps every cell."""
    rows_insert(orders, model=CopyOrder)


def _order_from_plan(*, signal: MasterSignal, account_id: int, credential, plan: CopyPlan, mode: str,
                     now: dt.datetime) -> PlannedOrder:
    if plan.skipped:
        status = CopyOrder.Status.SKIPPED
    elif mode == EngineMode.Mode.OBSERVE:
        status = CopyOrder.Status.OBSERVED
    else:
        status = CopyOrder.Status.PLANNED
    return PlannedOrder(
        signal_id=signal.pk, account_id=account_id, credential_id=credential.pk if credential else None,
        venue=credential.venue if credential else "", symbol=signal.symbol, side=signal.side,
        order_type=plan.order_type, is_exit=signal.is_exit, quantity=plan.quantity, notional=plan.notional,
        quote_currency=signal.quote_asset, reference_price=plan.reference_price, guard_price=plan.guard_price,
        client_order_id=client_order_id_for(signal_id=signal.pk, account_id=account_id), status=status,
        reason=plan.reason, detail=plan.detail[:2000], stop_mode=plan.stop_mode, stop_price=plan.stop_price,
        created_at=now,
    )


def _summarize(orders: list[PlannedOrder]) -> PlanSummary:
    summary = PlanSummary(by_reason={})
    for order in orders:
        if order.status == CopyOrder.Status.SKIPPED:
            summary.skipped += 1
            summary.by_reason[order.reason] = summary.by_reason.get(order.reason, 0) + 1
        elif order.status == CopyOrder.Status.OBSERVED:
            summary.observed += 1
        else:
            summary.planned += 1
    return summary


def _log_observe(*, signal: MasterSignal, orders: list[PlannedOrder], accounts: dict[int, SimpleNamespace]) -> None:
    lines = [
        "=" * 60,
        f"MASTER SIGNAL #{signal.pk}  {signal.symbol}  {signal.side.upper()}  size {format_decimal(signal.amount)} "
        f"@ {format_decimal(signal.price)}  venue {signal.venue}",
        f"OBSERVE MODE - Signal Logged (NO TRADE EXECUTED)  [observed signals: {_observed_signal_count()}]",
    ]
    for order in orders:
        user_id = accounts[order.account_id].user_id
        if order.status == CopyOrder.Status.SKIPPED:
            lines.append(f"  {user_id}: skipped ({order.reason}) {order.detail}")
        else:
            lines.append(f"  {user_id}: would {order.side} {format_decimal(order.quantity)} {signal.symbol} "
                         f"notional {format_decimal(order.notional.quantize(Decimal('0.01')))} {order.quote_currency}"
                         f" on {order.venue}")
    lines.append("=" * 60)
    logger.info("\n".join(lines))


@dataclass
class PendingPlanReport:
    planned: int = 0
    errors: list[str] | None = None


def signals_plan_pending(*, now: dt.datetime | None = None, limit: int = 50) -> PendingPlanReport:
    """Plan the signals left RECEIVED for longer than NIJA_SIGNAL_PLAN_SWEEP_AFTER_SECONDS: the
    webhook could not queue them (broker down) or a planner died mid-way. `signal_plan` claims
    each signal, so this racing a queued planning task plans it once."""
    now = now or timezone.now()
    report = PendingPlanReport(errors=[])
    before = now - dt.timedelta(seconds=settings.NIJA_SIGNAL_PLAN_SWEEP_AFTER_SECONDS)
    for signal in signals_received_before(before=before, limit=limit):
        try:
            signal_plan(signal=signal)
            report.planned += 1
        except Exception as exc:  # one bad signal must not stop the others
            logger.exception("planning pending signal #%s failed", signal.pk)
            report.errors.append(f"signal #{signal.pk}: planning failed: {exc!r}"[:300])
    return report
