"""Reads for sign-in security (django-axes' failure records)."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


def login_failures(*, username: str, for_update: bool = False) -> int:
    """Failed sign-ins counted against `username` since its last success or unlock."""
    attempts = AccessAttempt.objects.filter(username=username)
    if for_update:
        attempts = attempts.select_for_update()
        return sum(a.failures_since_start for a in attempts)
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


def login_is_locked(*, username: str) -> bool:
    return login_failures(username=username) >= settings.AXES_FAILURE_LIMIT
