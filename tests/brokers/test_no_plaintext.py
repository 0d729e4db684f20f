"""No plaintext secret anywhere: database (every table), logs, admin pages, command output."""

from __future__ import annotations

import io
import logging

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from brokers.models import BrokerCredential
from brokers.paper_venue import paper_behaviour_set

KEY = "PAPERKEY-plain-9d8c7b6a-WXYZ"
SECRET = "paper-secret-plaintext-5a4b3c2d1e"
PASSPHRASE = "paper-passphrase-plaintext-77"
SECRETS = (KEY, SECRET, PASSPHRASE)


def _dump_every_table() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names come from the database itself
            chunks.append(f"{table}: {cursor.fetchall()!r}")
    return "\n".join(chunks)


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"plaintext secret found in {where}"
        assert secret[-8:] not in text, f"more than the 4-character hint found in {where}"


@pytest.fixture
def admin_client_logged_in(client, db):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def test_no_secret_in_database_logs_output_or_admin(make_account, admin_client_logged_in, caplog):
    caplog.set_level(logging.DEBUG)
    make_account("daivon_frazier")
    out, err = io.StringIO(), io.StringIO()
    call_command("add_broker_credential", "daivon_frazier", "--venue", "paper",
                 stdin=io.StringIO(f"{KEY}\n{SECRET}\n{PASSPHRASE}\n"), stdout=out, stderr=err)
    credential = BrokerCredential.objects.get()
    # exercise the other paths that touch the credential: fetch, a failing fetch, the table, the JSON
    call_command("paper_fund", "daivon_frazier", "--asset", "USD", "--amount", "100", stdout=out)
    call_command("audit_balances", stdout=out, stderr=err)
    paper_behaviour_set(credential=credential, fault="auth_failure", fault_count=3)
    call_command("audit_balances", stdout=out, stderr=err)
    call_command("show_user_balances", stdout=out)
    call_command("show_user_balances", "--json", stdout=out)

    _assert_clean(_dump_every_table(), "the database")
    _assert_clean(out.getvalue() + err.getvalue(), "command output")
    _assert_clean(caplog.text, "logs")
    assert "****WXYZ" in out.getvalue()  # the hint is what people see

    pages = [
        reverse("admin:brokers_brokercredential_changelist"),
        reverse("admin:brokers_brokercredential_change", args=[credential.pk]),
        reverse("admin:brokers_balancesnapshot_changelist"),
        reverse("admin:compliance_auditevent_changelist"),
    ]
    for url in pages:
        response = admin_client_logged_in.get(url)
        assert response.status_code == 200, url
        _assert_clean(response.content.decode(), url)


def test_admin_adds_a_credential_through_write_only_fields(make_account, admin_client_logged_in):
    account = make_account("tania_gilbert")
    url = reverse("admin:brokers_brokercredential_add")
    form = admin_client_logged_in.get(url).content.decode()
    assert 'type="password"' in form
    response = admin_client_logged_in.post(url, {
        "account": account.pk, "venue": "paper", "label": "default", "is_paper": "on",
        "api_key": KEY, "api_secret": SECRET, "passphrase": PASSPHRASE, "verify": "on", "reason": "",
    }, follow=True)
    assert response.status_code == 200
    _assert_clean(response.content.decode(), "the page after saving")
    credential = BrokerCredential.objects.get(account=account)
    assert credential.hint == "WXYZ"
    _assert_clean(_dump_every_table(), "the database after an admin add (admin log included)")
    # a refused form (missing secret) does not send the typed key back to the browser
    response = admin_client_logged_in.post(url, {"account": account.pk, "venue": "paper", "label": "second",
                                                 "api_key": KEY, "api_secret": ""})
    assert response.status_code == 200 and "Enter the API key and secret" in response.content.decode()
    _assert_clean(response.content.decode(), "the refused form")


def test_admin_replaces_a_key_on_the_change_page(make_account, admin_client_logged_in, paper_credential):
    credential = paper_credential(make_account("marcus_reed"))
    url = reverse("admin:brokers_brokercredential_change", args=[credential.pk])
    response = admin_client_logged_in.post(url, {"api_key": KEY, "api_secret": SECRET, "passphrase": "",
                                                 "verify": "on"}, follow=True)
    assert response.status_code == 200
    credential.refresh_from_db()
    assert credential.hint == "WXYZ"
    _assert_clean(response.content.decode(), "the change page")
    history = admin_client_logged_in.get(reverse("admin:brokers_brokercredential_history", args=[credential.pk]))
    assert history.status_code == 200
    _assert_clean(history.content.decode(), "the admin history")
