"""LIVE execution: chunks of copy orders, each chunk one Celery task, orders inside a chunk sent
concurrently (asyncio over the async clients; alpaca-py through a bounded thread pool).

The idempotency protocol (DESIGN.md §5):
1. every order already has its deterministic client order id (planning);
2. a row moves PLANNED -> SUBMITTING by compare-and-set before any network call, stamped with the
   claiming task's id;
3. a redelivered task (same task id, its worker killed) finds its own SUBMITTING rows and looks
   each up by client order id before sending anything; so does reconciliation for rows whose
   worker went quiet, and so does every ambiguous error (timeout, 5xx after sending);
4. results end in FILLED / PARTIALLY_FILLED / CANCELED / REJECTED / FAILED, or OPEN for
   reconciliation to follow."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from accounts.selectors import account_ids_trading
from brokers.clients.base import (
    BrokerAmbiguousError,
    BrokerAuthenticationError,
    BrokerError,
    BrokerInsufficientFundsError,
    BrokerInvalidOrderError,
    BrokerPermissionError,
    OrderRequest,
)
from brokers.clients.locks import credential_locks_hold
from brokers.clients.registry import async_client_for, async_clients_close, client_for
from brokers.selectors import credentials_by_id
from core.db import rows_compare_and_set, rows_update
from core.enqueue import task_enqueue

from .models import CopyOrder, EngineMode, MasterSignal

logger = logging.getLogger("nija.copytrading")

THREADED_VENUES = frozenset({"alpaca"})  # alpaca-py is synchronous: a bounded thread pool
MAX_SEND_ATTEMPTS = 4
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0)


def chunk_size() -> int:
    return int(getattr(settings, "NIJA_COPY_CHUNK_SIZE", 500))


# No more than this many calls in flight per chunk, whatever NIJA_COPY_CONCURRENCY says: each is an
# open request to a venue (and a task and a socket in this process).
MAX_IN_FLIGHT = 1000


def concurrency() -> int:
    return max(1, min(int(getattr(settings, "NIJA_COPY_CONCURRENCY", 500)), MAX_IN_FLIGHT))


# --- thread pool for synchronous clients -------------------------------------------------------
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_guard = threading.Lock()


def _sync_pool() -> ThreadPoolExecutor:
    """Bounded pool for alpaca-py calls; recreated after fork (prefork workers)."""
    global _pool, _pool_pid
    with _pool_guard:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=int(getattr(settings, "NIJA_COPY_THREADS", 8)),
                                       thread_name_prefix="copy-sync")
            _pool_pid = os.getpid()
        return _pool


# --- enqueue ----------------------------------------------------------------------------------
def copy_orders_enqueue(*, signal_id: int, order_ids: list[int], queue: str | None = None) -> int:
    """Queue the orders in chunks once the current transaction commits. Returns the chunk count.
    `queue` overrides the task's route (stop-loss sells go on the stops queue)."""
    size = chunk_size()
    chunks = [order_ids[i:i + size] for i in range(0, len(order_ids), size)]
    for ids in chunks:
        task_enqueue("copytrading.tasks.copy_orders_execute_task", args=(signal_id, ids), queue=queue, on_commit=True)
    return len(chunks)


# --- claim ------------------------------------------------------------------------------------
def copy_orders_claim(*, order_ids: list[int], token: str) -> tuple[list[int], list[int]]:
    """Compare-and-set PLANNED -> SUBMITTING before any network call. One UPDATE ... WHERE
    status='PLANNED' ... RETURNING id over the chunk: each row moves at most once, so of two
    deliveries racing for a row exactly one gets it. Returns (claimed now, orphans: rows already
    SUBMITTING under this same token, i.e. claimed by an earlier delivery of this task whose worker
    died). The orphans are read before the update, so a row claimed now is never counted as one."""
    with transaction.atomic():
        orphans = list(CopyOrder.objects.filter(pk__in=order_ids, status=CopyOrder.Status.SUBMITTING,
                                                claim_token=token).values_list("id", flat=True))
        claimed = rows_compare_and_set(
            CopyOrder, ids=order_ids, expected={"status": CopyOrder.Status.PLANNED.value},
            changes={"status": CopyOrder.Status.SUBMITTING.value, "claim_token": token, "claimed_at": timezone.now()},
            increments=["attempts"])
    return claimed, orphans


