"""Thin Celery tasks of the cross-app workflows."""

from __future__ import annotations

from celery import shared_task

from .selectors import offboarding_get
from .services import offboarding_advance, offboardings_advance


@shared_task(name="operations.tasks.offboardings_advance_task", ignore_result=True)
def offboardings_advance_task() -> dict:
    """Every minute: unfinished offboardings move on (fills reconciled, then the last steps)."""
    return offboardings_advance()


@shared_task(name="operations.tasks.offboarding_advance_task", ignore_result=True)
def offboarding_advance_task(offboarding_id: int) -> str:
    """Started from the admin: run the offboarding's steps as far as they go now."""
    offboarding = offboarding_advance(actor="system:offboarding", offboarding=offboarding_get(pk=int(offboarding_id)))
    return offboarding.progress_text()
