"""Reads for sign-in security (django-axes' failure records)."""

from __future__ import annotations

import time

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

OPERATOR_GROUP = "operator"  # accounts.roles names the staff groups; the name is the contract


def login_failures(*, username: str, for_update: bool = False) -> int:
    """Failed sign-ins counted against `username` since its last success or unlock."""
    attempts = AccessAttempt.objects.filter(username=username)
    if for_update:
        attempts = attempts.select_for_update()
        return sum(a.failures_since_start for a in attempts)
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


def login_is_locked(*, username: str) -> bool:
    return login_failures(username=username) >= settings.AXES_FAILURE_LIMIT


def otp_required_for(user) -> bool:
    """Two-factor sign-in is required (NIJA_OTP_REQUIRED, on in production) for superusers and the
    operator group; optional for viewers."""
    if not (settings.NIJA_OTP_REQUIRED and user.is_authenticated and user.is_staff):
        return False
    return user.is_superuser or user.groups.filter(name=OPERATOR_GROUP).exists()


def otp_authenticator(user) -> TOTPDevice | None:
    """The user's confirmed authenticator, if they set one up."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def otp_pending(user) -> TOTPDevice | None:
    """The user's authenticator waiting to be confirmed with a first code, if setup was started."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()


def otp_recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def otp_state(request) -> str:
    """'ok' (verified, or nothing required and nothing set up), 'code' (an authenticator is set up
    but this session has not given a code) or 'setup' (required and not set up yet)."""
    user = request.user
    if user_has_device(user):
        return "ok" if user.is_verified() else "code"
    return "setup" if otp_required_for(user) else "ok"


REAUTH_SESSION_KEY = "nija_authenticated_at"


def authentication_is_recent(request) -> bool:
    """Whether this session proved its password within NIJA_REAUTH_SECONDS (sign-in or re-entry)."""
    at = request.session.get(REAUTH_SESSION_KEY)
    return isinstance(at, int | float) and time.time() - at <= settings.NIJA_REAUTH_SECONDS
