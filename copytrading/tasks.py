"""Thin Celery tasks of the copy engine: ids in, one service call, nothing else."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="copytrading.tasks.copy_orders_execute_task", acks_late=True, reject_on_worker_lost=True)
def copy_orders_execute_task(signal_id: int, order_ids: list[int]) -> dict:
    """One chunk of a signal's fan-out. Redelivered after a worker dies: the task id is the claim
    token, so the redelivery recognises its own half-sent orders and looks them up first."""
    from .execution import copy_orders_execute

    token = copy_orders_execute_task.request.id or None
    report = copy_orders_execute(signal_id=int(signal_id), order_ids=[int(i) for i in order_ids], claim_token=token)
    return {"claimed": report.claimed, "recovered": report.recovered, "by_status": report.by_status}


@shared_task(name="copytrading.tasks.copy_orders_reconcile_task")
def copy_orders_reconcile_task() -> dict:
    from .reconciliation import copy_orders_reconcile

    return copy_orders_reconcile().as_dict()


@shared_task(name="copytrading.tasks.master_fills_poll_task")
def master_fills_poll_task() -> dict:
    from .reconciliation import master_fills_poll

    return master_fills_poll()


@shared_task(name="copytrading.tasks.copy_stops_enforce_task")
def copy_stops_enforce_task() -> dict:
    from .stops import copy_stops_enforce

    return copy_stops_enforce()


@shared_task(name="copytrading.tasks.signal_plan_task", acks_late=True, reject_on_worker_lost=True)
def signal_plan_task(signal_id: int) -> dict:
    """Plan one stored signal (queued by the webhook). Planning claims the signal, so a redelivery
    or the sweep racing this task plans it once."""
    from .planning import signal_plan
    from .selectors import signal_get

    signal = signal_get(signal_id=signal_id)
    if signal.status != signal.Status.RECEIVED:
        return {"signal_id": signal.pk, "status": signal.status, "planned": False}
    summary = signal_plan(signal=signal)
    return {"signal_id": signal.pk, "planned": True, "by_reason": dict(summary.by_reason or {})}


@shared_task(name="copytrading.tasks.signals_plan_pending_task", expires=30)
def signals_plan_pending_task() -> dict:
    from .planning import signals_plan_pending

    report = signals_plan_pending()
    return {"planned": report.planned, "errors": report.errors}
