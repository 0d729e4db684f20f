"""Thin Celery tasks: ids and strings in, one service call each."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from accounts.selectors import account_by_id
from brokers.selectors import audit_account_ids_batch
from core.dates import day_parse

from .selectors import fee_schedules_batch, ledger_account_ids_batch
from .services import (
    account_overview_refresh,
    books_reconcile,
    fees_accrue,
    ledger_entries_from_copy_fills,
    prices_refresh,
    report_generate_scheduled,
)

logger = logging.getLogger("nija.reporting")

# A report is rebuilt from the database: a dropped connection or a locked database is worth
# another try; a bug (any other error) is not.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
# Reports render charts over a whole history: longer than the default time limits.
REPORT_SOFT_TIME_LIMIT, REPORT_TIME_LIMIT = 600, 660
# An overview of 100,000 entries takes about 11 s a pass on a busy machine; a refresh makes up to
# three. Under reporting.overview_store.REFRESH_MARKER_SECONDS, so the marker outlives the task.
OVERVIEW_SOFT_TIME_LIMIT, OVERVIEW_TIME_LIMIT = 300, 330


def _day(day_iso: str | None) -> dt.date:
    return day_parse(day_iso, name="day", default=timezone.now().date() - dt.timedelta(days=1))


def batch_size() -> int:
    return max(1, int(settings.NIJA_TASK_BATCH_SIZE))


@shared_task
def reports_period_task(period: str, day_iso: str | None = None, after_id: int = 0) -> int:
    """Beat entry point: one report task per account with a ledger (daily 00:10 UTC for yesterday,
    weekly on Mondays for the week to Sunday, monthly on the 1st for the previous month). Takes
    NIJA_TASK_BATCH_SIZE accounts after `after_id` and queues itself for the rest, with the day
    fixed so every batch reports the same period."""
    day = _day(day_iso)
    size = batch_size()
    ids = ledger_account_ids_batch(after_id=int(after_id), limit=size)
    for account_id in ids:
        transaction.on_commit(lambda a=account_id: report_generate_task.delay(a, period, day.isoformat()))
    if len(ids) == size:
        transaction.on_commit(lambda: reports_period_task.delay(period, day.isoformat(), after_id=ids[-1]))
    return len(ids)


@shared_task(bind=True, autoretry_for=TRANSIENT_ERRORS, max_retries=2, default_retry_delay=60, retry_backoff=60,
             soft_time_limit=REPORT_SOFT_TIME_LIMIT, time_limit=REPORT_TIME_LIMIT)
def report_generate_task(self, account_id: int, period: str, day_iso: str) -> int | None:
    """One account's report. A transient database failure is retried (up to 2 more tries, 60 s
    then 120 s later); at the soft time limit it stops and logs why, storing nothing partial (the
    NAV refresh and the report are each written in one statement or transaction)."""
    account = account_by_id(account_id=account_id)
    day = _day(day_iso)
    try:
        return report_generate_scheduled(account=account, period=period, day=day).pk
    except SoftTimeLimitExceeded:
        logger.warning("%s report of account #%s for %s stopped at its soft time limit (%s s); not stored",
                       period, account_id, day.isoformat(), REPORT_SOFT_TIME_LIMIT)
        return None


@shared_task(soft_time_limit=OVERVIEW_SOFT_TIME_LIMIT, time_limit=OVERVIEW_TIME_LIMIT)
def account_overview_refresh_task(account_id: int) -> int | None:
    """Queued after commit when an account's ledger changes, or by an overview view that served older
    figures (reporting.overview_store): computes and keeps the account's overview. Returns the number
    of computations (0: the figures were current already)."""
    account = account_by_id(account_id=account_id)
    try:
        return account_overview_refresh(account=account)
    except SoftTimeLimitExceeded:
        logger.warning("overview refresh of account #%s stopped at its soft time limit (%s s); the latest "
                       "figures stay as they were", account_id, OVERVIEW_SOFT_TIME_LIMIT)
        return None


@shared_task
def prices_refresh_task() -> dict:
    """New venue prices. It queues no overview refresh: a price changes every account's books at once,
    so each overview view refreshes its own account instead (README, Portal)."""
    result = prices_refresh()
    for asset, outcome in result.items():
        if outcome.startswith("error"):
            logger.warning("price of %s unavailable: %s", asset, outcome)
    return result


@shared_task
def fees_accrue_task(through_iso: str | None = None, after_id: int = 0) -> int:
    """Accrue fees through `through_iso` (default yesterday) for NIJA_TASK_BATCH_SIZE accounts with a
    fee schedule after `after_id`, then queue itself for the rest. Accrual never stores a charge
    twice, so a batch delivered again changes nothing."""
    through = _day(through_iso)
    size = batch_size()
    schedules = fee_schedules_batch(after_id=int(after_id), limit=size)
    total = 0
    for schedule in schedules:
        total += fees_accrue(account=schedule.account, through=through)
    if len(schedules) == size:
        last = schedules[-1].account_id
        transaction.on_commit(lambda: fees_accrue_task.delay(through.isoformat(), after_id=last))
    return total


@shared_task
def ledger_copy_fills_import_task() -> int:
    """Copy-order fills into the ledger (idempotent on the fill's trade id)."""
    return ledger_entries_from_copy_fills(since=timezone.now() - dt.timedelta(days=2))


@shared_task
def books_reconcile_task(after_id: int = 0) -> dict:
    """Daily: the books of NIJA_TASK_BATCH_SIZE accounts with an active credential after `after_id`
    against their latest good balances, then queue itself for the rest. Running a batch again
    finds the same breaks (one row each), so a redelivery changes nothing but last_seen_at."""
    size = batch_size()
    ids = audit_account_ids_batch(after_id=int(after_id), limit=size)
    result = books_reconcile(account_ids=ids)
    if len(ids) == size:
        transaction.on_commit(lambda: books_reconcile_task.delay(after_id=ids[-1]))
    if result.breaks:
        logger.warning("books reconciliation: %d break(s) (%d new) in %d account(s)", len(result.breaks), result.new,
                       result.accounts)
    return {"accounts": result.accounts, "breaks": len(result.breaks), "new": result.new,
            "resolved": len(result.resolved), "unavailable": len(result.unavailable)}
