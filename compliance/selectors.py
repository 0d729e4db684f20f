"""Reads of the audit chain, including its verification."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.db.models import QuerySet

from .chain import GENESIS_HASH, audit_event_hash
from .models import AuditChainHead, AuditEvent, Communication, notification_dedup_key


@dataclass(frozen=True)
class ChainVerification:
    valid: bool
    events_checked: int
    first_broken_seq: int | None = None
    first_broken_id: int | None = None
    problem: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def audit_chain_verify(*, batch_size: int = 2000) -> ChainVerification:
    """Walk the chain in order, recomputing each hash. Reports the first event whose content,
    link or position is wrong: an altered row fails its hash, a deleted row leaves a gap or a
    broken link, a deleted tail disagrees with the chain head."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_id = 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            break
        for event in batch:
            last_id = event.id
            if event.seq != expected_seq:
                return ChainVerification(False, checked, event.seq, event.id,
                                         f"sequence gap: expected #{expected_seq}, found #{event.seq} "
                                         f"(events deleted before it)")
            if event.prev_hash != expected_prev:
                return ChainVerification(False, checked, event.seq, event.id,
                                         "prev_hash does not match the previous event (chain broken)")
            if audit_event_hash(event) != event.hash:
                return ChainVerification(False, checked, event.seq, event.id,
                                         "content does not match its hash (event altered)")
            expected_prev = event.hash
            expected_seq += 1
            checked += 1
    head = AuditChainHead.objects.filter(id=1).first()
    head_seq = head.last_seq if head else 0
    head_hash = head.last_hash if head else GENESIS_HASH
    if head_seq != checked or head_hash != expected_prev:
        return ChainVerification(False, checked, checked + 1, None,
                                 f"chain head records #{head_seq} but the chain ends at #{checked} "
                                 f"(latest events deleted)")
    return ChainVerification(True, checked)


def audit_events_for_target(*, target_type: str, target_id: str) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(target_type=target_type, target_id=target_id).order_by("seq")


def communication_latest_id(*, account, kind: str) -> int | None:
    """The id of the newest communication of `kind` to `account`, or None."""
    return (Communication.objects.filter(account=account, kind=kind).order_by("-created_at", "-id")
            .values_list("id", flat=True).first())


def communication_latest_id_to_login(*, user, kind: str) -> int | None:
    """The id of the newest communication of `kind` addressed to the login `user`, or None."""
    return (Communication.objects.filter(recipient_user=user, kind=kind).order_by("-created_at", "-id")
            .values_list("id", flat=True).first())


def notification_get(*, account, kind: str, period: str) -> Communication | None:
    """The notification of `kind` for `period` to the account (None: staff), if it was queued."""
    return Communication.objects.filter(dedup_key=notification_dedup_key(account=account, kind=kind,
                                                                         period=period)).first()


def communications_for_account(*, account) -> QuerySet[Communication]:
    """What was sent to the account holder (outbound, every channel but internal notes), newest first."""
    return (Communication.objects.filter(account=account, direction=Communication.Direction.OUTBOUND)
            .exclude(channel=Communication.Channel.INTERNAL).order_by("-created_at", "-id"))


def audit_events_filtered(*, action: str | None = None, actor: str | None = None, target_type: str | None = None,
                          target_id: str | None = None, since: dt.date | None = None,
                          until: dt.date | None = None) -> QuerySet[AuditEvent]:
    """Audit events for the staff list, unordered (a paginator orders them by seq); UTC days, inclusive."""
    qs = AuditEvent.objects.all()
    exact = {"action": action, "actor": actor, "target_type": target_type, "target_id": target_id}
    qs = qs.filter(**{k: v for k, v in exact.items() if v is not None})
    if since:
        qs = qs.filter(created_at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC))
    if until:
        qs = qs.filter(created_at__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC))
    return qs
