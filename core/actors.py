"""Who makes a change and why: the actor every service takes, and the check for a required reason.
Services in every app use these, so "who" and "why" mean the same in each audit event."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from .errors import ApplicationError

# A signed-in user, a shell or system name ("cli:alice", "webhook"), or None for the system itself.
Actor = AbstractBaseUser | str | None


def reason_required(reason: str | None, action: str) -> str:
    """The trimmed reason, or ApplicationError(code="reason_required") naming the action refused."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(f"a reason is required to {action}", code="reason_required")
    return reason
