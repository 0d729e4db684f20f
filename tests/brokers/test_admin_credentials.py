"""The credential admin writes once, in save_model through the service; its form's clean() only
checks (issue 9: the add page used to store the key during validation and then show an error)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.urls import reverse

from brokers.models import BrokerCredential
from compliance.models import AuditEvent

KEY = "PAPERKEY-admin-4f3e2d1c-ABCD"
SECRET = "paper-secret-admin-9z8y7x"


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _post_add(client, account, **fields):
    data = {"account": account.pk, "venue": "paper", "label": "default", "is_paper": "on", "api_key": KEY,
            "api_secret": SECRET, "passphrase": "", "verify": "on", "reason": "", **fields}
    return client.post(reverse("admin:brokers_brokercredential_add"), data)


def _errors(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


def test_one_post_on_the_add_page_stores_one_credential_and_redirects(staff_client, make_account):
    account = make_account("tania_gilbert")
    response = _post_add(staff_client, account)
    assert response.status_code == 302 and response.url == reverse("admin:brokers_brokercredential_changelist")
    assert _errors(response) == []
    credential = BrokerCredential.objects.get()
    assert (credential.account_id, credential.venue, credential.hint) == (account.pk, "paper", "ABCD")
    assert AuditEvent.objects.filter(action="CREDENTIAL_ADD").count() == 1


def test_adding_an_existing_venue_and_label_replaces_the_key_once(staff_client, make_account, paper_credential):
    account = make_account("marcus_reed")
    existing = paper_credential(account)
    response = _post_add(staff_client, account)
    assert response.status_code == 302 and _errors(response) == []
    assert list(BrokerCredential.objects.values_list("pk", "hint")) == [(existing.pk, "ABCD")]
    assert AuditEvent.objects.filter(action="CREDENTIAL_REPLACE").count() == 1


def test_a_refusal_by_the_service_shows_on_the_form_and_stores_nothing(staff_client, make_account):
    account = make_account("ann")
    response = _post_add(staff_client, account, allow_withdraw_permission="on", reason="")
    assert response.status_code == 200
    assert "a reason is required to accept a key that can withdraw" in response.content.decode()
    assert not BrokerCredential.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="CREDENTIAL").exists()
