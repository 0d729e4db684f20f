"""Heartbeats of the background parts. A worker records one after a task at most every
WORKER_BEAT_SECONDS (one UPDATE, not one per task); the audit-chain verification records its result.
Beat's own heartbeat is django-celery-beat's record of when it last sent each periodic task."""

from __future__ import annotations

import datetime as dt
import time

from celery.signals import task_postrun
from django.db.models import Max
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from .models import Heartbeat

WORKER = "worker"
AUDIT_CHAIN_VERIFY = "audit_chain_verify"
WORKER_BEAT_SECONDS = 30
_last_worker_beat = {"at": 0.0}


def heartbeat_record(*, name: str, detail: dict | None = None) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now(), "detail": detail or {}})


@task_postrun.connect(dispatch_uid="core.heartbeats.worker")
def _worker_ran_a_task(**_: object) -> None:
    now = time.monotonic()
    if now - _last_worker_beat["at"] >= WORKER_BEAT_SECONDS:
        _last_worker_beat["at"] = now
        heartbeat_record(name=WORKER)


def heartbeats_read() -> dict[str, tuple[dt.datetime | None, dict]]:
    """name -> (last seen, detail) for the worker, the audit-chain verification and beat."""
    found = {h.name: (h.seen_at, h.detail) for h in Heartbeat.objects.filter(name__in=[WORKER, AUDIT_CHAIN_VERIFY])}
    beat = PeriodicTask.objects.aggregate(last=Max("last_run_at"))["last"]
    return {WORKER: found.get(WORKER, (None, {})), AUDIT_CHAIN_VERIFY: found.get(AUDIT_CHAIN_VERIFY, (None, {})),
            "beat": (beat, {})}
