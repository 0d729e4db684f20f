"""Copy-engine tasks: reconciliation in bounded batches that queue the next, never two runs at
once; stop-loss sells on the stops queue."""

from __future__ import annotations

from decimal import Decimal as D
from unittest import mock

import pytest
from celery.signals import task_prerun

from brokers.paper_venue import paper_price_set
from copytrading.models import CopyFill, CopyOrder
from copytrading.services import signal_receive
from copytrading.tasks import RECONCILE_LOCK, RECONCILE_LOCK_TTL, copy_orders_execute_task, copy_orders_reconcile_task
from core.locks import task_lock

from .conftest import signal_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled_unsynced(world, live, django_capture_on_commit_callbacks):
    """Five LIVE copies filled at PAPER whose fills reconciliation has not stored yet."""
    world.account("nija_master", master=True, USD="50000")
    for i in range(5):
        world.account(f"f{i}")
    with django_capture_on_commit_callbacks(execute=True):
        signal_receive(source="manual", data=signal_data())
    orders = list(CopyOrder.objects.order_by("pk"))
    assert [(o.status, o.fills_synced) for o in orders] == [("FILLED", False)] * 5
    return orders


def _batches(sender=None, kwargs=None, **_):
    if sender is not None and sender.name == copy_orders_reconcile_task.name:
        _batches.seen.append((kwargs or {}).get("after_id", 0))


def test_reconciliation_goes_in_batches_every_order_looked_at_exactly_once(filled_unsynced, settings):
    settings.NIJA_TASK_BATCH_SIZE = 2
    _batches.seen = []
    task_prerun.connect(_batches, weak=False)
    try:
        first = copy_orders_reconcile_task.delay().get()
    finally:
        task_prerun.disconnect(_batches)
    ids = [o.pk for o in filled_unsynced]
    assert _batches.seen == [0, ids[1], ids[3]]
    assert first["fills_stored"] == 2 and first["next_after_id"] == ids[1]
    assert CopyFill.objects.count() == 5
    assert sorted(CopyFill.objects.values_list("copy_order_id", flat=True)) == ids
    assert set(CopyOrder.objects.values_list("fills_synced", flat=True)) == {True}


def test_a_reconciliation_run_does_nothing_while_another_holds_the_lock(filled_unsynced):
    with task_lock(RECONCILE_LOCK, ttl_seconds=RECONCILE_LOCK_TTL) as taken:
        assert taken
        assert copy_orders_reconcile_task.delay().get() == {"skipped": "already running"}
        assert not CopyFill.objects.exists()
    assert copy_orders_reconcile_task.delay().get()["fills_stored"] == 5  # free again once released


def test_a_stop_loss_sell_is_sent_on_the_stops_queue(world, live, django_capture_on_commit_callbacks):
    from copytrading.tasks import copy_stops_enforce_task

    world.account("nija_master", master=True, USD="50000")
    world.account("ann", risk={"stop_loss_required": True, "stop_loss_pct": "5"})
    with django_capture_on_commit_callbacks(execute=True):
        signal_receive(source="manual", data=signal_data())
    paper_price_set(symbol="BTC/USD", price="47400")
    publish = copy_orders_execute_task.apply_async
    queues: list[str | None] = []

    def published(*args, **options):  # the broker edge: note the queue, then send as usual
        queues.append(options.get("queue"))
        return publish(*args, **options)

    with mock.patch.object(copy_orders_execute_task, "apply_async", published), \
            django_capture_on_commit_callbacks(execute=True):
        assert copy_stops_enforce_task.delay().get()["triggered"] == 1
    assert queues == ["stops"]
    stop = CopyOrder.objects.get(signal__source="stop")
    assert (stop.side, stop.quantity, stop.status) == ("sell", D("0.01"), "FILLED")
