"""Writes to the audit chain. The only way an AuditEvent is created; nothing updates or deletes one."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.decimals import to_jsonable

from .models import AuditChainHead, AuditEvent

logger = logging.getLogger("nija.audit")

GENESIS_HASH = "0" * 64


def audit_event_payload(
    *, seq: int, created_at_iso: str, actor: str, action: str, target_type: str, target_id: str,
    reason: str, before: Any, after: Any, prev_hash: str,
) -> bytes:
    """Canonical serialization: sorted keys, no whitespace, UTF-8. Changing it breaks old chains."""
    body = {
        "seq": seq, "created_at": created_at_iso, "actor": actor, "action": action,
        "target_type": target_type, "target_id": target_id, "reason": reason,
        "before": before, "after": after, "prev_hash": prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def audit_event_hash(event: AuditEvent) -> str:
    payload = audit_event_payload(
        seq=event.seq, created_at_iso=event.created_at.isoformat(), actor=event.actor,
        action=event.action, target_type=event.target_type, target_id=event.target_id,
        reason=event.reason, before=event.before, after=event.after, prev_hash=event.prev_hash,
    )
    return hashlib.sha256(payload).hexdigest()


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
    from .models import Communication
    from .tasks import communication_send_task

    if kind not in Communication.Kind.values or channel not in Communication.Channel.values:
        raise ValueError(f"unknown communication kind/channel: {kind}/{channel}")
    sendable = channel == Communication.Channel.EMAIL and direction == Communication.Direction.OUTBOUND
    name, _ = actor_name(actor)
    message = Communication.objects.create(
        account=account, kind=kind, channel=channel, direction=direction, subject=subject[:200], body=body,
        status=Communication.Status.QUEUED if sendable else Communication.Status.RECORDED, created_by=name,
    )
    if sendable:
        transaction.on_commit(lambda: communication_send_task.delay(message.id))
    return message


def communication_send(*, communication_id: int) -> None:
    """Send one queued e-mail; the outcome (sent, or failed with its reason) is stored."""
    from django.conf import settings
    from django.core.mail import send_mail

    from .models import Communication

    claimed = Communication.objects.filter(id=communication_id, status=Communication.Status.QUEUED).update(
        status=Communication.Status.SENT, sent_at=timezone.now()
    )
    if not claimed:  # already sent by an earlier delivery of this task
        return
    message = Communication.objects.select_related("account").get(id=communication_id)
    try:
        send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.account.email])
    except Exception as exc:  # noqa: BLE001 - any transport failure is recorded, not raised
        Communication.objects.filter(id=communication_id).update(
            status=Communication.Status.FAILED, sent_at=None, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        logger.warning("e-mail %s to %s failed: %s", communication_id, message.account.user_id, exc)


def welcome_communication_record(*, actor: Actor, account) -> None:
    from django.template.loader import render_to_string

    body = render_to_string("email/welcome.txt", {"account": account})
    communication_record(actor=actor, account=account, kind="welcome", channel="email",
                         subject="Welcome to NIJA", body=body)
