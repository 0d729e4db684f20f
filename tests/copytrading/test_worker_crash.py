"""A real Celery worker on Redis is killed with SIGKILL in the middle of a fan-out and started
again: every follower ends with exactly one order at the PAPER venue, none missing.

Recovery paths exercised: the compare-and-set claim (a task delivered twice claims nothing
twice), lookup by client order id for orders the dead worker had claimed, and reconciliation
re-queuing the chunks the dead worker had taken (Redis only redelivers those after the
visibility timeout)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from brokers.models import PaperOrder
from brokers.paper_venue import paper_behaviour_set
from copytrading.models import CopyOrder
from copytrading.reconciliation import copy_orders_reconcile
from copytrading.services import engine_mode_set, signal_receive
from nija_site.celery import app as celery_app
from tests.conftest import subprocess_env

from .conftest import World, signal_data

FOLLOWERS = 24
LATENCY_MS = 400
DEADLINE_S = 120


def _start_worker(env: dict, queue: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nija_site", "worker", "--pool=prefork", "-c", "2", "-Q", queue,
         "-l", "info", "-n", f"crash-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=settings.BASE_DIR, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def _wait_ready(log: Path, proc: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early:\n{log.read_text()[-3000:]}")
        if " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"worker not ready in time:\n{log.read_text()[-3000:]}")


def _kill(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _release_dead_workers_locks(redis_url: str) -> None:
    """The dead worker's chunk held its credentials' locks; they would expire after their TTL
    (BLOCK_LOCK_TTL_SECONDS in brokers.clients.locks); the test removes them instead of waiting."""
    import redis

    from brokers.clients.locks import _lock_name

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=_lock_name(0)[:-1] + "*"):
        client.delete(key)


def _statuses() -> dict[str, int]:
    return dict(CopyOrder.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))


@pytest.mark.redis
def test_killed_worker_mid_fanout_leaves_exactly_one_order_per_follower(
    transactional_db, redis_url, make_account, tmp_path, settings
):
    queue = f"copy-crash-{uuid.uuid4().hex[:8]}"
    settings.NIJA_COPY_CHUNK_SIZE = 4
    world = World(make_account=make_account)
    world.account("nija_master", master=True, USD="50000")
    for i in range(FOLLOWERS):
        _, cred = world.account(f"f{i:02d}", USD="5000")
        paper_behaviour_set(credential=cred, latency_ms=LATENCY_MS)
    engine_mode_set(actor="test", mode="live", reason="crash test", confirm_live=True)

    env = subprocess_env(REDIS_URL=redis_url, CELERY_TASK_ALWAYS_EAGER="0", NIJA_COPY_CONCURRENCY="2")
    log = tmp_path / "worker.log"
    old_eager, old_queue = celery_app.conf.task_always_eager, celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    worker = None
    deadline = time.monotonic() + DEADLINE_S
    try:
        worker = _start_worker(env, queue, log)
        _wait_ready(log, worker, deadline)
        signal_obj, _ = signal_receive(source="manual", data=signal_data(source_id="crash-1"))
        # One read: the worker is already moving rows out of PLANNED, so two counts (PLANNED, then
        # the rest) taken one after the other can see the same order twice.
        assert sum(_statuses().values()) == FOLLOWERS

        # Kill in the middle: some orders done, others still to go.
        while time.monotonic() < deadline:
            done = PaperOrder.objects.count()
            if done >= 4:
                break
            time.sleep(0.05)
        _kill(worker)
        _release_dead_workers_locks(redis_url)
        at_kill = _statuses()
        assert at_kill.get("FILLED", 0) < FOLLOWERS, f"fan-out finished before the kill: {at_kill}"

        worker = _start_worker(env, queue, log)
        _wait_ready(log, worker, deadline)
        # Let the new worker drain the queue, then run reconciliation as beat would once the dead
        # worker's orders have gone quiet (simulated by looking from an hour later).
        last, quiet_since = None, time.monotonic()
        while time.monotonic() < deadline:
            current = _statuses()
            if current.get("FILLED", 0) == FOLLOWERS:
                break
            if current != last:
                last, quiet_since = current, time.monotonic()
            elif time.monotonic() - quiet_since > 3:
                copy_orders_reconcile(now=timezone.now() + dt.timedelta(hours=1))
                quiet_since = time.monotonic()
            time.sleep(0.2)
        final = _statuses()
        assert final == {"FILLED": FOLLOWERS}, f"at kill {at_kill}, final {final}\n{log.read_text()[-3000:]}"
        per_credential = PaperOrder.objects.values("credential__account__user_id").annotate(n=Count("id"))
        counts = {row["credential__account__user_id"]: row["n"] for row in per_credential}
        assert counts == {f"f{i:02d}": 1 for i in range(FOLLOWERS)}
        orders = CopyOrder.objects.filter(signal=signal_obj)
        assert {o.client_order_id for o in orders} == set(PaperOrder.objects.values_list("client_order_id", flat=True))
    finally:
        _kill(worker)
        celery_app.conf.task_always_eager = old_eager
        celery_app.conf.task_default_queue = old_queue
