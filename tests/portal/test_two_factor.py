"""An investor's own, optional two-factor sign-in in the portal (django-otp TOTP + recovery codes):
turned on with a code from the app, asked for at every sign-in from then on, turned off only with
the password and a code; every change audited."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import AuditEvent
from security.services import otp_recovery_codes_renew

pytestmark = pytest.mark.django_db
PASSWORD = "portal two factor pass 8"


@pytest.fixture
def login(make_account) -> User:
    user = User.objects.create_user("daivon", password=PASSWORD)
    account = make_account("daivon_frazier", full_name="Daivon Frazier")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    return user


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _sign_in(client, token: str = "", password: str = PASSWORD):
    return client.post("/portal/login/", {"username": "daivon", "password": password, "otp_token": token})


def _turned_on(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def test_an_investor_turns_it_on_and_sign_in_then_asks_for_the_code(client, login):
    assert _sign_in(client)["Location"] == "/portal/"
    first = client.get("/portal/two-factor/")
    assert "is <strong>off</strong>" in first.content.decode() and not TOTPDevice.objects.exists()  # GET: no write
    page = client.post("/portal/two-factor/", {"action": "start"})
    body = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert "data:image/svg+xml" in body
    secret = re.search(r'<code class="secret">([A-Z2-7=]+)</code>', body).group(1)
    assert len(secret) >= 32
    device = TOTPDevice.objects.get(user=login, confirmed=False)

    done = client.post("/portal/two-factor/", {"action": "confirm", "token": _code(device)}).content.decode()
    assert "Your recovery codes" in done and "is <strong>on</strong>" in done
    assert len(re.findall(r"<li><code>([a-z0-9]{8})</code></li>", done)) == 10
    event = AuditEvent.objects.get(action="otp.enabled", target_id="daivon")
    assert event.actor == "daivon" and event.after == {"authenticator": True, "recovery_codes": 10}
    assert client.get("/portal/").status_code == 200  # this session gave its code

    client.post("/portal/logout/")
    refused = _sign_in(client)
    assert refused.status_code == 200 and "current code from your authenticator" in refused.content.decode()
    assert client.get("/portal/").status_code == 302
    assert AccessAttempt.objects.get(username="daivon").failures_since_start == 1  # a missing code counts
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)):  # the next code: one is used once
        assert _sign_in(client, _code(device))["Location"] == "/portal/"
        assert client.get("/portal/").status_code == 200


def test_a_wrong_code_at_setup_turns_nothing_on(client, login):
    _sign_in(client)
    client.post("/portal/two-factor/", {"action": "start"})
    device = TOTPDevice.objects.get(user=login, confirmed=False)
    wrong = "000000" if _code(device) != "000000" else "111111"
    page = client.post("/portal/two-factor/", {"action": "confirm", "token": wrong}).content.decode()
    assert "does not match" in page and "is <strong>off</strong>" in page
    assert not TOTPDevice.objects.filter(user=login, confirmed=True).exists()
    assert not AuditEvent.objects.filter(action__startswith="otp.").exists()
    empty = client.post("/portal/two-factor/", {"action": "confirm", "token": ""}).content.decode()
    assert "This field is required" in empty


def test_a_recovery_code_signs_in_once(client, login):
    _turned_on(login)
    codes = otp_recovery_codes_renew(user=login)
    assert _sign_in(client, codes[0])["Location"] == "/portal/"
    client.post("/portal/logout/")
    assert _sign_in(client, codes[0]).status_code == 200  # used up
    assert client.get("/portal/").status_code == 302


def test_turning_it_off_asks_for_the_password_and_a_code(client, login):
    device = _turned_on(login)
    codes = otp_recovery_codes_renew(user=login)
    assert _sign_in(client, codes[0])["Location"] == "/portal/"
    wrong_password = client.post("/portal/two-factor/", {"action": "disable", "password": "not it",
                                                         "otp_token": codes[1]})
    assert "That password is not right" in wrong_password.content.decode()
    no_code = client.post("/portal/two-factor/", {"action": "disable", "password": PASSWORD, "otp_token": ""})
    assert "This field is required" in no_code.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert not AuditEvent.objects.filter(action="otp.disabled").exists()

    off = client.post("/portal/two-factor/", {"action": "disable", "password": PASSWORD, "otp_token": codes[1]})
    assert off.status_code == 200 and "Two-factor sign-in is off" in off.content.decode()
    assert not TOTPDevice.objects.filter(user=login).exists() and not StaticToken.objects.exists()
    event = AuditEvent.objects.get(action="otp.disabled")
    assert (event.actor, event.target_id) == ("daivon", "daivon") and "password and code" in event.reason
    client.post("/portal/logout/")
    assert _sign_in(client)["Location"] == "/portal/"  # the password alone again


def test_a_wrong_code_to_turn_it_off_counts_toward_the_lockout(client, login, settings):
    device = _turned_on(login)
    _sign_in(client, otp_recovery_codes_renew(user=login)[0])
    wrong = "000000" if _code(device) != "000000" else "111111"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/portal/two-factor/", {"action": "disable", "password": PASSWORD, "otp_token": wrong})
    assert AccessAttempt.objects.get(username="daivon").failures_since_start >= settings.AXES_FAILURE_LIMIT
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_a_session_from_before_it_was_turned_on_must_sign_in_again(client, login):
    other = Client()
    _sign_in(other)
    _sign_in(client)
    client.post("/portal/two-factor/", {"action": "start"})
    device = TOTPDevice.objects.get(user=login, confirmed=False)
    client.post("/portal/two-factor/", {"action": "confirm", "token": _code(device)})
    answer = other.get("/portal/trades/")
    assert answer.status_code == 302 and answer["Location"].startswith("/portal/login/")
    assert client.get("/portal/trades/").status_code == 200


def test_staff_without_a_portal_login_get_no_portal_two_factor_page(admin_client):
    assert admin_client.get("/portal/two-factor/").status_code == 404


def test_an_unknown_action_changes_nothing(client, login):
    _sign_in(client)
    page = client.post("/portal/two-factor/", {"action": "nonsense"})
    assert page.status_code == 200 and "That action is not available" in page.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="otp.").exists()


def test_a_refused_post_starts_no_setup(client, login):
    _sign_in(client)
    page = client.post("/portal/two-factor/", {"action": "confirm", "token": "123456"}).content.decode()
    assert "start the setup again" in page and "Set up two-factor sign-in" in page
    assert not TOTPDevice.objects.exists()
