"""Writes to the audit chain. The only way an AuditEvent is created; nothing updates or deletes one."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from core.actors import Actor
from core.decimals import to_jsonable
from core.enqueue import task_enqueue
from core.heartbeats import AUDIT_CHAIN_VERIFY, heartbeat_record

from .chain import audit_event_hash
from .models import AuditChainHead, AuditEvent, Communication, NotificationPreference, notification_dedup_key
from .selectors import ChainVerification, audit_chain_verify

logger = logging.getLogger("nija.audit")

mail_logger = logging.getLogger("nija.mail")

# Kinds whose e-mail carries a one-time link (a portal invitation, a password reset). The log keeps
# the text without the link and the kind's renderer writes the e-mail at send time, so nobody who
# reads the log (staff in the admin, the investor's Messages page) holds a usable link.
SEND_TIME_BODIES: dict[str, Callable[[Any], str | tuple[str, str]]] = {}
# What the log keeps in place of such a link (the e-mail itself carries the real one).
LINK_PLACEHOLDER = "[one-time link: in the e-mail only]"


def communication_body_renderer_register(*, kind: str, renderer: Callable[[Any], str | tuple[str, str]]) -> None:
    """`renderer(communication) -> text body` or `(text, html)`, called by the sender for messages of `kind`."""
    SEND_TIME_BODIES[kind] = renderer


def actor_name(actor: Actor) -> tuple[str, AbstractBaseUser | None]:
    if actor is None or isinstance(actor, AnonymousUser):
        return "system", None
    if isinstance(actor, str):
        return actor, None
    return actor.get_username(), actor


def audit_event_record(
    *, actor: Actor, action: str, target_type: str, target_id: str,
    reason: str = "", before: Any = None, after: Any = None,
) -> AuditEvent:
    """Append one event. Runs inside the caller's transaction when there is one, so the event and
    the change it records commit together or not at all."""
    name, user = actor_name(actor)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.get_or_create(id=1)
        # Re-read under a row lock: concurrent appenders queue here and each sees the latest tip.
        head = AuditChainHead.objects.select_for_update().get(id=1)
        event = AuditEvent(
            seq=head.last_seq + 1,
            created_at=timezone.now(),
            actor=name,
            actor_user=user,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            reason=reason,
            before=to_jsonable(before),
            after=to_jsonable(after),
            prev_hash=head.last_hash,
        )
        event.hash = audit_event_hash(event)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(id=1).update(last_seq=event.seq, last_hash=event.hash)
    logger.info(event.log_line())
    return event


Kind = Communication.Kind
Category = Communication.Category

# The admin's "type" of each kind of message the system sends.
KIND_CATEGORIES: dict[str, str] = {
    Kind.TRADING_ENABLED: Category.SYSTEM, Kind.TRADING_DISABLED: Category.SYSTEM, Kind.SUSPENDED: Category.SYSTEM,
    Kind.REACTIVATED: Category.SYSTEM, Kind.OFFBOARDED: Category.SYSTEM, Kind.WELCOME: Category.EMAIL_OUT,
    Kind.INVITATION: Category.SYSTEM, Kind.PASSWORD_RESET: Category.SYSTEM, Kind.STAFF_PASSWORD_RESET: Category.SYSTEM,
    Kind.DAILY_LOSS_APPROACHING: Category.ALERT, Kind.DAILY_LOSS_REACHED: Category.ALERT,
    Kind.BALANCE_LOW: Category.ALERT, Kind.BALANCE_DROP: Category.ALERT, Kind.ALERT: Category.ALERT,
    Kind.COMPLIANCE_RUN: Category.ALERT,
    Kind.DAILY_SUMMARY: Category.PERFORMANCE, Kind.WEEKLY_SUMMARY: Category.PERFORMANCE,
    Kind.MONTHLY_UPDATE: Category.PERFORMANCE, Kind.REPORT: Category.PERFORMANCE, Kind.STATEMENT: Category.PERFORMANCE,
}

# Optional messages and the preference (NotificationPreference field) that turns each off or on.
OPTIONAL_KINDS: dict[str, str] = {
    Kind.DAILY_SUMMARY: "daily_summary", Kind.WEEKLY_SUMMARY: "weekly_summary",
    Kind.MONTHLY_UPDATE: "monthly_update", Kind.BALANCE_LOW: "balance_alerts", Kind.BALANCE_DROP: "balance_alerts",
    Kind.DAILY_LOSS_APPROACHING: "loss_limit_warnings",
}
PREFERENCE_FIELDS = ("daily_summary", "weekly_summary", "monthly_update", "balance_alerts", "loss_limit_warnings")


def _category_for(*, kind: str, channel: str, direction: str) -> str:
    if channel == Communication.Channel.PHONE:
        return Category.CALL
    if direction == Communication.Direction.INBOUND:
        return Category.EMAIL_IN
    return KIND_CATEGORIES.get(kind, Category.EMAIL_OUT)


def communication_record(
    *, actor: Actor, account, kind: str, channel: str, subject: str, body: str,
    direction: str = "outbound", category: str = "", follow_up_due: dt.date | None = None,
    recipient_user: AbstractBaseUser | None = None,
):
    """Log a communication. Outbound e-mail is queued and sent by a task after commit, so a mail
    server outage never rolls back the business change that caused the message. It goes to the
    account holder, or (no account) to the login `recipient_user` at its e-mail address."""
    if kind not in Communication.Kind.values or channel not in Communication.Channel.values:
        raise ValueError(f"unknown communication kind/channel: {kind}/{channel}")
    if direction not in Communication.Direction.values or (category and category not in Category.values):
        raise ValueError(f"unknown communication direction/type: {direction}/{category}")
    sendable = channel == Communication.Channel.EMAIL and direction == Communication.Direction.OUTBOUND
    name, _ = actor_name(actor)
    if account is not None:
        to = [account.email]
    else:
        to = [recipient_user.email] if recipient_user is not None and recipient_user.email else []
    message = Communication.objects.create(
        account=account, kind=kind, channel=channel, direction=direction, subject=subject[:200], body=body,
        category=category or _category_for(kind=kind, channel=channel, direction=direction),
        recipients=to if sendable else [], recipient_user=recipient_user, follow_up_due=follow_up_due,
        status=Communication.Status.QUEUED if sendable else Communication.Status.RECORDED, created_by=name,
    )
    if sendable:
        task_enqueue("compliance.tasks.communication_send_task", args=[message.id], on_commit=True)
    return message


def communication_follow_up_set(*, actor: Actor, communication_id: int, due: dt.date | None,
                                done: bool) -> Communication:
    """Staff set or clear an entry's follow-up (the only change a logged entry takes); audited."""
    with transaction.atomic():
        communication = Communication.objects.select_for_update().get(pk=communication_id)
        before = {"follow_up_due": communication.follow_up_due, "follow_up_done": communication.follow_up_done}
        after = {"follow_up_due": due, "follow_up_done": bool(done)}
        if before == after:
            return communication
        Communication.objects.filter(pk=communication.pk).update(**after)
        audit_event_record(actor=actor, action="COMMUNICATION_FOLLOW_UP", target_type="communication",
                           target_id=str(communication.pk), before=before, after=after)
    communication.refresh_from_db()
    return communication


