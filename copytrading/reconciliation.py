"""Reconciliation (beat): bring every copy order that is not final up to date from its venue, store
fills (price, cost, fee) for the ledger, recover orders whose worker went quiet, and re-plan signals
whose planning crashed. Also master-fill polling: the master's new fills become signals."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from brokers.clients.base import BrokerError
from brokers.clients.registry import client_for
from brokers.selectors import credentials_by_id, credentials_master_active
from core.errors import ApplicationError

from .execution import (
    MAX_IN_FLIGHT,
    Outcome,
    concurrency,
    copy_orders_enqueue,
    orders_venue_calls,
    outcome_apply,
    signal_completion_check,
    status_from_result,
)
from .models import CopyFill, CopyOrder, MasterFillCursor, MasterSignal
from .planning import signals_plan_pending
from .selectors import orders_needing_reconcile
from .services import signal_receive

logger = logging.getLogger("nija.copytrading")

RECONCILE_FIELDS = ["status", "detail", "venue_order_id", "filled_quantity", "average_price", "cost", "fee",
                    "fee_asset", "acknowledged_at", "ack_latency_ms", "fills_synced", "claim_token", "stop_state",
                    "updated_at"]


def submit_stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "NIJA_COPY_SUBMIT_STALE_SECONDS", 300))


@dataclass
class ReconcileReport:
    looked_up: int = 0
    updated: int = 0
    requeued: int = 0
    fills_stored: int = 0
    replanned: int = 0
    errors: list[str] = field(default_factory=list)
    # The last order id of a full batch: the orders after it are the next batch's.
    next_after_id: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _save_if_unchanged(order: CopyOrder, expected_status: str, expected_token: str) -> bool:
    """Write the reconciled fields only if no worker moved the row meanwhile (compare-and-set)."""
    order.updated_at = timezone.now()
    values = {name: getattr(order, name) for name in RECONCILE_FIELDS}
    touched = CopyOrder.objects.filter(pk=order.pk, status=expected_status, claim_token=expected_token).update(**values)
    return touched == 1


def _trades_since(order: CopyOrder) -> dt.datetime:
    return (order.claimed_at or order.created_at) - dt.timedelta(minutes=5)


def _fills_store(orders_trades: list[tuple[CopyOrder, list]]) -> int:
    """Store the orders' new trades as fills (unique on the trade id: a fill is never stored
    twice) in one statement, and mark fills_synced on the orders whose fills add up."""
    fills, synced = [], []
    for order, trades in orders_trades:
        mine = [t for t in trades if (order.venue_order_id and t.venue_order_id == order.venue_order_id)
                or (t.client_order_id and t.client_order_id == order.client_order_id)]
        fills += [CopyFill(copy_order=order, trade_id=t.trade_id, symbol=t.symbol, side=t.side, amount=t.amount,
                           price=t.price, cost=t.cost, fee=t.fee, fee_asset=t.fee_asset or "",
                           occurred_at=t.occurred_at) for t in mine if t.amount > 0]
        total = sum((t.amount for t in mine), Decimal("0"))
        if order.filled_quantity is not None and total >= order.filled_quantity:
            synced.append(order)
    ids = [order.pk for order, _ in orders_trades]
    before = CopyFill.objects.filter(copy_order_id__in=ids).count()
    CopyFill.objects.bulk_create(fills, ignore_conflicts=True, batch_size=1000)
    stored = CopyFill.objects.filter(copy_order_id__in=ids).count() - before
    if synced:
        CopyOrder.objects.filter(pk__in=[o.pk for o in synced]).update(fills_synced=True)
        for order in synced:
            order.fills_synced = True
    return stored


def copy_order_fills_sync(*, order: CopyOrder, client) -> int:
    """Fetch one order's trades and store the new ones. Marks fills_synced when they add up."""
    return _fills_store([(order, client.fetch_my_trades(symbol=order.symbol, since=_trades_since(order)))])


_NEEDS_LOOKUP = (CopyOrder.Status.SUBMITTING, CopyOrder.Status.OPEN)
_FILLED = (CopyOrder.Status.FILLED, CopyOrder.Status.PARTIALLY_FILLED)


