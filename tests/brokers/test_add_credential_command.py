from __future__ import annotations

import io

import ccxt
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from brokers.crypto import credential_secrets
from brokers.models import BrokerCredential
from compliance.models import AuditEvent

KEY, SECRET, PASSPHRASE = "okx-key-5f5f-AAAA-0001", "okx-secret-must-not-leak-77", "okx-pass-phrase-42"


def run(*args, stdin: str = f"{KEY}\n{SECRET}\n{PASSPHRASE}\n", **kwargs) -> str:
    out = io.StringIO()
    call_command("add_broker_credential", *args, stdin=io.StringIO(stdin), stdout=out, **kwargs)
    return out.getvalue()


def test_trade_only_key_is_verified_and_stored_encrypted(make_account, okx_venue, caplog):
    make_account("daivon_frazier")
    out = run("daivon_frazier", "--venue", "okx")
    assert "stored okx/default for daivon_frazier (key ****0001); permissions: trade=True, withdraw=False" in out
    credential = BrokerCredential.objects.get()
    assert credential_secrets(credential).passphrase == PASSPHRASE
    assert credential.last_verified_at is not None
    for secret in (KEY, SECRET, PASSPHRASE):
        assert secret not in out and secret not in caplog.text


def test_withdraw_capable_key_is_refused_and_nothing_is_stored(make_account, okx_venue):
    make_account("daivon_frazier")
    okx_venue["perm"] = "read_only,trade,withdraw"
    with pytest.raises(CommandError, match="can WITHDRAW funds"):
        run("daivon_frazier", "--venue", "okx")
    assert not BrokerCredential.objects.exists()


def test_withdraw_capable_key_accepted_only_with_flag_and_reason_and_audited(make_account, okx_venue):
    make_account("daivon_frazier")
    okx_venue["perm"] = "read_only,trade,withdraw"
    with pytest.raises(CommandError, match="reason is required"):
        run("daivon_frazier", "--venue", "okx", "--allow-withdraw-permission")
    run("daivon_frazier", "--venue", "okx", "--allow-withdraw-permission", "--reason", "sub-account, no funds out")
    event = AuditEvent.objects.get(action="CREDENTIAL_ADD_WITHDRAW_CAPABLE")
    assert event.reason == "sub-account, no funds out"
    assert BrokerCredential.objects.get().permissions["can_withdraw"] is True


def test_secrets_from_named_environment_variables(make_account, okx_venue, monkeypatch):
    make_account("nija_master", master=True)
    monkeypatch.setenv("OKX_MASTER_API_KEY", KEY)
    monkeypatch.setenv("OKX_MASTER_API_SECRET", SECRET)
    monkeypatch.setenv("OKX_MASTER_PASSPHRASE", PASSPHRASE)
    out = run("master", "--venue", "okx", "--label", "main", "--from-env", "OKX_MASTER", stdin="")
    assert "stored okx/main for nija_master" in out


def test_missing_environment_variables_is_a_clear_error(make_account):
    make_account("daivon_frazier")
    with pytest.raises(CommandError, match="KRAKEN_USER_DAIVON_API_KEY and KRAKEN_USER_DAIVON_API_SECRET"):
        run("daivon_frazier", "--venue", "kraken", "--from-env", "KRAKEN_USER_DAIVON", stdin="")


def test_a_key_the_venue_refuses_is_not_stored(make_account, monkeypatch):
    make_account("daivon_frazier")

    def fetch(self, url, method="GET", headers=None, body=None):
        error = {"error": ["EAPI:Invalid key"]}
        self.handle_errors(200, "OK", url, method, {}, '{"error":["EAPI:Invalid key"]}', error, headers, body)

    monkeypatch.setattr(ccxt.kraken, "fetch", fetch)
    with pytest.raises(CommandError, match="refused by kraken.*EAPI:Invalid key"):
        run("daivon_frazier", "--venue", "kraken")
    assert not BrokerCredential.objects.exists()
