from __future__ import annotations

import os
import stat

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import IntegrityError
from django.test import override_settings

from brokers import crypto
from brokers.crypto import credential_secrets
from brokers.models import BrokerCredential
from brokers.services import credential_add, credential_keys_rotate, credential_status_set
from compliance.models import AuditEvent
from core.errors import ApplicationError

SECRET_KEY_TEXT = "kraken-api-key-ABCD1234wxyz"
SECRET_TEXT = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="


def test_credential_is_stored_encrypted_with_a_masked_hint(make_account):
    account = make_account("daivon")
    credential = credential_add(actor="test", account=account, venue="paper", api_key=SECRET_KEY_TEXT,
                                api_secret=SECRET_TEXT, passphrase="pass-phrase-9")
    row = BrokerCredential.objects.values().get(pk=credential.pk)
    for value in row.values():
        assert SECRET_KEY_TEXT not in str(value)
        assert SECRET_TEXT not in str(value)
        assert "pass-phrase-9" not in str(value)
    assert credential.hint == "wxyz"
    assert credential.is_paper is True
    assert credential_secrets(credential).api_key == SECRET_KEY_TEXT
    assert "****" in repr(credential_secrets(credential)) and SECRET_TEXT not in repr(credential_secrets(credential))
    event = AuditEvent.objects.get(action="CREDENTIAL_ADD")
    assert event.target_id == "daivon:paper:default"
    assert SECRET_KEY_TEXT not in str(event.after)


def test_adding_the_same_label_again_replaces_the_key_and_audits_it(make_account):
    account = make_account()
    first = credential_add(actor="test", account=account, venue="paper", api_key="key-one-1111", api_secret="s1")
    second = credential_add(actor="test", account=account, venue="paper", api_key="key-two-2222", api_secret="s2")
    assert first.pk == second.pk
    assert credential_secrets(BrokerCredential.objects.get(pk=first.pk)).api_key == "key-two-2222"
    assert AuditEvent.objects.filter(action="CREDENTIAL_REPLACE").count() == 1


def test_unique_on_account_venue_label(make_account):
    account = make_account()
    credential_add(actor="test", account=account, venue="paper", api_key="key-one-1111", api_secret="s1")
    with pytest.raises(IntegrityError):
        BrokerCredential.objects.create(account=account, venue="paper", label="default", api_key_encrypted="x",
                                        api_secret_encrypted="y", hint="1111")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"venue": "nosuchexchange"}, "unknown venue"),
        ({"api_secret": ""}, "both required"),
        ({"label": "bad label!"}, "label"),
        ({"allow_withdraw_permission": True}, "reason is required"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(make_account, kwargs, message):
    account = make_account()
    args = {"venue": "paper", "api_key": "key-one-1111", "api_secret": "s1", **kwargs}
    with pytest.raises(ApplicationError, match=message):
        credential_add(actor="test", account=account, **args)
    assert BrokerCredential.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="CREDENTIAL").exists()


def test_rotation_reencrypts_so_the_old_key_can_be_removed(make_account, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    account = make_account()
    with override_settings(NIJA_CREDENTIAL_KEYS=[old]):
        credential = credential_add(actor="test", account=account, venue="paper", api_key="key-old-9999",
                                    api_secret="secret-old", passphrase="pp")
        before = BrokerCredential.objects.get(pk=credential.pk).api_secret_encrypted
    with override_settings(NIJA_CREDENTIAL_KEYS=[new, old]):
        call_command("rotate_credential_key")
        assert "re-encrypted 1 credential" in capsys.readouterr().out
    with override_settings(NIJA_CREDENTIAL_KEYS=[new]):
        row = BrokerCredential.objects.get(pk=credential.pk)
        assert row.api_secret_encrypted != before
        secrets = credential_secrets(row)
        assert (secrets.api_key, secrets.api_secret, secrets.passphrase) == ("key-old-9999", "secret-old", "pp")
    with override_settings(NIJA_CREDENTIAL_KEYS=[old]), pytest.raises(ApplicationError, match="cannot be decrypted"):
        credential_secrets(row)
    assert AuditEvent.objects.filter(action="CREDENTIAL_KEYS_ROTATE").exists()


def test_rotation_counts_every_row(make_account):
    for i in range(3):
        credential_add(actor="test", account=make_account(), venue="paper", api_key=f"key-{i}-0000", api_secret="s")
    assert credential_keys_rotate(actor="test") == 3


def test_without_keys_in_test_or_production_mode_credentials_are_refused(make_account):
    with override_settings(NIJA_CREDENTIAL_KEYS=[], NIJA_CREDENTIAL_KEY_FILE=None), \
            pytest.raises(ApplicationError, match="NIJA_CREDENTIAL_KEYS is not set"):
        credential_add(actor="test", account=make_account(), venue="paper", api_key="key-0-0000", api_secret="s")


def test_local_mode_generates_a_private_key_file_once(tmp_path):
    key_file = tmp_path / "var" / "credential.key"
    with override_settings(NIJA_CREDENTIAL_KEYS=[], NIJA_CREDENTIAL_KEY_FILE=key_file):
        token = crypto.encrypt("hello")
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        first = key_file.read_text()
        assert crypto.decrypt(token) == "hello"
        crypto.encrypt("again")
        assert key_file.read_text() == first


def test_disabling_a_credential_is_audited_and_blocks_its_client(make_account):
    from brokers.clients.base import BrokerAuthenticationError
    from brokers.clients.registry import client_for

    credential = credential_add(actor="test", account=make_account(), venue="paper", api_key="key-0-0000",
                                api_secret="s")
    credential = credential_status_set(actor="test", credential=credential, status="disabled", reason="left")
    assert AuditEvent.objects.filter(action="CREDENTIAL_DISABLED", reason="left").exists()
    with pytest.raises(BrokerAuthenticationError):
        client_for(credential)
