"""Thin Celery tasks: ids and strings in, one service call each."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.selectors import account_by_id
from core.dates import day_parse

from .selectors import account_ids_with_ledger, fee_schedules

logger = logging.getLogger("nija.reporting")


def _day(day_iso: str | None) -> dt.date:
    return day_parse(day_iso, name="day", default=timezone.now().date() - dt.timedelta(days=1))


@shared_task
def reports_period_task(period: str, day_iso: str | None = None) -> int:
    """Beat entry point: one report task per account with a ledger (daily 00:10 UTC for yesterday,
    weekly on Mondays for the week to Sunday, monthly on the 1st for the previous month)."""
    day = _day(day_iso)
    ids = list(account_ids_with_ledger())
    for account_id in ids:
        transaction.on_commit(lambda a=account_id: report_generate_task.delay(a, period, day.isoformat()))
    return len(ids)


@shared_task(bind=True, max_retries=2, default_retry_delay=60)
def report_generate_task(self, account_id: int, period: str, day_iso: str) -> int:
    from .services import daily_nav_refresh, report_generate

    account = account_by_id(account_id=account_id)
    day = _day(day_iso)
    if period == "daily":
        daily_nav_refresh(account=account, through=day)
    return report_generate(account=account, period=period, day=day).pk


@shared_task
def prices_refresh_task() -> dict:
    from .services import prices_refresh

    result = prices_refresh()
    for asset, outcome in result.items():
        if outcome.startswith("error"):
            logger.warning("price of %s unavailable: %s", asset, outcome)
    return result


@shared_task
def fees_accrue_task() -> int:
    from .services import fees_accrue

    total = 0
    for schedule in fee_schedules():
        total += fees_accrue(account=schedule.account)
    return total


@shared_task
def ledger_copy_fills_import_task() -> int:
    """Copy-order fills into the ledger (idempotent on the fill's trade id)."""
    from .services import ledger_entries_from_copy_fills

    try:
        return ledger_entries_from_copy_fills(since=timezone.now() - dt.timedelta(days=2))
    except ImportError:  # the copy engine is not installed in this deployment
        return 0
