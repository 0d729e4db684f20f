"""Queue a Celery task by its registered name. The module that queues a task then never imports the
tasks module, which imports the services that queue it: no import circle, and services stay
importable without Celery's task registry. Each app whose tasks are queued by name imports its
tasks.py in AppConfig.ready(), so every process (tests in eager mode too) knows them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from celery import current_app
from django.db import transaction


def task_enqueue(name: str, *, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
                 queue: str | None = None, on_commit: bool = False, retry: bool | None = None) -> None:
    """Send task `name` with these arguments. `on_commit`: only once the current transaction commits
    (nothing is queued for a change that rolls back). `queue` overrides the task's route; `retry=False`
    fails at once when the broker is down instead of retrying the publish (the caller handles it)."""
    options: dict[str, Any] = {}
    if queue:
        options["queue"] = queue
    if retry is not None:
        options["retry"] = retry
    signature = current_app.signature(name, args=tuple(args), kwargs=dict(kwargs or {}))
    if on_commit:
        transaction.on_commit(lambda: signature.apply_async(**options))
    else:
        signature.apply_async(**options)