# --- notifications: rendered from templates/email/<kind>*, once per (recipient, kind, period) ------------

def notification_render(*, kind: str, account, period: str, context: dict,
                        template: str = "") -> tuple[str, str, str]:
    """(subject, text, html) from templates/email/<template>_subject.txt, <template>.txt, <template>.html
    (`template` defaults to the kind)."""
    name = template or kind
    full = {**context, "account": account, "period": period,
            "portal_url": settings.NIJA_PORTAL_BASE_URL.rstrip("/") + "/portal/"}
    subject = re.sub(r"\s+", " ", render_to_string(f"email/{name}_subject.txt", full)).strip()
    text = render_to_string(f"email/{name}.txt", full)
    html = render_to_string(f"email/{name}.html", full)
    return subject[:200], text, html


def notification_preferences_get(*, account) -> NotificationPreference:
    """The account's preferences, or the defaults (an unsaved row) when it never set any."""
    return (NotificationPreference.objects.filter(account=account).first()
            or NotificationPreference(account=account))


def notification_wanted(*, account, kind: str) -> bool:
    """False when `kind` is optional and the account's preferences turn it off."""
    field = OPTIONAL_KINDS.get(kind)
    return field is None or bool(getattr(notification_preferences_get(account=account), field))


def notification_preferences_update(*, actor: Actor, account, changes: dict[str, bool]) -> NotificationPreference:
    """Set which optional messages the account gets (audited)."""
    unknown = set(changes) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"unknown notification preference: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        prefs, _ = NotificationPreference.objects.select_for_update().get_or_create(account=account)
        before = {name: getattr(prefs, name) for name in PREFERENCE_FIELDS}
        for name, value in changes.items():
            setattr(prefs, name, bool(value))
        after = {name: getattr(prefs, name) for name in PREFERENCE_FIELDS}
        if before != after:
            prefs.save()
            audit_event_record(actor=actor, action="NOTIFICATION_PREFERENCES_UPDATE", target_type="account",
                               target_id=account.user_id, before={k: v for k, v in before.items() if after[k] != v},
                               after={k: v for k, v in after.items() if before[k] != v})
    return prefs


