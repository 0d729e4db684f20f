from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account
from brokers.crypto import credential_secrets
from brokers.models import BrokerCredential
from compliance.models import AuditEvent

USERS = [
    {"user_id": "daivon_frazier", "name": "Daivon Frazier", "account_type": "retail", "broker_type": "kraken",
     "enabled": True, "description": "first user"},
    {"user_id": "tania_gilbert", "name": "Tania Gilbert", "account_type": "investor", "broker_type": "alpaca",
     "enabled": True, "description": "alpaca paper"},
    {"user_id": "marcus_reed", "name": "Marcus Reed", "account_type": "retail", "broker_type": "coinbase",
     "enabled": False, "description": "no keys yet"},
]
ENV = """
# NIJA .env
KRAKEN_USER_DAIVON_API_KEY=kraken-daivon-key-0001
KRAKEN_USER_DAIVON_API_SECRET="kraken-daivon-secret"
ALPACA_USER_TANIA_API_KEY=PKTANIA00000002
ALPACA_USER_TANIA_API_SECRET=alpaca-tania-secret
ALPACA_USER_TANIA_PAPER=true
export KRAKEN_MASTER_API_KEY=kraken-master-key-0003
KRAKEN_MASTER_API_SECRET=kraken-master-secret
COINBASE_PLATFORM_API_KEY=coinbase-platform-key-0004
COINBASE_PLATFORM_API_SECRET=coinbase-platform-secret
"""


@pytest.fixture
def nija_dir(tmp_path):
    users = tmp_path / "nija" / "config" / "users"
    users.mkdir(parents=True)
    (users / "retail_users.json").write_text(json.dumps(USERS[:1] + USERS[2:]))
    (users / "investors.json").write_text(json.dumps(USERS[1:2]))
    env = tmp_path / "nija.env"
    env.write_text(ENV)
    return tmp_path / "nija", env


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_nija_config", *args, stdout=out)
    return out.getvalue()


def test_dry_run_prints_the_plan_and_writes_nothing(db, nija_dir):
    config, env = nija_dir
    out = run("--config-dir", str(config), "--env-file", str(env), "--dry-run", "--no-verify")
    assert "create account nija_master (MASTER)" in out
    assert "add       credential daivon_frazier kraken/default from KRAKEN_USER_DAIVON_*" in out
    assert "add       credential tania_gilbert alpaca/default (paper) from ALPACA_USER_TANIA_*" in out
    assert "add       credential nija_master coinbase/default from COINBASE_PLATFORM_*" in out
    assert "no credentials for marcus_reed" in out
    assert "dry run: 8 change(s) planned" in out
    assert not Account.objects.exists() and not BrokerCredential.objects.exists()
    assert "kraken-daivon-secret" not in out


def test_import_creates_accounts_and_encrypted_credentials_and_rerun_changes_nothing(db, nija_dir):
    config, env = nija_dir
    out = run("--config-dir", str(config), "--env-file", str(env), "--no-verify")
    assert "imported: 8 change(s)" in out and "users without credentials: marcus_reed" in out
    master = Account.objects.get(kind="MASTER")
    assert master.user_id == "nija_master"
    daivon = Account.objects.get(user_id="daivon_frazier")
    assert daivon.trading_enabled and not Account.objects.get(user_id="marcus_reed").trading_enabled
    tania_key = BrokerCredential.objects.get(account__user_id="tania_gilbert")
    assert tania_key.venue == "alpaca" and tania_key.is_paper
    assert credential_secrets(BrokerCredential.objects.get(account=daivon)).api_secret == "kraken-daivon-secret"
    assert {c.venue for c in master.credentials.all()} == {"kraken", "coinbase"}
    events = AuditEvent.objects.count()

    again = run("--config-dir", str(config), "--env-file", str(env), "--no-verify")
    assert "nothing to change" in again
    assert AuditEvent.objects.count() == events


def test_ambiguous_first_name_is_refused_naming_both_users(db, nija_dir):
    config, env = nija_dir
    (config / "config" / "users" / "more.json").write_text(json.dumps([
        {"user_id": "daivon_smith", "name": "Daivon Smith", "account_type": "retail", "broker_type": "kraken",
         "enabled": True, "description": ""},
    ]))
    with pytest.raises(CommandError, match="ambiguous.*daivon_frazier and daivon_smith|ambiguous.*daivon_smith"):
        run("--config-dir", str(config), "--env-file", str(env), "--no-verify")
    assert not Account.objects.exists()


def test_missing_users_directory_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="no config/users"):
        run("--config-dir", str(tmp_path))
