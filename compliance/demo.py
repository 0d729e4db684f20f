"""Demo communication log for `make run`, beside the messages the demo's own changes send (welcome,
trading on and off, the reports' summaries): an inbound call with a follow-up due, a support e-mail,
an internal note and an e-mail the mail server refused. Compliance cannot name the accounts app, so
reporting's demo passes the accounts in."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from .models import Communication
from .services import communication_failure_record, communication_record, notification_queue

DEMO_ACTOR = "system:demo"
DEMO_CALL_SUBJECT = "Asked how the performance fee is computed"


def demo_communications_seed(*, accounts: dict) -> bool:
    """`accounts`: user_id -> Account. False when the demo log is already there (then nothing changes)."""
    if Communication.objects.filter(kind=Communication.Kind.CALL, subject=DEMO_CALL_SUBJECT).exists():
        return False
    today = timezone.now().date()
    daivon, tania, marcus = (accounts.get(u) for u in ("daivon_frazier", "tania_gilbert", "marcus_reed"))
    if tania is not None:
        communication_record(
            actor="olivia", account=tania, kind=Communication.Kind.CALL, channel=Communication.Channel.PHONE,
            direction=Communication.Direction.INBOUND, subject=DEMO_CALL_SUBJECT,
            body="Explained the high-water mark; she wants the figures for November in writing.",
            follow_up_due=today + dt.timedelta(days=2))
    if daivon is not None:
        communication_record(
            actor="olivia", account=daivon, kind=Communication.Kind.INBOUND, channel=Communication.Channel.EMAIL,
            direction=Communication.Direction.INBOUND, category=Communication.Category.SUPPORT,
            subject="Re: Trading is on for your NIJA account daivon_frazier",
            body="Can I lower my risk level to LOW before the weekend?", follow_up_due=today - dt.timedelta(days=1))
        communication_record(
            actor="olivia", account=daivon, kind=Communication.Kind.NOTE, channel=Communication.Channel.INTERNAL,
            subject="Risk review booked", body="Risk review with Daivon booked for Monday.")
    if marcus is not None:
        # An alert the mail server refused at every attempt (the demo's sender never fails by itself).
        message = notification_queue(
            kind=Communication.Kind.BALANCE_LOW, account=marcus, period="demo", actor=DEMO_ACTOR,
            context={"balance": "$42.10", "threshold": "$50.00", "observed_at": f"{today} 06:05 UTC"})
        if message is not None:
            # its last attempt: no retry
            Communication.objects.filter(pk=message.pk).update(attempts=settings.NIJA_MAIL_MAX_ATTEMPTS)
            message.refresh_from_db()
            communication_failure_record(
                communication=message,
                error="SMTPRecipientsRefused: {'marcus@example.com': (550, b'5.1.1 Mailbox unavailable')} (demo)")
    return True
