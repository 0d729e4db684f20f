"""Thin Celery tasks of the cross-app workflows."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from core.errors import ApplicationError

from .selectors import offboarding_get
from .services import compliance_run_execute, compliance_run_summary, offboarding_advance, offboardings_advance

logger = logging.getLogger("nija.operations")


@shared_task(name="operations.tasks.offboardings_advance_task", ignore_result=True)
def offboardings_advance_task() -> dict:
    """Every minute: unfinished offboardings move on (fills reconciled, then the last steps)."""
    return offboardings_advance()


@shared_task(name="operations.tasks.offboarding_advance_task", ignore_result=True)
def offboarding_advance_task(offboarding_id: int) -> str:
    """Started from the admin: run the offboarding's steps as far as they go now."""
    offboarding = offboarding_advance(actor="system:offboarding", offboarding=offboarding_get(pk=int(offboarding_id)))
    return offboarding.progress_text()


# The compliance run reads every account once: longer than the default time limits.
COMPLIANCE_SOFT_TIME_LIMIT, COMPLIANCE_TIME_LIMIT = 600, 660


@shared_task(name="operations.tasks.compliance_run_task", ignore_result=True,
             soft_time_limit=COMPLIANCE_SOFT_TIME_LIMIT, time_limit=COMPLIANCE_TIME_LIMIT)
def compliance_run_task(kind: str = "daily") -> dict:
    """Beat: the daily compliance check (01:00 UTC, after the reports and the books reconciliation)
    and the weekly review (Mondays 01:15 UTC). A run already under way makes this one a no-op; at
    the soft time limit the run stops unfinished (its findings so far are kept, none is resolved)."""
    try:
        run = compliance_run_execute(kind=str(kind))
    except ApplicationError as exc:
        logger.warning("compliance run (%s) not started: %s", kind, exc)
        return {"error": str(exc)}
    except SoftTimeLimitExceeded:
        logger.error("compliance run (%s) stopped at its soft time limit (%s s)", kind, COMPLIANCE_SOFT_TIME_LIMIT)
        return {"error": "soft time limit"}
    return compliance_run_summary(run)
