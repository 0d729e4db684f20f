"""Password reset by e-mail (Django's views, the project's templates) for staff and investors: one
link, used once, the new password works through the real sign-in (lockout included). The e-mail is
sent by the worker after commit (the communication log), so each request runs its on-commit work."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail

from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-new-passphrase-2026"


@pytest.fixture(autouse=True)
def _links_to_the_test_server(settings):
    settings.NIJA_PORTAL_BASE_URL = "http://testserver"


@pytest.fixture
def reset_link(client, django_capture_on_commit_callbacks):
    def ask(email: str) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/password-reset/", {"email": email})
        assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == [email] and message.subject == "Reset your NIJA back office password"
        assert "expires in 2 hours" in message.body
        return re.search(r"http://testserver(/password-reset/\S+/\S+/)", message.body).group(1)
    return ask


def _choose(client, link: str, password: str = NEW_PASSWORD, again: str | None = None):
    form = client.get(link, follow=True)  # Django moves the token into the session, then shows the form
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    return client.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": again or password})


def test_the_admin_sign_in_page_links_to_the_reset(client):
    assert 'href="/password-reset/"' in client.get("/admin/login/").content.decode()


def test_staff_reset_their_password_by_email_and_the_link_works_once(client, reset_link):
    User.objects.create_user("olga", email="olga@nija.example", password="old-password-1", is_staff=True)
    link = reset_link("olga@nija.example")
    done = _choose(client, link)
    assert done.status_code == 302 and done["Location"] == "/password-reset/complete/"
    assert "Password changed" in client.get("/password-reset/complete/").content.decode()
    signed_in = client.post("/admin/login/?next=/admin/", {"username": "olga", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    reused = client.get(link, follow=True)
    assert "This reset link is not valid" in reused.content.decode()


def test_an_investor_resets_and_signs_in_to_the_portal(client, reset_link):
    User.objects.create_user("daivon", email="daivon@example.com", password="old-password-1")
    _choose(client, reset_link("daivon@example.com"))
    client.logout()
    response = client.post("/portal/login/", {"username": "daivon", "password": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/portal/"


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []


def test_a_weak_or_mismatched_new_password_is_refused_and_nothing_changes(client, reset_link):
    user = User.objects.create_user("olga", email="olga@nija.example", password="old-password-1", is_staff=True)
    link = reset_link("olga@nija.example")
    weak = _choose(client, link, password="12345678")
    assert weak.status_code == 200 and "too common" in weak.content.decode()
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    mismatch = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 200 and "didn’t match" in mismatch.content.decode()
    user.refresh_from_db()
    assert user.check_password("old-password-1")


def test_a_reset_unlocks_a_locked_sign_in_and_audits_it(client, settings, reset_link):
    User.objects.create_user("olga", email="olga@nija.example", password="old-password-1", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "olga", "password": "wrong"})
    assert client.post("/admin/login/", {"username": "olga", "password": "old-password-1"}).status_code == 429
    _choose(client, reset_link("olga@nija.example"))
    event = AuditEvent.objects.get(action="login.unlock")
    assert (event.actor, event.target_id, event.reason) == ("olga", "olga", "password reset by e-mail")
    assert client.post("/admin/login/", {"username": "olga", "password": NEW_PASSWORD}).status_code == 302
