"""Two-factor sign-in for staff (django-otp, TOTP + recovery codes): required for superusers and
operators when NIJA_OTP_REQUIRED is on (production), optional for viewers."""

from __future__ import annotations

import re
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import AuditEvent
from security.services import otp_recovery_codes_renew

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


def _staff(username: str, group: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _sign_in(client, username: str, token: str = ""):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD, "otp_token": token})


def test_an_operator_must_set_up_the_authenticator_before_anything_else(client, settings):
    settings.NIJA_OTP_REQUIRED = True
    operator = _staff("olga", "operator")
    assert _sign_in(client, "olga").status_code == 302
    blocked = client.get("/admin/accounts/account/")
    assert blocked.status_code == 302 and blocked["Location"] == "/admin/two-factor/"
    page = client.get("/admin/two-factor/").content.decode()
    assert "must use two-factor sign-in" in page and "data:image/svg+xml" in page
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    secret = re.search(r"Key: <code>([A-Z2-7=]+)</code>", page).group(1)
    assert len(secret) >= 32  # the key is shown for typing in, to the user themselves only

    wrong = client.post("/admin/two-factor/", {"action": "confirm", "token": "000000"})
    assert "does not match" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=operator, confirmed=True).exists()
    time.sleep(1.2)  # django-otp throttles the device for a second after a wrong code

    done = client.post("/admin/two-factor/", {"action": "confirm", "token": _code(device)}).content.decode()
    assert "Your recovery codes" in done and "Two-factor sign-in is <strong>on</strong>" in done
    assert len(re.findall(r"<li>([a-z0-9]{8})</li>", done)) == 10
    assert AuditEvent.objects.filter(action="otp.enabled", target_id="olga").exists()
    assert client.get("/admin/accounts/account/").status_code == 200  # this session gave its code


def test_with_an_authenticator_the_password_alone_is_not_enough(client):
    user = _staff("vera", "viewer")
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    refused = _sign_in(client, "vera")
    assert refused.status_code == 200 and "current code from your authenticator" in refused.content.decode()
    assert client.get("/admin/").status_code == 302
    wrong = _sign_in(client, "vera", "123456" if _code(device) != "123456" else "654321")
    assert wrong.status_code == 200
    assert AccessAttempt.objects.get(username="vera").failures_since_start == 2  # codes count as failures
    time.sleep(1.2)  # django-otp throttles the device for a second after a wrong code
    assert _sign_in(client, "vera", _code(device)).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_recovery_code_signs_in_once(client):
    user = _staff("olga", "operator")
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    codes = otp_recovery_codes_renew(user=user)
    assert len(codes) == 10 and AuditEvent.objects.filter(action="otp.recovery_codes_renewed").exists()
    assert _sign_in(client, "olga", codes[0]).status_code == 302
    client.logout()
    assert _sign_in(client, "olga", codes[0]).status_code == 200  # used up
    assert StaticToken.objects.filter(device__user=user).count() == 9


def test_a_signed_in_session_without_the_code_is_sent_back_to_sign_in(client):
    user = _staff("olga", "operator")
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    client.force_login(user)  # a session that never gave a code
    response = client.get("/admin/accounts/account/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_viewers_may_choose_it_and_turn_it_off_again(client, settings):
    settings.NIJA_OTP_REQUIRED = True
    viewer = _staff("vera", "viewer")
    client.force_login(viewer)
    assert client.get("/admin/").status_code == 200  # optional: no redirect
    page = client.get("/admin/two-factor/").content.decode()
    assert "must use" not in page
    device = TOTPDevice.objects.get(user=viewer, confirmed=False)
    client.post("/admin/two-factor/", {"action": "confirm", "token": _code(device)})
    assert "Turn off two-factor sign-in" in client.get("/admin/two-factor/").content.decode()
    refused = client.post("/admin/two-factor/", {"action": "disable", "reason": ""})
    assert "a reason is required" in refused.content.decode()
    client.post("/admin/two-factor/", {"action": "disable", "reason": "shared office tablet"})
    assert not TOTPDevice.objects.filter(user=viewer).exists()
    assert AuditEvent.objects.get(action="otp.disabled").reason == "shared office tablet"


def test_an_operator_cannot_turn_it_off_where_it_is_required(client, settings):
    settings.NIJA_OTP_REQUIRED = True
    operator = _staff("olga", "operator")
    TOTPDevice.objects.create(user=operator, name="authenticator", confirmed=True)
    client.force_login(operator)
    session = client.session
    session["otp_device_id"] = TOTPDevice.objects.get(user=operator).persistent_id
    session.save()
    page = client.get("/admin/two-factor/").content.decode()
    assert "Turn off" not in page and "reset_two_factor" in page
    client.post("/admin/two-factor/", {"action": "disable", "reason": "please"})
    assert TOTPDevice.objects.filter(user=operator, confirmed=True).exists()


def test_reset_two_factor_removes_a_lost_phone_audited(client):
    user = _staff("olga", "operator")
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    otp_recovery_codes_renew(user=user)
    call_command("reset_two_factor", "olga", "--reason", "phone lost, identity checked by call")
    assert not TOTPDevice.objects.filter(user=user).exists() and not StaticToken.objects.exists()
    assert AuditEvent.objects.get(action="otp.disabled").actor.startswith("cli:")
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("reset_two_factor", "nobody", "--reason", "x")
    with pytest.raises(CommandError, match="a reason is required"):
        call_command("reset_two_factor", "olga", "--reason", " ")
