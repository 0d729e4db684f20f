"""notification_queue / staff_notification_queue: a row first, once per (recipient, kind, period), sent after
commit with text and HTML; failed sends retry with exponential backoff up to a maximum of attempts."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from compliance.models import Communication
from compliance.services import (
    communication_retry_delay,
    communication_send,
    communications_send_due,
    notification_preferences_update,
    notification_queue,
    staff_notification_queue,
)
from compliance.tasks import communications_send_due_task

SMTP_DOWN = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
             "EMAIL_PORT": 1, "EMAIL_TIMEOUT": 2}  # nothing listens on port 1


def _smtp_down(settings) -> None:
    for name, value in SMTP_DOWN.items():
        setattr(settings, name, value)


def test_notification_is_a_row_then_sent_after_commit_with_text_and_html(
        make_account, django_capture_on_commit_callbacks):
    account = make_account("a1", full_name="Ada One")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message = notification_queue(kind="trading_disabled", account=account, period="audit-1",
                                     context={"reason": "KYC documents expired"})
        assert message.status == "queued" and mail.outbox == []  # nothing leaves before commit
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 1 and message.sent_at is not None
    assert message.dedup_key == f"account-{account.pk}|trading_disabled|audit-1"
    assert message.category == "system" and message.recipients == ["a1@example.com"]
    [sent] = mail.outbox
    assert sent.to == ["a1@example.com"] and sent.subject == "Trading is off for your NIJA account a1"
    assert "Reason: KYC documents expired" in sent.body and "Hello Ada One" in sent.body
    html, mimetype = sent.alternatives[0]
    assert mimetype == "text/html" and "KYC documents expired" in html and "<strong>Reason:</strong>" in html


def test_same_account_kind_and_period_is_queued_once(make_account, django_capture_on_commit_callbacks):
    account = make_account("a1")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = notification_queue(kind="suspended", account=account, period="audit-7", context={"reason": "r"})
        again = notification_queue(kind="suspended", account=account, period="audit-7", context={"reason": "r"})
        other = notification_queue(kind="suspended", account=account, period="audit-8", context={"reason": "r"})
    assert first is not None and again is None and other is not None
    assert Communication.objects.filter(account=account, kind="suspended").count() == 2
    assert len(mail.outbox) == 2


def test_html_escapes_what_the_text_keeps(make_account):
    account = make_account("a1")
    message = notification_queue(kind="trading_disabled", account=account, period="p",
                                 context={"reason": "<script>x</script> & co"})
    assert "Reason: <script>x</script> & co" in message.body
    assert "&lt;script&gt;" in message.body_html and "<script>" not in message.body_html


def test_optional_message_turned_off_in_preferences_is_not_queued(make_account):
    account = make_account("a1")
    assert notification_queue(kind="daily_summary", account=account, period="2026-12-05",
                              context={"day": "2026-12-05", "report_text": "x"}) is None  # opt-in: off by default
    notification_preferences_update(actor="test", account=account, changes={"daily_summary": True,
                                                                             "balance_alerts": False})
    assert notification_queue(kind="daily_summary", account=account, period="2026-12-05",
                              context={"day": "2026-12-05", "report_text": "x"}) is not None
    assert notification_queue(kind="balance_low", account=account, period="2026-12-05", context={}) is None
    # messages about the account's state are never optional
    assert notification_queue(kind="trading_disabled", account=account, period="x", context={"reason": "r"})


def test_unknown_kind_or_missing_period_is_refused_and_writes_nothing(make_account):
    account = make_account("a1")
    before = Communication.objects.count()
    with pytest.raises(ValueError):
        notification_queue(kind="spam", account=account, period="p", context={})
    with pytest.raises(ValueError):
        notification_queue(kind="suspended", account=account, period=" ", context={"reason": "r"})
    assert Communication.objects.count() == before


def test_staff_notification_goes_to_the_configured_staff_once_per_period(settings, db,
                                                                         django_capture_on_commit_callbacks):
    settings.NIJA_STAFF_ALERT_EMAILS = ["ops@example.com", "lead@example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        message = staff_notification_queue(kind="balance_low", period="2026-12-06",
                                           context={"balance": "10.00", "currency": "USD"})
        assert staff_notification_queue(kind="balance_low", period="2026-12-06", context={}) is None
    message.refresh_from_db()
    assert message.account is None and message.dedup_key == "staff|balance_low|2026-12-06"
    assert message.status == "sent" and mail.outbox[-1].to == ["ops@example.com", "lead@example.com"]


def test_staff_notification_without_recipients_is_logged_failed_with_the_reason(settings, db):
    settings.NIJA_STAFF_ALERT_EMAILS = []
    message = staff_notification_queue(kind="balance_low", period="2026-12-06", context={})
    assert message.status == "failed" and "NIJA_STAFF_ALERT_EMAILS" in message.error
    assert message.next_attempt_at is None


def test_failed_send_stores_error_and_backs_off_exponentially_until_the_maximum(make_account, settings):
    settings.NIJA_MAIL_MAX_ATTEMPTS, settings.NIJA_MAIL_RETRY_BASE_SECONDS = 3, 60
    account = make_account("a1")
    message = notification_queue(kind="suspended", account=account, period="p", context={"reason": "r"})
    _smtp_down(settings)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        communication_send(communication_id=message.id)
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 1 and "Error" in message.error
    assert message.next_attempt_at == start + dt.timedelta(seconds=60)
    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        assert communications_send_due(limit=10)["tried"] == 0  # not due yet
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert communications_send_due(limit=10) == {"tried": 1, "sent": 0, "failed": 1}
    message.refresh_from_db()
    assert message.attempts == 2 and message.next_attempt_at == start + dt.timedelta(seconds=61 + 120)
    with time_machine.travel(start + dt.timedelta(seconds=61 + 121), tick=False):
        communications_send_due(limit=10)
    message.refresh_from_db()
    assert message.attempts == 3 and message.status == "failed" and message.next_attempt_at is None  # gave up
    with time_machine.travel(start + dt.timedelta(days=1), tick=False):
        communications_send_due(limit=10)
    message.refresh_from_db()
    assert message.attempts == 3  # never tried again


def test_retry_delay_doubles_and_is_capped(settings):
    settings.NIJA_MAIL_RETRY_BASE_SECONDS, settings.NIJA_MAIL_RETRY_MAX_SECONDS = 60, 600
    assert [communication_retry_delay(attempts=n).total_seconds() for n in (1, 2, 3, 4, 5)] == [
        60, 120, 240, 480, 600]


def test_due_retry_sends_once_the_server_is_back(make_account, settings):
    account = make_account("a1")
    message = notification_queue(kind="suspended", account=account, period="p", context={"reason": "fraud check"})
    _smtp_down(settings)
    communication_send(communication_id=message.id)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2), tick=False):
        assert communications_send_due_task() == {"tried": 1, "sent": 1, "failed": 0}
        communication_send(communication_id=message.id)  # a late duplicate task changes nothing
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 2 and message.error == ""
    assert len(mail.outbox) == 1 and "fraud check" in mail.outbox[0].body


def test_sweep_sends_a_queued_message_whose_task_was_lost(make_account, settings):
    account = make_account("a1", active=False)
    message = notification_queue(kind="suspended", account=account, period="p", context={"reason": "r"})
    # the test's transaction never commits, so the queued task never ran: like a lost task
    assert communications_send_due(limit=10)["tried"] == 0  # too young: its task may still be on its way
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.NIJA_MAIL_QUEUED_SWEEP_SECONDS + 1)):
        assert communications_send_due(limit=10)["sent"] == 2  # and the welcome message, lost the same way
    message.refresh_from_db()
    assert message.status == "sent"
