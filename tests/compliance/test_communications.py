import pytest
from django.core import mail
from django.urls import reverse

from compliance.models import Communication
from compliance.services import communication_record, communication_send


def test_onboarding_queues_and_sends_a_welcome_email(make_account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # PENDING: no "trading enabled" message yet
        account = make_account("daivon_frazier", full_name="Daivon Frazier", active=False)
    message = Communication.objects.get(account=account, kind="welcome")
    assert message.status == "sent" and message.sent_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["daivon_frazier@example.com"]
    assert "Hello Daivon Frazier" in mail.outbox[0].body
    assert "withdrawal" in mail.outbox[0].body


def test_failed_send_is_recorded_with_its_reason(make_account, settings):
    account = make_account("a1")
    message = Communication.objects.get(account=account, kind="welcome")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there
    communication_send(communication_id=message.id)
    message.refresh_from_db()
    assert message.status == "failed" and "Error" in message.error


def test_a_sent_message_is_not_sent_twice(make_account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        account = make_account("a1", active=False)
    message = Communication.objects.get(account=account, kind="welcome")
    communication_send(communication_id=message.id)  # a redelivered task
    assert len(mail.outbox) == 1


def test_staff_note_is_recorded_not_sent(make_account):
    account = make_account("a1")
    mail.outbox.clear()
    note = communication_record(actor="olivia", account=account, kind="note", channel="phone",
                                direction="inbound", subject="Asked about fees", body="Explained the HWM.")
    assert note.status == "recorded" and mail.outbox == []


def test_unknown_kind_is_refused(make_account):
    with pytest.raises(ValueError):
        communication_record(actor="x", account=make_account("a1"), kind="spam", channel="email", subject="s", body="b")


def test_operator_logs_a_call_in_the_admin_and_it_cannot_be_edited(client, make_account):
    from django.contrib.auth.models import Group, User

    account = make_account("a1")
    user = User.objects.create_user("olivia", password="pw-123456", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    response = client.post(reverse("admin:compliance_communication_add"), {
        "account": account.pk, "kind": "note", "channel": "phone", "direction": "inbound",
        "subject": "Called about withdrawal", "body": "Wants to withdraw 500 USD next week.",
    })
    assert response.status_code == 302
    note = Communication.objects.get(subject="Called about withdrawal")
    assert note.created_by == "olivia" and note.status == "recorded"
    change_url = reverse("admin:compliance_communication_change", args=[note.pk])
    assert 'name="body"' not in client.get(change_url).content.decode()
    page = client.get(reverse("admin:accounts_account_change", args=[account.pk])).content.decode()
    assert "Called about withdrawal" in page
