"""Going LIVE and replacing a broker credential in the admin ask for the password again when the
session's last sign-in is older than NIJA_REAUTH_SECONDS; a wrong password changes nothing."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from brokers.models import BrokerCredential
from brokers.services import credential_add
from compliance.models import AuditEvent
from copytrading.models import EngineMode
from security.selectors import REAUTH_SESSION_KEY

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def operator_client(client):
    user = User.objects.create_user("olga", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    assert client.post("/admin/login/?next=/admin/", {"username": "olga", "password": PASSWORD}).status_code == 302
    return client


def _age_sign_in(client, seconds: int) -> None:
    session = client.session
    session[REAUTH_SESSION_KEY] = time.time() - seconds
    session.save()


def _go_live(client, **extra):
    engine = EngineMode.current()
    return client.post(reverse("admin:copytrading_enginemode_changelist"), {
        "action": "mode_live", "_selected_action": [engine.pk], "apply": "1", "reason": "go-live approved", **extra})


def test_going_live_right_after_signing_in_needs_no_second_password(operator_client):
    _go_live(operator_client)
    assert EngineMode.current().mode == "LIVE"


def test_going_live_on_an_old_sign_in_asks_for_the_password(operator_client, settings):
    settings.NIJA_REAUTH_SECONDS = 300
    _age_sign_in(operator_client, 301)
    asked = _go_live(operator_client)
    assert asked.status_code == 200 and "Your password" in asked.content.decode()
    assert EngineMode.current().mode != "LIVE"
    wrong = _go_live(operator_client, password="not-it")
    assert "that password is not right" in wrong.content.decode() and EngineMode.current().mode != "LIVE"
    events = AuditEvent.objects.count()
    _go_live(operator_client, password=PASSWORD)
    assert EngineMode.current().mode == "LIVE" and AuditEvent.objects.count() > events


def _replace(client, account, **extra):
    return client.post(reverse("admin:brokers_brokercredential_add"), {
        "account": account.pk, "venue": "paper", "label": "default", "is_paper": "on",
        "api_key": "PAPERKEY-reauth-0000-NEW1", "api_secret": "paper-secret-new", "passphrase": "",
        "verify": "on", "reason": "", **extra})


def test_replacing_a_credential_on_an_old_sign_in_asks_for_the_password(operator_client, make_account, settings):
    account = make_account("tania_gilbert")
    old = credential_add(actor="test", account=account, venue="paper", api_key="PAPERKEY-reauth-0000-OLD1",
                         api_secret="paper-secret-old")
    _age_sign_in(operator_client, settings.NIJA_REAUTH_SECONDS + 1)
    refused = _replace(operator_client, account)
    assert refused.status_code == 200 and "more than a few minutes old" in refused.content.decode()
    assert BrokerCredential.objects.get(pk=old.pk).hint == "OLD1"
    done = _replace(operator_client, account, current_password=PASSWORD)
    assert done.status_code == 302
    assert BrokerCredential.objects.get(pk=old.pk).hint == "NEW1"


def test_adding_a_new_credential_does_not_ask(operator_client, make_account, settings):
    account = make_account("ann")
    _age_sign_in(operator_client, settings.NIJA_REAUTH_SECONDS + 1)
    assert _replace(operator_client, account).status_code == 302
    assert BrokerCredential.objects.filter(account=account).count() == 1
