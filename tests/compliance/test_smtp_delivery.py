"""Delivery through a real SMTP server (aiosmtpd on a local port), through Django's SMTP backend:
a disable-with-reason sends exactly one message with the reason in it; a server answering 451
leaves the row failed with its error, and the retry after the backoff delivers it."""

from __future__ import annotations

import datetime as dt

import time_machine

from accounts.services import account_trading_disable
from compliance.models import Communication
from compliance.services import communications_send_due


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_disable_with_reason_sends_exactly_one_message_with_the_reason(
        smtp_server, make_account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        account = make_account("daivon_frazier", full_name="Daivon Frazier")
    smtp_server.messages.clear()  # the welcome and "trading on" messages
    with django_capture_on_commit_callbacks(execute=True):
        account_trading_disable(actor="olivia", account=account, reason="Kraken key expired on 2026-12-01")
    [(recipients, message)] = smtp_server.messages
    assert recipients == ["daivon_frazier@example.com"]
    assert message["Subject"] == "Trading is off for your NIJA account daivon_frazier"
    assert "Reason: Kraken key expired on 2026-12-01" in _text(message)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Kraken key expired on 2026-12-01" in html
    row = Communication.objects.get(account=account, kind="trading_disabled")
    assert row.status == "sent" and row.attempts == 1


def test_server_answering_451_leaves_the_row_failed_and_a_later_retry_sends_it(
        smtp_server, make_account, django_capture_on_commit_callbacks):
    account = make_account("a1")
    smtp_server.refuse = True
    with django_capture_on_commit_callbacks(execute=True):
        account_trading_disable(actor="olivia", account=account, reason="margin call")
    row = Communication.objects.get(account=account, kind="trading_disabled")
    assert row.status == "failed" and "451" in row.error and "try again later" in row.error
    assert row.attempts == 1 and row.next_attempt_at is not None and smtp_server.messages == []
    smtp_server.refuse = False
    with time_machine.travel(row.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        communications_send_due(limit=10)
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2 and row.error == "" and row.sent_at is not None
    sent = [m for _, m in smtp_server.messages if m["Subject"].startswith("Trading is off")]
    assert len(sent) == 1 and "Reason: margin call" in _text(sent[0])