def _notification_create(*, kind: str, account, period: str, context: dict, actor: Actor,
                         recipients: list[str], missing_recipients: str = "") -> Communication | None:
    if kind not in Kind.values:
        raise ValueError(f"unknown notification kind: {kind}")
    period = (period or "").strip()
    if not period:
        raise ValueError("a notification needs its period (the day, week, month or event it is about)")
    key = notification_dedup_key(account=account, kind=kind, period=period)
    if Communication.objects.filter(dedup_key=key).exists():
        return None
    subject, text, html = notification_render(kind=kind, account=account, period=period, context=context)
    name, _ = actor_name(actor)
    sendable = bool(recipients)
    try:
        with transaction.atomic():  # a savepoint: losing the race to a concurrent run changes nothing else
            message = Communication.objects.create(
                account=account, kind=kind, category=KIND_CATEGORIES.get(kind, Category.EMAIL_OUT),
                channel=Communication.Channel.EMAIL, direction=Communication.Direction.OUTBOUND,
                recipients=recipients, subject=subject, body=text, body_html=html, period=period, dedup_key=key,
                status=Communication.Status.QUEUED if sendable else Communication.Status.FAILED,
                error="" if sendable else missing_recipients, created_by=name,
            )
    except IntegrityError:
        return None
    if sendable:
        task_enqueue("compliance.tasks.communication_send_task", args=[message.id], on_commit=True)
    return message


def notification_queue(
    *, kind: str, account, period: str, context: dict, actor: Actor = "system",
) -> Communication | None:
    """Queue `kind` for the account holder, once per (account, kind, period); the worker sends it after
    commit. None when that message already exists or the account's preferences turn it off, and for the
    MASTER account (the operator's own: staff see its alerts in the admin)."""
    if getattr(account, "is_master", False) or not notification_wanted(account=account, kind=kind):
        return None
    return _notification_create(kind=kind, account=account, period=period, context=context, actor=actor,
                                recipients=[account.email] if account.email else [],
                                missing_recipients="the account has no e-mail address")


def staff_notification_queue(
    *, kind: str, period: str, context: dict, actor: Actor = "system",
) -> Communication | None:
    """Queue `kind` for staff (settings.NIJA_STAFF_ALERT_EMAILS), once per (kind, period). With no
    recipients configured the row is still logged, failed with that reason (nothing to retry)."""
    return _notification_create(kind=kind, account=None, period=period, context=context, actor=actor,
                                recipients=list(settings.NIJA_STAFF_ALERT_EMAILS),
                                missing_recipients="no staff recipients: set NIJA_STAFF_ALERT_EMAILS")


# --- sending, retries ------------------------------------------------------------------------------

def communication_retry_delay(*, attempts: int) -> dt.timedelta:
    """Exponential backoff after the `attempts`-th failed attempt: base, 2 x base, 4 x base... capped."""
    seconds = settings.NIJA_MAIL_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, settings.NIJA_MAIL_RETRY_MAX_SECONDS))


