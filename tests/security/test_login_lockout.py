"""Lockout after repeated failed sign-ins (django-axes behind every authenticate()), the clear
lockout page, and the audited unlock by command and by the admin."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import Client

from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def staff_user():
    user = User.objects.create_user("olga", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    return user


def _admin_login(client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def _fail(client, username: str, times: int) -> None:
    for _ in range(times):
        response = _admin_login(client, username, "wrong-password")
        assert response.status_code in (200, 429)


def test_the_right_password_is_refused_once_the_failure_limit_is_reached(client, staff_user, settings):
    _fail(client, "olga", settings.AXES_FAILURE_LIMIT)
    response = _admin_login(client, "olga", PASSWORD)
    assert response.status_code == 429
    body = response.content.decode()
    assert "Sign-in locked" in body and "olga" in body and "unlock_login" in body
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still signed out


def test_below_the_limit_the_right_password_works_and_resets_the_count(client, staff_user, settings):
    _fail(client, "olga", settings.AXES_FAILURE_LIMIT - 1)
    response = _admin_login(client, "olga", PASSWORD)
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(staff_user.pk)
    assert not AccessAttempt.objects.filter(username="olga").exists()


def test_one_address_spraying_many_usernames_is_locked_out(client, staff_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _admin_login(client, f"guess{n}", "Summer2026!")
    assert _admin_login(client, "olga", PASSWORD).status_code == 429


def test_the_portal_sign_in_is_locked_the_same_way(client, settings):
    User.objects.create_user("daivon", password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/portal/login/", {"username": "daivon", "password": "nope"})
    response = client.post("/portal/login/", {"username": "daivon", "password": PASSWORD})
    assert response.status_code == 429 and "Sign-in locked" in response.content.decode()


def test_unlock_login_clears_the_lock_and_records_who_and_why(client, staff_user, settings):
    _fail(client, "olga", settings.AXES_FAILURE_LIMIT)
    client.cookies.clear()
    call_command("unlock_login", "olga", "--reason", "called in, identity checked")
    event = AuditEvent.objects.get(action="login.unlock")
    assert event.target_id == "olga" and event.reason == "called in, identity checked"
    assert event.before["locked"] is True and event.before["failures"] >= settings.AXES_FAILURE_LIMIT
    assert event.actor.startswith("cli:")
    # the address lock went with the username's records: the right password works again
    assert _admin_login(client, "olga", PASSWORD).status_code == 302


@pytest.mark.parametrize(("args", "says"), [
    (["olga", "--reason", "  "], "a reason is required"),
    (["nobody", "--reason", "typo"], "no failed sign-ins are recorded for 'nobody'"),
])
def test_unlock_login_refuses_bad_input_and_writes_nothing(client, staff_user, settings, args, says):
    _fail(client, "olga", 2)
    before = AccessAttempt.objects.count()
    with pytest.raises(CommandError, match=says):
        call_command("unlock_login", *args)
    assert AccessAttempt.objects.count() == before
    assert not AuditEvent.objects.filter(action="login.unlock").exists()


def test_staff_unlock_in_the_admin_asks_for_a_reason_and_audits(client, staff_user, settings):
    other = _lock_ivan(settings)
    attempt = AccessAttempt.objects.get(username="ivan")
    client.force_login(staff_user)
    url = "/admin/axes/accessattempt/"
    listing = client.get(url)
    assert listing.status_code == 200 and "ivan" in listing.content.decode()
    asked = client.post(url, {"action": "unlock_logins", "_selected_action": [attempt.pk]})
    assert asked.status_code == 200 and "Reason (required)" in asked.content.decode()
    refused = client.post(url, {"action": "unlock_logins", "_selected_action": [attempt.pk], "apply": "1",
                                "reason": ""})
    assert "A reason is required" in refused.content.decode()
    assert AccessAttempt.objects.filter(username="ivan").exists()
    done = client.post(url, {"action": "unlock_logins", "_selected_action": [attempt.pk], "apply": "1",
                             "reason": "forgot the new password"}, follow=True)
    assert done.status_code == 200
    assert not AccessAttempt.objects.filter(username="ivan").exists()
    event = AuditEvent.objects.get(action="login.unlock")
    assert event.actor == "olga" and event.target_id == "ivan"
    assert _admin_login(other, "ivan", PASSWORD).status_code == 302


def test_a_viewer_sees_locked_sign_ins_but_cannot_unlock(client, settings):
    _lock_ivan(settings)
    viewer = User.objects.create_user("vera", password=PASSWORD, is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    client.force_login(viewer)
    url = "/admin/axes/accessattempt/"
    assert client.get(url).status_code == 200
    attempt = AccessAttempt.objects.get(username="ivan")
    client.post(url, {"action": "unlock_logins", "_selected_action": [attempt.pk], "apply": "1", "reason": "x"})
    assert AccessAttempt.objects.filter(username="ivan").exists()
    assert not AuditEvent.objects.filter(action="login.unlock").exists()
    assert client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}).status_code == 403


def _lock_ivan(settings) -> Client:
    """Lock the staff user "ivan" from a separate client (its own address) and return that client."""
    User.objects.create_user("ivan", password=PASSWORD, is_staff=True)
    other = Client(REMOTE_ADDR="10.0.0.9")
    _fail(other, "ivan", settings.AXES_FAILURE_LIMIT)
    assert _admin_login(other, "ivan", PASSWORD).status_code == 429
    return other