@dataclass
class VenueAnswer:
    """What the venue said about one order: the lookup by client order id (when one was needed)
    and the order's trades (when it is filled and its fills are not stored)."""

    looked_up: bool = False
    found: object = None  # OrderResult | None
    trades: list | None = None


async def _order_venue_answer(order: CopyOrder, caller) -> VenueAnswer:
    answer = VenueAnswer()
    status = order.status
    if status in _NEEDS_LOOKUP:
        answer.looked_up = True
        answer.found = await caller("fetch_order_by_client_id", order.symbol, order.client_order_id)
        if answer.found is None:
            return answer
        status = status_from_result(answer.found)
    if status in _FILLED and not order.fills_synced:
        answer.trades = await caller("fetch_my_trades", symbol=order.symbol, since=_trades_since(order))
    return answer


def copy_orders_reconcile(*, now: dt.datetime | None = None, limit: int = 500, after_id: int = 0,
                          max_concurrency: int | None = None, time_budget: float | None = None) -> ReconcileReport:
    """One batch: at most `limit` orders after `after_id` (id order); the report says where the
    next batch starts. Signals whose planning crashed are re-planned by the first batch only.

    The venue calls of the whole batch go out at once, one at a time per credential (its lock, as
    in the fan-out); the answers are then written here, each order by compare-and-set on the
    status and claim token it was read with, so a worker that moved the row meanwhile wins.
    `max_concurrency=1` is the sequential baseline of the benchmark. Orders whose calls are not
    done within `time_budget` seconds are left as they are and the next batch starts at them."""
    now = now or timezone.now()
    report = ReconcileReport()
    # Signals whose planning never finished (a crash between intake and the plan's commit).
    if not after_id:
        pending = signals_plan_pending(now=now)
        report.replanned += pending.planned
        report.errors.extend(pending.errors)

    orders = list(orders_needing_reconcile(stale_before=now - submit_stale_after(), limit=limit, after_id=after_id)
                  .select_related("signal"))
    if len(orders) == limit:
        report.next_after_id = orders[-1].pk
    creds = credentials_by_id(ids={o.credential_id for o in orders})
    requeue: dict[int, list[int]] = defaultdict(list)
    touched_signals: set[int] = set()
    to_ask = []
    for order in orders:
        if order.status == CopyOrder.Status.PLANNED:
            # Its task was lost (e.g. taken by a worker that died): queue it again; the claim's
            # compare-and-set makes a second delivery of the old task harmless.
            requeue[order.signal_id].append(order.pk)
            continue
        cred = creds.get(order.credential_id)
        if cred is None or cred.status != "active":
            report.errors.append(f"{order.client_order_id}: credential missing or not active")
            continue
        to_ask.append(order)

    answers, unfinished = {}, []
    if to_ask:
        limit_in_flight = max(1, min(max_concurrency or concurrency(), MAX_IN_FLIGHT))
        answers, unfinished = async_to_sync(orders_venue_calls)(
            to_ask, {o.credential_id: creds[o.credential_id] for o in to_ask}, _order_venue_answer,
            limit=limit_in_flight, time_budget=time_budget)
    if unfinished:
        report.errors.append(f"time budget of {time_budget} s reached: {len(unfinished)} orders left for the "
                             "next batch")
        report.next_after_id = unfinished[0] - 1

    with_trades: list[tuple[CopyOrder, list]] = []
    for order in to_ask:
        answer = answers.get(order.pk)
        if answer is None:
            continue
        if isinstance(answer, BrokerError):
            report.errors.append(f"{order.client_order_id}: {answer.venue_message}")
            continue
        if isinstance(answer, BaseException):  # a bug or an unmapped library error: logged, the row kept
            logger.error("reconciling %s failed: %r", order.client_order_id, answer)
            report.errors.append(f"{order.client_order_id}: unexpected error: {answer!r}"[:300])
            continue
        report.looked_up += int(answer.looked_up)
        if answer.looked_up:
            expected_status, expected_token = order.status, order.claim_token
            if answer.found is None:
                if order.status == CopyOrder.Status.SUBMITTING:
                    # Never reached the venue: back to PLANNED (by CAS) and through the normal path.
                    back = CopyOrder.objects.filter(
                        pk=order.pk, status=CopyOrder.Status.SUBMITTING, claim_token=expected_token,
                    ).update(status=CopyOrder.Status.PLANNED, claim_token="", detail="not found at the venue; "
                             "sent again by reconciliation", updated_at=timezone.now())
                    if back:
                        requeue[order.signal_id].append(order.pk)
                continue
            outcome = Outcome(order.pk, status_from_result(answer.found), result=answer.found,
                              acknowledged_at=answer.found.acknowledged_at)
            outcome_apply(order, outcome, received_at=order.signal.received_at)
            if _save_if_unchanged(order, expected_status, expected_token):
                report.updated += 1
                touched_signals.add(order.signal_id)
        if answer.trades is not None:
            with_trades.append((order, answer.trades))
    if with_trades:
        report.fills_stored += _fills_store(with_trades)
    for signal_id, ids in requeue.items():
        with transaction.atomic():
            copy_orders_enqueue(signal_id=signal_id, order_ids=ids)
        report.requeued += len(ids)
    for signal_id in touched_signals:
        signal_completion_check(signal_id=signal_id)
    if report.updated or report.requeued or report.fills_stored or report.errors:
        logger.info("copy reconciliation: %s", report.as_dict())
    return report


