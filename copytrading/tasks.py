"""Thin Celery tasks of the copy engine: ids in, one service call, nothing else."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

from core.locks import task_lock

from .daily_loss import daily_losses_watch
from .execution import copy_orders_execute
from .planning import signal_plan, signals_plan_pending
from .reconciliation import copy_orders_reconcile, master_fills_poll
from .selectors import signal_get
from .stops import copy_stops_enforce

logger = logging.getLogger("nija.copytrading")


@shared_task(name="copytrading.tasks.copy_orders_execute_task", acks_late=True, reject_on_worker_lost=True)
def copy_orders_execute_task(signal_id: int, order_ids: list[int]) -> dict:
    """One chunk of a signal's fan-out. Redelivered after a worker dies: the task id is the claim
    token, so the redelivery recognises its own half-sent orders and looks them up first."""
    token = copy_orders_execute_task.request.id or None
    report = copy_orders_execute(signal_id=int(signal_id), order_ids=[int(i) for i in order_ids], claim_token=token)
    return {"claimed": report.claimed, "recovered": report.recovered, "by_status": report.by_status}


# Beat starts reconciliation every 30 s. A run (one batch) must end well before its lock's TTL, so
# a worker killed mid-run frees the lock for the next: soft < hard < TTL.
RECONCILE_SOFT_TIME_LIMIT, RECONCILE_TIME_LIMIT = 90, 120
RECONCILE_LOCK, RECONCILE_LOCK_TTL = "copytrading-reconcile", 150
RECONCILE_TIME_BUDGET = RECONCILE_SOFT_TIME_LIMIT - 30


@shared_task(name="copytrading.tasks.copy_orders_reconcile_task",
             soft_time_limit=RECONCILE_SOFT_TIME_LIMIT, time_limit=RECONCILE_TIME_LIMIT)
def copy_orders_reconcile_task(after_id: int = 0) -> dict:
    """One batch of NIJA_TASK_BATCH_SIZE orders after `after_id`, then the next batch is queued.
    Never two at once: a run that finds the lock taken does nothing (beat comes again in 30 s)."""
    with task_lock(RECONCILE_LOCK, ttl_seconds=RECONCILE_LOCK_TTL) as taken:
        if not taken:
            logger.info("copy reconciliation already running; this run does nothing")
            return {"skipped": "already running"}
        try:
            # The venue calls stop at the budget, well before the soft limit; the rest is the next batch's.
            report = copy_orders_reconcile(after_id=int(after_id), limit=max(1, int(settings.NIJA_TASK_BATCH_SIZE)),
                                           time_budget=RECONCILE_TIME_BUDGET)
        except SoftTimeLimitExceeded:
            logger.warning("copy reconciliation after order #%s stopped at its soft time limit (%s s); orders "
                           "not yet updated stay as they are for the next run", after_id, RECONCILE_SOFT_TIME_LIMIT)
            return {"stopped": "soft_time_limit", "after_id": int(after_id)}
    # Outside the lock, so the next batch (run at once when eager) can take it.
    if report.next_after_id is not None:
        copy_orders_reconcile_task.delay(after_id=report.next_after_id)
    return report.as_dict()


@shared_task(name="copytrading.tasks.master_fills_poll_task")
def master_fills_poll_task() -> dict:
    return master_fills_poll()


@shared_task(name="copytrading.tasks.copy_stops_enforce_task")
def copy_stops_enforce_task() -> dict:
    return copy_stops_enforce()


@shared_task(name="copytrading.tasks.signal_plan_task", acks_late=True, reject_on_worker_lost=True)
def signal_plan_task(signal_id: int) -> dict:
    """Plan one stored signal (queued by the webhook). Planning claims the signal, so a redelivery
    or the sweep racing this task plans it once."""
    signal = signal_get(signal_id=signal_id)
    if signal.status != signal.Status.RECEIVED:
        return {"signal_id": signal.pk, "status": signal.status, "planned": False}
    summary = signal_plan(signal=signal)
    return {"signal_id": signal.pk, "planned": True, "by_reason": dict(summary.by_reason or {})}


@shared_task(name="copytrading.tasks.signals_plan_pending_task", expires=30)
def signals_plan_pending_task() -> dict:
    report = signals_plan_pending()
    return {"planned": report.planned, "errors": report.errors}


# Beat starts the watcher every 5 minutes, after the balance audits; a batch holds the lock, which
# outlives the task's hard time limit (the project default) so a killed worker frees it for the next.
DAILY_LOSS_WATCH_LOCK = "copytrading-daily-loss-watch"
DAILY_LOSS_WATCH_LOCK_TTL = settings.CELERY_TASK_TIME_LIMIT + 60


@shared_task(name="copytrading.tasks.daily_losses_watch_task", ignore_result=True)
def daily_losses_watch_task(after_id: int = 0) -> dict:
    """One batch of NIJA_TASK_BATCH_SIZE copy followers after `after_id` against their daily loss
    limits (a loss between signals), then the next batch is queued. Never two batches at once: a run
    that finds the lock taken does nothing (beat comes again in 5 minutes; the messages are once per
    UTC day whoever sends them)."""
    with task_lock(DAILY_LOSS_WATCH_LOCK, ttl_seconds=DAILY_LOSS_WATCH_LOCK_TTL) as taken:
        if not taken:
            logger.info("daily loss watch already running; this run does nothing")
            return {"skipped": "already running"}
        report = daily_losses_watch(after_id=int(after_id), limit=max(1, int(settings.NIJA_TASK_BATCH_SIZE)))
    if report.skipped:
        logger.info("daily loss watch: %s of %s accounts not judged: %s", len(report.skipped), report.accounts,
                    ", ".join(f"{user_id} ({reason})" for user_id, reason in sorted(report.skipped.items())[:50]))
    # After commit and outside the lock, so the next batch (run at once when eager) can take it.
    if report.next_after_id is not None:
        next_after = report.next_after_id
        transaction.on_commit(lambda: daily_losses_watch_task.delay(after_id=next_after))
    return report.as_dict()