# --- outcome ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    order_id: int
    status: str
    detail: str = ""
    result: Any = None  # OrderResult
    acknowledged_at: dt.datetime | None = None
    sent_attempts: int = 0
    timings: dict[str, float] = field(default_factory=dict)


_RESULT_STATUS = {
    "filled": CopyOrder.Status.FILLED,
    "partially_filled": CopyOrder.Status.PARTIALLY_FILLED,
    "canceled": CopyOrder.Status.CANCELED,
    "rejected": CopyOrder.Status.REJECTED,
    "open": CopyOrder.Status.OPEN,
}


def status_from_result(result) -> str:
    status = _RESULT_STATUS.get(result.status, CopyOrder.Status.OPEN)
    # An IOC that filled part and cancelled the rest is final as PARTIALLY_FILLED.
    if status == CopyOrder.Status.CANCELED and result.filled and result.filled > 0:
        status = CopyOrder.Status.PARTIALLY_FILLED
    return status


def order_request_for(order: CopyOrder):
    if order.order_type == "ioc" and order.guard_price:
        return OrderRequest(symbol=order.symbol, side=order.side, order_type="ioc", amount=order.quantity,
                            client_order_id=order.client_order_id, limit_price=order.guard_price)
    return OrderRequest(symbol=order.symbol, side=order.side, order_type="market", amount=order.quantity,
                        client_order_id=order.client_order_id)


class _Caller:
    """Calls one client, async or through the thread pool, the same way."""

    def __init__(self, client: Any, threaded: bool) -> None:
        self.client, self.threaded = client, threaded

    async def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.client, name)
        if self.threaded:
            def call() -> Any:
                try:
                    return method(*args, **kwargs)
                finally:
                    connections.close_all()  # pool threads outlive the task: leave no DB session behind

            return await asyncio.get_running_loop().run_in_executor(_sync_pool(), call)
        return await method(*args, **kwargs)


async def _send_one(order: CopyOrder, caller: _Caller, *, lookup_first: bool, hold: str = "") -> Outcome:
    """Send one order with retries; never a second create without a lookup after an ambiguous error.
    `hold` (why sending is no longer allowed) turns it into a lookup only."""
    request = order_request_for(order)
    must_look_up = lookup_first
    attempts = 0
    last_problem = ""
    for attempt in range(MAX_SEND_ATTEMPTS):
        try:
            if must_look_up:
                found = await caller("fetch_order_by_client_id", order.symbol, order.client_order_id)
                if found is not None:
                    return Outcome(order.pk, status_from_result(found), result=found,
                                   acknowledged_at=found.acknowledged_at or timezone.now(), sent_attempts=attempts,
                                   detail="found at the venue by client order id")
                must_look_up = False
            if hold:
                return Outcome(order.pk, CopyOrder.Status.CANCELED, detail=f"not sent: {hold}", sent_attempts=attempts)
            attempts += 1
            result = await caller("create_order", request)
            return Outcome(order.pk, status_from_result(result), result=result,
                           # Our receipt of the ack: what "signal received -> order acknowledged" measures.
                           acknowledged_at=timezone.now(), sent_attempts=attempts)
        except (BrokerInvalidOrderError, BrokerInsufficientFundsError) as exc:
            return Outcome(order.pk, CopyOrder.Status.REJECTED, detail=exc.venue_message, sent_attempts=attempts)
        except (BrokerAuthenticationError, BrokerPermissionError) as exc:
            return Outcome(order.pk, CopyOrder.Status.FAILED, detail=f"{type(exc).__name__}: {exc.venue_message}",
                           sent_attempts=attempts)
        except BrokerAmbiguousError as exc:
            must_look_up = True  # it may have reached the venue
            last_problem = f"ambiguous: {exc.venue_message}"
        except BrokerError as exc:
            if not exc.retryable:
                return Outcome(order.pk, CopyOrder.Status.FAILED, detail=exc.venue_message, sent_attempts=attempts)
            last_problem = f"{type(exc).__name__}: {exc.venue_message}"
        await asyncio.sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])
    if must_look_up:
        # Still unknown whether the venue has it: stay SUBMITTING; reconciliation looks it up.
        return Outcome(order.pk, CopyOrder.Status.SUBMITTING, detail=f"outcome unknown after retries ({last_problem})",
                       sent_attempts=attempts)
    return Outcome(order.pk, CopyOrder.Status.FAILED, detail=f"gave up after {MAX_SEND_ATTEMPTS} tries: {last_problem}",
                   sent_attempts=attempts)