# --- master-fill polling ----------------------------------------------------------------------
def master_fills_poll(*, now: dt.datetime | None = None) -> dict:
    """Turn the master's new fills into signals (source "poll"), one signal per master order seen
    in a poll. The first poll only sets the cursor: history is not replayed into copies. A master
    order already received by webhook (same venue and master_order_id) is not signalled twice."""
    now = now or timezone.now()
    result = {"credentials": 0, "signals": 0, "errors": []}
    creds = credentials_master_active()
    for cred in creds:
        result["credentials"] += 1
        cursor, created = MasterFillCursor.objects.get_or_create(credential_id=cred.pk,
                                                                 defaults={"last_occurred_at": now})
        if created:
            continue
        try:
            trades = client_for(cred).fetch_my_trades(since=cursor.last_occurred_at)
        except BrokerError as exc:
            result["errors"].append(f"{cred.venue}: {exc.venue_message}")
            continue
        seen = set(cursor.last_trade_ids or [])
        new = [t for t in trades if t.trade_id not in seen and (cursor.last_occurred_at is None
                                                                 or t.occurred_at >= cursor.last_occurred_at)]
        if not new:
            continue
        by_order: dict[str, list] = defaultdict(list)
        for trade in new:
            by_order[trade.venue_order_id or trade.trade_id].append(trade)
        for order_id, fills in by_order.items():
            if MasterSignal.objects.filter(venue=cred.venue, master_order_id=order_id).exists():
                continue
            amount = sum((f.amount for f in fills), Decimal("0"))
            cost = sum((f.cost for f in fills), Decimal("0"))
            data = {
                "source_id": f"{cred.venue}:{order_id}"[:128], "venue": cred.venue, "symbol": fills[0].symbol,
                "side": fills[0].side, "amount": format(amount, "f"), "price": format(cost / amount, "f"),
                "order_type": "market", "master_order_id": order_id,
                "executed_at": max(f.occurred_at for f in fills).isoformat(),
            }
            try:
                _signal, made = signal_receive(source=MasterSignal.Source.POLL, data=data)
                result["signals"] += int(made)
            except ApplicationError as exc:
                result["errors"].append(f"{cred.venue} {order_id}: {exc}")
        latest = max(t.occurred_at for t in new)
        cursor.last_trade_ids = [t.trade_id for t in new if t.occurred_at == latest] + (
            list(seen) if latest == cursor.last_occurred_at else [])
        cursor.last_occurred_at = latest
        cursor.save()
    return result
