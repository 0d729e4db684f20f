"""Writes for sign-in security. Unlocking a locked username is a staff action with a reason,
recorded in the audit chain; it removes django-axes' failure records for that username."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.selectors import communication_latest_id_to_login
from compliance.services import (
    LINK_PLACEHOLDER,
    audit_event_record,
    communication_body_renderer_register,
    communication_record,
)
from core.actors import Actor, reason_required
from core.errors import ApplicationError

from .selectors import REAUTH_SESSION_KEY, authentication_is_recent, login_failures, otp_pending

if TYPE_CHECKING:
    from compliance.models import Communication


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


# --- password reset by e-mail (the back office's page) ------------------------------------------------
STAFF_PASSWORD_RESET_KIND = "staff_password_reset"
RESET_PAGE_ACTOR = "password-reset-page"


def staff_password_reset_link(user) -> str:
    """The one-time link to /password-reset/<uid>/<token>/ (Django's default tokens: it dies when the
    password changes, and after PASSWORD_RESET_TIMEOUT). The address comes from settings, never from
    the request's Host header."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)})
    return settings.NIJA_PORTAL_BASE_URL.rstrip("/") + path


def _staff_password_reset_email(*, username: str, link: str) -> tuple[str, str]:
    context = {"username": username, "link": link, "link_is_url": link.startswith("http"),
               "expiry_hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)}
    return (render_to_string("email/password_reset.txt", context),
            render_to_string("email/password_reset.html", context))


def staff_password_reset_send(*, user) -> Communication:
    """The reset e-mail for a login that asked on the back office's page: a communication-log row
    addressed to the login (no account), sent by the worker; the log keeps the text without the link,
    which the sender writes at send time. The request is audited."""
    text, _html = _staff_password_reset_email(username=user.get_username(), link=LINK_PLACEHOLDER)
    with transaction.atomic():
        message = communication_record(
            actor=RESET_PAGE_ACTOR, account=None, recipient_user=user, kind=STAFF_PASSWORD_RESET_KIND,
            channel="email", subject=render_to_string("email/password_reset_subject.txt").strip(), body=text)
        audit_event_record(actor=RESET_PAGE_ACTOR, action="password_reset.request", target_type="login",
                           target_id=user.get_username(), reason="requested on the password reset page",
                           after={"communication_id": message.id})
    return message


def staff_password_reset_email_render(message: Communication) -> tuple[str, str]:
    """The e-mail (text, HTML) at send time. Only the login's newest request gets a link, and only
    while the login is active, has a password and still has the address the request was sent to."""
    user = message.recipient_user
    if user is None or not user.is_active or not user.has_usable_password():
        link = "(this login can no longer reset its password by e-mail: ask an administrator)"
    elif (user.email or "").strip().lower() not in {address.lower() for address in message.recipients}:
        link = "(the login's e-mail address changed after this request: ask for a new link)"
    elif communication_latest_id_to_login(user=user, kind=STAFF_PASSWORD_RESET_KIND) != message.id:
        link = "(replaced by a newer request; use the newest e-mail)"
    else:
        link = staff_password_reset_link(user)
    return _staff_password_reset_email(username=user.get_username() if user else "", link=link)


communication_body_renderer_register(kind=STAFF_PASSWORD_RESET_KIND, renderer=staff_password_reset_email_render)


def password_reset_complete_record(*, user) -> None:
    """A new password was set through an e-mailed link: audited (the user as actor), and a lockout of
    the login cleared."""
    with transaction.atomic():
        audit_event_record(actor=user, action="password_reset.done", target_type="login",
                           target_id=user.get_username(), reason="new password set through the e-mailed link")
        login_unlock_on_password_reset(user=user)


def login_unlock_on_password_reset(*, user) -> int:
    """A new password set through an e-mailed reset link also clears a lockout of that login
    (audited, the user as actor): whoever holds the mailbox could reset it anyway. Returns how many
    failed sign-ins were cleared (0: nothing was locked or counted, nothing written)."""
    username = user.get_username()
    if not login_failures(username=username):
        return 0
    return login_unlock(actor=user, username=username, reason="password reset by e-mail")


# --- two-factor sign-in (django-otp) --------------------------------------------------------------
RECOVERY_CODES = 10


def otp_setup_start(*, user) -> TOTPDevice:
    """The user's pending (unconfirmed) authenticator, created once: reloading the setup page keeps
    the same secret, so a code scanned a moment ago still works."""
    return otp_pending(user) or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def _recovery_codes_issue(user) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name="recovery")
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def otp_setup_confirm(*, user, token: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator with a code it shows; returns it and fresh recovery codes
    (shown once, stored as given: django-otp compares them directly). Audited."""
    device = otp_pending(user)
    if device is None:
        raise ApplicationError("no authenticator is waiting to be confirmed: start the setup again",
                               code="otp_not_started")
    token = (token or "").strip().replace(" ", "")
    if not token.isdigit() or not device.verify_token(token):
        raise ApplicationError("that code does not match: enter the 6 digits your app shows now",
                               code="otp_invalid")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_issue(user)
        audit_event_record(actor=user, action="otp.enabled", target_type="user", target_id=user.get_username(),
                           after={"authenticator": True, "recovery_codes": len(codes)})
    return device, codes


def otp_recovery_codes_renew(*, user) -> list[str]:
    """New recovery codes replace the old ones (all of them). Audited."""
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ApplicationError("set up the authenticator first", code="otp_not_enabled")
    with transaction.atomic():
        codes = _recovery_codes_issue(user)
        audit_event_record(actor=user, action="otp.recovery_codes_renewed", target_type="user",
                           target_id=user.get_username(), after={"recovery_codes": len(codes)})
    return codes


def otp_disable(*, actor: Actor, user, reason: str) -> None:
    """Remove a user's authenticator and recovery codes (a lost phone: staff do it for them, with a
    reason; a user may turn off their own only where it is not required). Audited."""
    reason = reason_required(reason, "turn off two-factor sign-in")
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        StaticDevice.objects.filter(user=user).delete()
        audit_event_record(actor=actor, action="otp.disabled", target_type="user", target_id=user.get_username(),
                           reason=reason, before={"authenticator": bool(removed)}, after={"authenticator": False})


# --- asking for the password again before a sensitive action ---------------------------------------
def authentication_mark_recent(request) -> None:
    request.session[REAUTH_SESSION_KEY] = time.time()


def password_reconfirm(*, request, password: str) -> str:
    """'' when the action may go ahead: the session's authentication is recent, or `password` is the
    signed-in user's (checked through authenticate(), so the lockout counts a wrong one). Else why not."""
    if authentication_is_recent(request):
        return ""
    if not password:
        return "your last sign-in is more than a few minutes old: enter your password to confirm"
    user = authenticate(request, username=request.user.get_username(), password=password)
    if user is None or user.pk != request.user.pk:
        return "that password is not right"
    authentication_mark_recent(request)
    return ""


def signed_in_receiver(sender, request, user, **kwargs) -> None:
    """user_logged_in: a sign-in proves the password, so the re-authentication clock starts from it."""
    if request is not None and hasattr(request, "session"):
        authentication_mark_recent(request)