def _caller_for(credential) -> _Caller:
    """Called inside the running loop: async clients belong to the loop that made them."""
    if credential.venue in THREADED_VENUES:
        return _Caller(client_for(credential), threaded=True)
    return _Caller(async_client_for(credential), threaded=False)


async def _send_all(orders: list[CopyOrder], credentials: dict[int, Any], lookup: set[int],
                    limit: int, holds: dict[int, str] | None = None) -> list[Outcome]:
    gate = asyncio.Semaphore(limit)
    callers = {pk: _caller_for(cred) for pk, cred in credentials.items()}

    async def guarded(order: CopyOrder) -> Outcome:
        async with gate:
            started = time.monotonic()
            try:
                outcome = await _send_one(order, callers[order.credential_id], lookup_first=order.pk in lookup,
                                          hold=(holds or {}).get(order.pk, ""))
            except Exception as exc:  # a bug or an unmapped library error: keep the order for lookup
                logger.exception("copy order %s: unexpected error", order.client_order_id)
                outcome = Outcome(order.pk, CopyOrder.Status.SUBMITTING, detail=f"unexpected error: {exc!r}"[:500])
            outcome.timings["send_s"] = time.monotonic() - started
            return outcome

    # Every async credential's lock taken once for the chunk, in one round trip; the threaded
    # (alpaca-py) clients take theirs per call on their own threads.
    pre_locked = {pk for pk, cred in credentials.items() if cred.venue not in THREADED_VENUES}
    try:
        async with credential_locks_hold(pre_locked):
            return list(await asyncio.gather(*(guarded(o) for o in orders)))
    finally:
        await async_clients_close()


async def orders_venue_calls(orders: list[CopyOrder], credentials: dict[int, Any],
                             call: Callable[[CopyOrder, _Caller], Awaitable[Any]], *, limit: int,
                             time_budget: float | None = None) -> tuple[dict[int, Any], list[int]]:
    """Run `call(order, caller)` for every order at once (at most `limit` in flight), one call at a
    time per credential, exactly as the fan-out does: every async credential's lock is taken once
    for the block, threaded (alpaca-py) clients take theirs per call. Returns each order's result
    (an exception raised by `call` is returned as the result) and the ids of the orders not done
    within `time_budget` seconds (cancelled, nothing of theirs is returned)."""
    gate = asyncio.Semaphore(limit)
    callers = {pk: _caller_for(cred) for pk, cred in credentials.items()}

    async def guarded(order: CopyOrder) -> Any:
        async with gate:
            return await call(order, callers[order.credential_id])

    pre_locked = {pk for pk, cred in credentials.items() if cred.venue not in THREADED_VENUES}
    try:
        async with credential_locks_hold(pre_locked):
            tasks = {asyncio.ensure_future(guarded(o)): o.pk for o in orders}
            done, pending = await asyncio.wait(tasks, timeout=time_budget) if tasks else (set(), set())
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            results = {tasks[t]: (t.exception() or t.result()) for t in done}
            return results, sorted(tasks[t] for t in pending)
    finally:
        await async_clients_close()


# --- apply ------------------------------------------------------------------------------------
def outcome_apply(order: CopyOrder, outcome: Outcome, *, received_at: dt.datetime) -> CopyOrder:
    order.status = outcome.status
    if outcome.detail:
        order.detail = outcome.detail[:2000]
    result = outcome.result
    if result is not None:
        order.venue_order_id = result.venue_order_id or order.venue_order_id
        order.filled_quantity = result.filled
        order.average_price = result.average_price
        order.cost = result.cost
        order.fee = result.fee
        order.fee_asset = result.fee_asset or ""
    if (order.stop_mode == CopyOrder.StopMode.ENGINE and not order.is_exit and not order.stop_state
            and order.status in (CopyOrder.Status.FILLED, CopyOrder.Status.PARTIALLY_FILLED)):
        order.stop_state = "armed"  # the engine watches the price from now on (copytrading.stops)
    if outcome.acknowledged_at and order.acknowledged_at is None:
        order.acknowledged_at = outcome.acknowledged_at
        order.ack_latency_ms = max(0, int((outcome.acknowledged_at - received_at).total_seconds() * 1000))
    return order


