"""Where the investor overview's computed figures are kept, and how one refresh per account is queued.

The figures live in the "overview" cache (Redis, or a folder in the embedded mode), shared by the web
process that shows them and the worker that computes them: one entry per account holding the
latest computation, {version, computed_at, overview}. The version names the books it was computed
from (reporting.selectors.overview_version); the page serves the entry as current when the versions
agree and, when they differ, as it stands with its time while a refresh runs.

A refresh is queued through an add-if-absent marker per account, set when the task is queued and
cleared by the task when it is done: a burst of ledger writes queues one task, which computes again
if the books moved while it ran (reporting.services.account_overview_refresh)."""

from __future__ import annotations

import datetime as dt
import logging

from django.core.cache import caches
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from core.enqueue import task_enqueue

logger = logging.getLogger("nija.reporting")

REFRESH_TASK = "reporting.tasks.account_overview_refresh_task"
# An investor away for longer than this sees their first overview computed inline again.
LATEST_KEEP_SECONDS = 30 * 24 * 3600
# Longer than the refresh task's hard time limit plus a wait in the queue: a marker left by a killed
# worker expires instead of blocking the account's refreshes for good.
REFRESH_MARKER_SECONDS = 15 * 60


def _store():
    return caches["overview"]


def _latest_key(*, account_id: int, created: float) -> str:
    # The account's creation time too: test databases reuse ids, a cached entry must not follow an id.
    return f"nija:overview:v2:{account_id}:{created}:latest"


def _marker_key(*, account_id: int) -> str:
    return f"nija:overview:v2:{account_id}:refresh"


def overview_latest(*, account_id: int, created: float) -> dict | None:
    """{version, computed_at, overview} of the account's latest computation, or None."""
    return _store().get(_latest_key(account_id=account_id, created=created))


def overview_latest_store(*, account_id: int, created: float, version: str, computed_at: dt.datetime,
                          overview: dict) -> None:
    _store().set(_latest_key(account_id=account_id, created=created),
                 {"version": version, "computed_at": computed_at, "overview": overview}, timeout=LATEST_KEEP_SECONDS)


def overview_refresh_claim(*, account_id: int) -> bool:
    """Take the account's refresh marker; False when a refresh is already queued or running."""
    return _store().add(_marker_key(account_id=account_id), "1", timeout=REFRESH_MARKER_SECONDS)


def overview_refresh_release(*, account_id: int) -> None:
    _store().delete(_marker_key(account_id=account_id))


def _refresh_publish(account_id: int) -> None:
    if not overview_refresh_claim(account_id=account_id):
        return
    try:
        task_enqueue(REFRESH_TASK, args=[account_id])
    except (BrokerError, OSError) as exc:
        # The write that asked for it is committed: say why, free the marker, and let the next
        # overview view (which serves the figures it has) queue the refresh again.
        overview_refresh_release(account_id=account_id)
        logger.warning("overview refresh of account #%s not queued: %s: %s", account_id, type(exc).__name__, exc)


def overview_refresh_queue(*, account_id: int) -> None:
    """Queue one refresh of the account's overview once the current transaction commits (at once
    outside one; nothing for a transaction that rolls back), unless one is queued or running."""
    transaction.on_commit(lambda: _refresh_publish(account_id))
