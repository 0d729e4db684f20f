"""Writes for sign-in security. Unlocking a locked username is a staff action with a reason,
recorded in the audit chain; it removes django-axes' failure records for that username."""

from __future__ import annotations

from axes.utils import reset as axes_reset
from django.conf import settings
from django.db import transaction

from compliance.services import audit_event_record
from core.actors import Actor, reason_required
from core.errors import ApplicationError

from .selectors import login_failures


def login_unlock(*, actor: Actor, username: str, reason: str) -> int:
    """Clear the failed sign-ins of `username` (locked or not yet); returns how many were counted.
    Refused, with nothing written, when no failure is recorded for it."""
    reason = reason_required(reason, "unlock a sign-in")
    username = (username or "").strip()
    if not username:
        raise ApplicationError("a username is required", code="invalid")
    with transaction.atomic():
        failures = login_failures(username=username, for_update=True)
        if not failures:
            raise ApplicationError(f"no failed sign-ins are recorded for {username!r}: nothing to unlock",
                                   code="not_locked")
        axes_reset(username=username)
        audit_event_record(
            actor=actor, action="login.unlock", target_type="login", target_id=username, reason=reason,
            before={"failures": failures, "locked": failures >= settings.AXES_FAILURE_LIMIT},
            after={"failures": 0, "locked": False},
        )
    return failures