APPLY_FIELDS = ["status", "detail", "venue_order_id", "filled_quantity", "average_price", "cost", "fee", "fee_asset",
                "acknowledged_at", "ack_latency_ms", "stop_state", "updated_at"]


def outcomes_store(orders: list[CopyOrder]) -> None:
    with transaction.atomic():
        rows_update(orders, APPLY_FIELDS)


def signal_completion_check(*, signal_id: int) -> bool:
    """Mark a LIVE signal COMPLETED once none of its orders can still change."""
    pending = CopyOrder.objects.filter(
        signal_id=signal_id, status__in=[CopyOrder.Status.PLANNED, CopyOrder.Status.SUBMITTING, CopyOrder.Status.OPEN]
    ).exists()
    if not pending:
        MasterSignal.objects.filter(pk=signal_id, status=MasterSignal.Status.EXECUTING).update(
            status=MasterSignal.Status.COMPLETED)
    return not pending


@dataclass
class ChunkReport:
    claimed: int = 0
    recovered: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def copy_orders_execute(*, signal_id: int, order_ids: list[int], claim_token: str | None = None,
                        max_concurrency: int | None = None) -> ChunkReport:
    """Execute one chunk: claim, send concurrently, store outcomes. Safe to run again with the
    same token (a redelivered task): its own SUBMITTING rows are looked up before any resend.
    `max_concurrency=1` is the sequential baseline the benchmark compares against."""
    token = claim_token or uuid.uuid4().hex
    mode = EngineMode.current().mode
    if mode != EngineMode.Mode.LIVE:
        # The operator left LIVE after planning: nothing new goes out. Orders a dead delivery may
        # have sent are still looked up below.
        CopyOrder.objects.filter(pk__in=order_ids, status=CopyOrder.Status.PLANNED).update(
            status=CopyOrder.Status.CANCELED, detail=f"not sent: engine mode is {mode}", updated_at=timezone.now())
    claimed, orphans = copy_orders_claim(order_ids=order_ids, token=token)
    report = ChunkReport(claimed=len(claimed), recovered=len(orphans))
    work = claimed + orphans
    if not work:
        signal_completion_check(signal_id=signal_id)
        return report
    signal = MasterSignal.objects.get(pk=signal_id)
    orders = list(CopyOrder.objects.filter(pk__in=work).order_by("pk"))
    creds = credentials_by_id(ids={o.credential_id for o in orders})
    eligible = set(account_ids_trading(ids={o.account_id for o in orders}).exclude(copy_settings__copy_enabled=False))
    outcomes: list[Outcome] = []
    sendable = []
    holds: dict[int, str] = {}
    for order in orders:
        cred = creds.get(order.credential_id)
        if cred is None or cred.status != "active":
            outcomes.append(Outcome(order.pk, CopyOrder.Status.FAILED, detail="credential missing or not active"))
            continue
        # An offboarding's closes are sent with trading already off: closing is the point.
        if order.account_id not in eligible and signal.source != MasterSignal.Source.OFFBOARD:
            holds[order.pk] = "account no longer copied (trading or copy switched off)"
        if mode != EngineMode.Mode.LIVE:
            holds[order.pk] = f"engine mode is {mode}"
        if order.pk in holds and order.pk not in orphans:
            outcomes.append(Outcome(order.pk, CopyOrder.Status.CANCELED, detail=f"not sent: {holds[order.pk]}"))
            continue
        sendable.append(order)
    if sendable:
        # async_to_sync runs the loop in a helper thread; PAPER's DB work comes back to this
        # thread (its connection, its transaction), batched per loop.
        limit = min(max_concurrency or concurrency(), MAX_IN_FLIGHT)
        outcomes += async_to_sync(_send_all)(
            sendable, {o.credential_id: creds[o.credential_id] for o in sendable}, set(orphans), limit, holds,
        )
    by_id = {o.pk: o for o in orders}
    now = timezone.now()
    updated = []
    for outcome in outcomes:
        order = outcome_apply(by_id[outcome.order_id], outcome, received_at=signal.received_at)
        order.updated_at = now
        updated.append(order)
        report.by_status[order.status] = report.by_status.get(order.status, 0) + 1
    outcomes_store(updated)
    signal_completion_check(signal_id=signal_id)
    logger.info("LIVE - signal #%s chunk: %s claimed, %s recovered, %s", signal_id, report.claimed, report.recovered,
                report.by_status)
    return report
