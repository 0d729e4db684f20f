"""Writes to the audit chain. The only way an AuditEvent is created; nothing updates or deletes one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from core.actors import Actor
from core.decimals import to_jsonable
from core.enqueue import task_enqueue

from .chain import audit_event_hash
from .models import AuditChainHead, AuditEvent, Communication

logger = logging.getLogger("nija.audit")

# Kinds whose e-mail carries a one-time link (a portal invitation, a password reset). The log keeps
# the text without the link and the kind's renderer writes the e-mail at send time, so nobody who
# reads the log (staff in the admin, the investor's Messages page) holds a usable link.
SEND_TIME_BODIES: dict[str, Callable[[Any], str]] = {}


def communication_body_renderer_register(*, kind: str, renderer: Callable[[Any], str]) -> None:
    """`renderer(communication) -> e-mail body`, called by the sender for messages of `kind`."""
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


def communication_record(
    *, actor: Actor, account, kind: str, channel: str, subject: str, body: str,
    direction: str = "outbound",
):
    """Log a communication. Outbound e-mail is queued and sent by a task after commit, so a mail
    server outage never rolls back the business change that caused the message."""
    if kind not in Communication.Kind.values or channel not in Communication.Channel.values:
        raise ValueError(f"unknown communication kind/channel: {kind}/{channel}")
    sendable = channel == Communication.Channel.EMAIL and direction == Communication.Direction.OUTBOUND
    name, _ = actor_name(actor)
    message = Communication.objects.create(
        account=account, kind=kind, channel=channel, direction=direction, subject=subject[:200], body=body,
        status=Communication.Status.QUEUED if sendable else Communication.Status.RECORDED, created_by=name,
    )
    if sendable:
        task_enqueue("compliance.tasks.communication_send_task", args=[message.id], on_commit=True)
    return message


def communication_send(*, communication_id: int) -> None:
    """Send one queued e-mail; the outcome (sent, or failed with its reason) is stored."""
    claimed = Communication.objects.filter(id=communication_id, status=Communication.Status.QUEUED).update(
        status=Communication.Status.SENT, sent_at=timezone.now()
    )
    if not claimed:  # already sent by an earlier delivery of this task
        return
    message = Communication.objects.select_related("account").get(id=communication_id)
    try:
        renderer = SEND_TIME_BODIES.get(message.kind)
        body = renderer(message) if renderer else message.body
        send_mail(message.subject, body, settings.DEFAULT_FROM_EMAIL, [message.account.email])
    except Exception as exc:  # noqa: BLE001 - any transport failure is recorded, not raised
        Communication.objects.filter(id=communication_id).update(
            status=Communication.Status.FAILED, sent_at=None, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        logger.warning("e-mail %s to %s failed: %s", communication_id, message.account.user_id, exc)


def welcome_communication_record(*, actor: Actor, account) -> None:
    body = render_to_string("email/welcome.txt", {"account": account})
    communication_record(actor=actor, account=account, kind="welcome", channel="email",
                         subject="Welcome to NIJA", body=body)
