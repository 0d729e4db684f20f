"""The back office's password reset goes through the communication log: a row addressed to the login
(queued, then sent by the worker with retries), its one-time link written at send time and never
stored; the same answer for an unknown address. Delivered through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail

from compliance.models import AuditEvent, Communication
from compliance.services import LINK_PLACEHOLDER, communications_send_due

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-new-passphrase-2026"
LINK = re.compile(r"http://testserver(/password-reset/([^/\s]+)/([^/\s]+)/)")


@pytest.fixture(autouse=True)
def _links_to_the_test_server(settings):
    settings.NIJA_PORTAL_BASE_URL = "http://testserver"


@pytest.fixture
def olga(db):
    return User.objects.create_user("olga", email="olga@nija.example", password="old-password-1", is_staff=True)


@pytest.fixture
def ask(client, django_capture_on_commit_callbacks):
    """Ask for a reset on the page and run what it queued on commit (the worker's send; Celery is eager)."""
    def run(email: str):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/password-reset/", {"email": email})
    return run


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _choose(client, path: str, password: str = NEW_PASSWORD):
    form = client.get(path, follow=True)  # Django moves the token into the session, then shows the form
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    return client.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


def _stored_text(row: Communication) -> str:
    return " ".join([row.subject, row.body, row.body_html, row.error, json.dumps(row.recipients)])


def test_the_mail_arrives_by_smtp_with_a_link_that_works_once_and_the_log_never_holds_it(client, olga, ask,
                                                                                         smtp_server):
    response = ask("OLGA@nija.example")
    assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    [(recipients, message)] = smtp_server.messages
    assert recipients == ["olga@nija.example"] and message["Subject"] == "Reset your NIJA back office password"
    text = _text(message)
    assert "login olga" in text and "expires in 2 hours" in text
    path, _uid, token = LINK.search(text).groups()
    assert path in message.get_body(preferencelist=("html",)).get_content()

    [row] = Communication.objects.filter(kind="staff_password_reset")
    assert row.account is None and row.recipient_user == olga and row.recipients == ["olga@nija.example"]
    assert (row.status, row.attempts, row.category, row.created_by) == ("sent", 1, "system", "password-reset-page")
    assert LINK_PLACEHOLDER in row.body
    assert token not in _stored_text(row) and "/password-reset/" not in _stored_text(row)
    event = AuditEvent.objects.get(action="password_reset.request")
    assert (event.actor, event.target_type, event.target_id) == ("password-reset-page", "login", "olga")
    assert event.after == {"communication_id": row.pk}

    done = _choose(client, path)
    assert done.status_code == 302 and done["Location"] == "/password-reset/complete/"
    assert AuditEvent.objects.get(action="password_reset.done").actor == "olga"
    assert client.login(username="olga", password=NEW_PASSWORD)
    client.logout()
    assert "This reset link is not valid" in client.get(path, follow=True).content.decode()


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_logged_or_sent(olga, ask, smtp_server):
    before = (Communication.objects.count(), AuditEvent.objects.count())
    unknown = ask("nobody@example.com")
    assert (Communication.objects.count(), AuditEvent.objects.count()) == before
    assert smtp_server.messages == []
    known = ask("olga@nija.example")
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"] == "/password-reset/sent/"
    assert unknown.content == known.content
    assert len(smtp_server.messages) == 1


def test_a_failing_server_leaves_the_row_failed_and_the_retry_sends_a_fresh_working_link(client, olga, ask,
                                                                                       smtp_server):
    smtp_server.refuse = True
    ask("olga@nija.example")
    row = Communication.objects.get(kind="staff_password_reset")
    assert row.status == "failed" and "451" in row.error and row.next_attempt_at is not None
    smtp_server.refuse = False
    with time_machine.travel(row.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        assert communications_send_due(limit=10) == {"tried": 1, "sent": 1, "failed": 0}
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2 and LINK_PLACEHOLDER in row.body
    [(_, message)] = smtp_server.messages
    path = LINK.search(_text(message)).group(1)
    assert _choose(client, path).status_code == 302
    assert client.login(username="olga", password=NEW_PASSWORD)


def test_only_the_newest_request_carries_a_working_link(client, olga, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post("/password-reset/", {"email": "olga@nija.example"})
        client.post("/password-reset/", {"email": "olga@nija.example"})
    mail.outbox.clear()
    for send in queued:  # the worker sends both after the second request
        send()
    older, newer = mail.outbox
    assert "replaced by a newer request" in older.body and not LINK.search(older.body)
    assert LINK.search(newer.body)


def test_a_login_whose_address_changed_before_the_send_gets_no_link(olga, client,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post("/password-reset/", {"email": "olga@nija.example"})
    olga.email = "olga@elsewhere.example"
    olga.save()
    mail.outbox.clear()
    for send in queued:
        send()
    [message] = mail.outbox
    assert message.to == ["olga@nija.example"]  # the address that asked
    assert "e-mail address changed" in message.body and not LINK.search(message.body)


def test_the_log_lists_the_reset_as_addressed_to_the_login(admin_client, olga, ask):
    ask("olga@nija.example")
    page = admin_client.get("/admin/compliance/communication/").content.decode()
    assert "login olga" in page and "Reset your NIJA back office password" in page