def communication_failure_record(*, communication: Communication, error: str) -> Communication:
    """A send attempt failed: store the error and, below NIJA_MAIL_MAX_ATTEMPTS, when to try again
    (exponential backoff); at the maximum the message stays failed."""
    attempts = communication.attempts
    retry_at = (timezone.now() + communication_retry_delay(attempts=attempts)
                if attempts < settings.NIJA_MAIL_MAX_ATTEMPTS else None)
    Communication.objects.filter(id=communication.pk).update(
        status=Communication.Status.FAILED, sent_at=None, next_attempt_at=retry_at, error=error[:2000])
    mail_logger.warning("e-mail %s (%s) to %s failed, attempt %s of %s: %s; %s", communication.pk, communication.kind,
                        ", ".join(communication.recipients) or "-", attempts, settings.NIJA_MAIL_MAX_ATTEMPTS, error,
                        f"next attempt at {retry_at:%Y-%m-%d %H:%M:%S}" if retry_at else "giving up")
    communication.refresh_from_db()
    return communication


def communication_send(*, communication_id: int) -> None:
    """Send one queued e-mail, or a failed one whose next attempt is due; the outcome (sent, or failed
    with its reason and the time of the next attempt) is stored. The row is claimed by compare-and-set
    before anything is sent, so a redelivered task or a concurrent retry never sends it twice."""
    now = timezone.now()
    due = Q(status=Communication.Status.QUEUED) | Q(status=Communication.Status.FAILED, next_attempt_at__lte=now)
    claimed = Communication.objects.filter(due, id=communication_id).update(
        status=Communication.Status.SENT, sent_at=now, attempts=F("attempts") + 1, next_attempt_at=None
    )
    if not claimed:  # already sent by an earlier delivery of this task, or not due
        return
    message = Communication.objects.select_related("account").get(id=communication_id)
    to = message.recipients or ([message.account.email] if message.account_id else [])
    try:
        renderer = SEND_TIME_BODIES.get(message.kind)
        rendered = renderer(message) if renderer else (message.body, message.body_html)
        text, html = rendered if isinstance(rendered, tuple) else (rendered, "")
        email = EmailMultiAlternatives(message.subject, text, settings.DEFAULT_FROM_EMAIL, to)
        if html:
            email.attach_alternative(html, "text/html")
        email.send()
    except Exception as exc:  # noqa: BLE001 - any transport failure is recorded, not raised
        communication_failure_record(communication=message, error=f"{type(exc).__name__}: {exc}")
        return
    if message.error:
        Communication.objects.filter(id=communication_id).update(error="")


def communications_send_due(*, limit: int) -> dict[str, int]:
    """Send (in id order, at most `limit`) failed messages whose next attempt is due, and queued ones
    whose task was lost (queued longer than NIJA_MAIL_QUEUED_SWEEP_SECONDS). Returns the counts."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.NIJA_MAIL_QUEUED_SWEEP_SECONDS)
    ids = list(Communication.objects.filter(
        Q(status=Communication.Status.FAILED, next_attempt_at__lte=now)
        | Q(status=Communication.Status.QUEUED, created_at__lte=stale)
    ).order_by("id").values_list("id", flat=True)[:limit])
    for communication_id in ids:
        communication_send(communication_id=communication_id)
    outcome = dict.fromkeys(("sent", "failed"), 0)
    for status in Communication.objects.filter(id__in=ids).values_list("status", flat=True):
        outcome["sent" if status == Communication.Status.SENT else "failed"] += 1
    return {"tried": len(ids), **outcome}


def welcome_communication_record(*, actor: Actor, account) -> None:
    """The welcome e-mail, once per account (templates/email/welcome*)."""
    notification_queue(kind=Kind.WELCOME, account=account, period="onboarding", context={}, actor=actor)


def audit_chain_verification_record() -> ChainVerification:
    """Verify the chain and record the result (when, valid, where it broke) as its heartbeat: the
    dashboard and the daily compliance check read the last verification from there, whether the
    beat task or `verify_audit_chain` ran it."""
    result = audit_chain_verify()
    if not result.valid:
        logger.error("AUDIT CHAIN BROKEN at event #%s: %s", result.first_broken_seq, result.problem)
    heartbeat_record(name=AUDIT_CHAIN_VERIFY, detail=result.as_dict())
    return result
