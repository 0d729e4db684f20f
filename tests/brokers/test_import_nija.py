from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account
from brokers.crypto import credential_secrets
from brokers.models import BrokerCredential
from brokers.services import credential_add
from compliance.models import AuditEvent

USERS = [
    {"user_id": "daivon_frazier", "name": "Daivon Frazier", "account_type": "retail", "broker_type": "kraken",
     "enabled": True, "description": "first user"},
    {"user_id": "tania_gilbert", "name": "Tania Gilbert", "account_type": "investor", "broker_type": "alpaca",
     "enabled": True, "description": "alpaca paper"},
    {"user_id": "marcus_reed", "name": "Marcus Reed", "account_type": "retail", "broker_type": "coinbase",
     "enabled": False, "description": "no keys yet"},
]
# Fake API secrets, made afresh each run, so the repository holds no secret-shaped value; the
# "must-not-leak" mark in most of them is what the output checks look for.
LEAK_MARK = "must-not-leak"


def fake_secret(name: str, *, marked: bool = True) -> str:
    return f"{name}-{secrets.token_hex(8)}" + (f"-{LEAK_MARK}" if marked else "")


ENV_DAIVON_SECRET, ENV_TANIA_SECRET, ENV_MASTER_SECRET, ENV_COINBASE_SECRET = (
    fake_secret(name, marked=False) for name in ("kraken-daivon", "alpaca-tania", "kraken-master", "coinbase"))
DAIVON_SECRET, DAIVON_FULL_SECRET, TANIA_ALPACA_SECRET, TANIA_YAML_SECRET, TANIA_ENV_SECRET = (
    fake_secret(name) for name in ("kraken-daivon", "kraken-daivon-full", "alpaca-tania", "tania-kraken",
                                   "kraken-tania-env"))
LEE_SECRET, MASTER_SECRET, NOBODY_SECRET, OKX_SECRET = (
    fake_secret(name) for name in ("kraken-lee", "kraken-master", "kraken-nobody", "okx"))
OTHER_SECRET = fake_secret("other", marked=False)
ENV = f"""
# NIJA .env
KRAKEN_USER_DAIVON_API_KEY=kraken-daivon-key-0001
KRAKEN_USER_DAIVON_API_SECRET="{ENV_DAIVON_SECRET}"
ALPACA_USER_TANIA_API_KEY=PKTANIA00000002
ALPACA_USER_TANIA_API_SECRET={ENV_TANIA_SECRET}
ALPACA_USER_TANIA_PAPER=true
export KRAKEN_MASTER_API_KEY=kraken-master-key-0003
KRAKEN_MASTER_API_SECRET={ENV_MASTER_SECRET}
COINBASE_PLATFORM_API_KEY=coinbase-platform-key-0004
COINBASE_PLATFORM_API_SECRET={ENV_COINBASE_SECRET}
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
    assert ENV_DAIVON_SECRET not in out


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
    assert credential_secrets(BrokerCredential.objects.get(account=daivon)).api_secret == ENV_DAIVON_SECRET
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


# --- a NIJA installation as it is today: every format in one directory ------------------------------
INSTALL = {
    # Array files by account type and broker; alpaca's entry has no broker_type (the file name says it).
    "retail_kraken.json": [
        {"user_id": "daivon_frazier", "name": "Daivon Frazier", "account_type": "retail", "broker_type": "kraken",
         "enabled": True, "copy_from_master": True, "disabled_symbols": ["XRP-USD"],
         "description": "Retail user - Kraken crypto account"},
        {"user_id": "tania_gilbert", "name": "Tania Gilbert", "account_type": "retail", "broker_type": "kraken",
         "enabled": "true", "disabled_symbols": ["XRP-USD"], "email": "tania@example.com"},
        {"user_id": "lee_park", "name": "Lee Park", "account_type": "retail", "broker_type": "kraken",
         "enabled": True, "active_trading": False},
    ],
    "retail_alpaca.json": [{"user_id": "tania_gilbert", "name": "Tania Gilbert", "enabled": "false"}],
    "investor_kraken.json": [],
    "investor_coinbase.json": {"users": []},
    # Per-user object file: the user is the file name; `_` keys and `mode` mean nothing here.
    "daivon_frazier.json": {
        "name": "Daivon Frazier", "broker": "kraken", "role": "user", "enabled": True, "copy_from_platform": True,
        "independent_trading": False, "active_trading": True, "risk_multiplier": 1.5, "disabled_symbols": ["XRP/USD"],
        "mode": "normal", "_reactivated_reason": "nonce resync", "max_positions": 4,
    },
    "nija_platform.json": {"name": "NIJA Platform", "broker": "kraken", "role": "platform", "enabled": True},
}
TANIA_YAML = f"""\
broker: KRAKEN
api_key: "tania-kraken-key-7777"
api_secret: "{TANIA_YAML_SECRET}"
enabled: true
independent_trading: true
risk_multiplier: 0.5
"""
INSTALL_ENV = f"""\
KRAKEN_USER_DAIVON_API_KEY=kraken-daivon-key-0001
KRAKEN_USER_DAIVON_API_SECRET={DAIVON_SECRET}
ALPACA_USER_TANIA_GILBERT_API_KEY=PKTANIA00000002
ALPACA_USER_TANIA_GILBERT_API_SECRET={TANIA_ALPACA_SECRET}
ALPACA_USER_TANIA_GILBERT_PAPER=true
KRAKEN_USER_LEE_API_KEY=kraken-lee-key-0005
KRAKEN_USER_LEE_API_SECRET={LEE_SECRET}
KRAKEN_MASTER_API_KEY=kraken-master-key-0003
KRAKEN_MASTER_API_SECRET={MASTER_SECRET}
KRAKEN_USER_NOBODY_API_KEY=kraken-nobody-key-0009
KRAKEN_USER_NOBODY_API_SECRET={NOBODY_SECRET}
"""
SECRETS = (LEAK_MARK, "kraken-daivon-key-0001", "tania-kraken-key-7777", "PKTANIA00000002")


def write_install(root, files: dict | None = None, *, env: str = INSTALL_ENV, yaml_text: str | None = TANIA_YAML):
    users = root / "nija" / "config" / "users"
    users.mkdir(parents=True)
    for name, content in {**INSTALL, **(files or {})}.items():
        if content is None:
            continue
        (users / name).write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    if yaml_text is not None:
        (users / "tania_gilbert.yaml").write_text(yaml_text)
    (root / "nija.env").write_text(env)
    return root / "nija", root / "nija.env"


@pytest.fixture
def install(tmp_path):
    return write_install(tmp_path)


def args(config, env, *extra) -> list[str]:
    return ["--config-dir", str(config), "--env-file", str(env), "--no-verify", *extra]


def assert_nothing_written():
    assert not Account.objects.exists() and not BrokerCredential.objects.exists() and not AuditEvent.objects.exists()


def test_dry_run_of_a_real_installation_shows_every_decision_and_writes_nothing(db, install):
    out = run(*args(*install, "--dry-run"))
    assert_nothing_written()
    assert 'create account nija_platform (MASTER) investor "NIJA Platform"' in out
    assert 'create account daivon_frazier retail "Daivon Frazier" <daivon_frazier@nija.invalid>' in out
    assert 'create account tania_gilbert retail "Tania Gilbert" <tania@example.com>' in out
    for decision in (
        "type retail: file name in retail_alpaca.json, account_type in retail_kraken.json",
        "trading on: kraken enabled",
        "copy switch on: copy_from_platform/independent_trading in daivon_frazier.json, "
        "copy_from_master in retail_kraken.json",
        "copy multiplier 1.5: risk_multiplier in daivon_frazier.json",
        "blocked instruments XRP/USD: disabled_symbols in daivon_frazier.json, disabled_symbols in retail_kraken.json",
        'ignored: mode="normal" (daivon_frazier.json)',
        'ignored: _reactivated_reason="nonce resync" (daivon_frazier.json)',
        "ignored: max_positions (daivon_frazier.json, not a NIJA field the back office knows)",
        'ignored: description="Retail user - Kraken crypto account" (retail_kraken.json)',
        "trading on: alpaca disabled, kraken enabled",
        "copy switch off: independent_trading in tania_gilbert.yaml",
        "copy multiplier 0.5: risk_multiplier in tania_gilbert.yaml",
        "trading off: kraken enabled; active_trading false (retail_kraken.json)",
        "add       credential nija_platform kraken/default from KRAKEN_MASTER_*: enabled",
        "add       credential daivon_frazier kraken/default from KRAKEN_USER_DAIVON_*: enabled "
        "(enabled: true in daivon_frazier.json, enabled: true in retail_kraken.json)",
        "add       credential tania_gilbert alpaca/default (paper) from ALPACA_USER_TANIA_GILBERT_*: DISABLED "
        "(enabled: false in retail_alpaca.json)",
        "add       credential tania_gilbert kraken/default from tania_gilbert.yaml: enabled",
        "note: KRAKEN_USER_NOBODY_* matches no configured user; not imported",
        "dry run: 9 change(s) planned, nothing written",
    ):
        assert decision in out, decision
    assert not any(secret in out for secret in SECRETS)


def test_import_maps_every_field_and_rerunning_changes_nothing(db, install):
    out = run(*args(*install))
    assert "imported: 9 change(s)" in out
    assert "these files hold API keys that are now stored encrypted; delete them: tania_gilbert.yaml" in out
    assert not any(secret in out for secret in SECRETS)

    master = Account.objects.get(kind="MASTER")
    assert (master.user_id, master.full_name, master.trading_enabled) == ("nija_platform", "NIJA Platform", True)
    daivon = json.loads(status("daivon_frazier"))
    assert (daivon["trading_enabled"], daivon["copy"]["copy_enabled"], daivon["copy"]["multiplier"]) == (
        True, True, "1.50000000")
    assert daivon["blocked_instruments"] == ["XRP/USD"] and daivon["account_type"] == "retail"
    # imported with --no-verify: enabled, UNVERIFIED until the balance audit has verified the key
    assert [(c["venue"], c["enabled"], c["status"], c["key_hint"]) for c in daivon["credentials"]] == [
        ("kraken", True, "unverified", "****0001")]

    tania = json.loads(status("tania_gilbert"))
    assert (tania["email"], tania["trading_enabled"]) == ("tania@example.com", True)
    assert (tania["copy"]["copy_enabled"], tania["copy"]["multiplier"]) == (False, "0.50000000")
    assert tania["blocked_instruments"] == ["XRP/USD"]
    assert [(c["venue"], c["enabled"], c["status"], c["key_hint"], c["paper"]) for c in tania["credentials"]] == [
        ("alpaca", False, "disabled", "****0002", True), ("kraken", True, "unverified", "****7777", False)]
    yaml_key = BrokerCredential.objects.get(account__user_id="tania_gilbert", venue="kraken")
    assert credential_secrets(yaml_key).api_secret == TANIA_YAML_SECRET
    assert LEAK_MARK not in yaml_key.api_secret_encrypted

    lee = json.loads(status("lee_park"))
    assert lee["trading_enabled"] is False and lee["credentials"][0]["enabled"] is True
    assert not Account.objects.filter(user_id="nobody").exists()

    events = AuditEvent.objects.count()
    again = run(*args(*install))
    assert "nothing to change" in again and "create account" not in again and "add       credential" not in again
    assert AuditEvent.objects.count() == events


def status(user_id: str) -> str:
    out = io.StringIO()
    call_command("user_status", user_id, "--json", stdout=out)
    return out.getvalue()


def test_reimport_updates_copy_settings_and_adds_blocks_but_keeps_registry_details(db, tmp_path):
    config, env = write_install(tmp_path)
    run(*args(config, env))
    per_user = config / "config" / "users" / "daivon_frazier.json"
    per_user.write_text(json.dumps({**INSTALL["daivon_frazier.json"], "risk_multiplier": 2,
                                    "disabled_symbols": ["XRP/USD", "DOGE-USD"], "name": "Daivon F."}))
    (config / "config" / "users" / "retail_kraken.json").write_text(json.dumps(
        [{**INSTALL["retail_kraken.json"][0], "disabled_symbols": ["XRP/USD", "DOGE/USD"], "name": "Daivon F."},
         *INSTALL["retail_kraken.json"][1:]]))
    out = run(*args(config, env))
    assert "update account daivon_frazier" in out
    assert "name in the registry is kept ('Daivon Frazier'; the config says 'Daivon F.')" in out
    assert "imported: 1 change(s)" in out
    daivon = json.loads(status("daivon_frazier"))
    assert daivon["copy"]["multiplier"] == "2.00000000" and daivon["name"] == "Daivon Frazier"
    assert daivon["blocked_instruments"] == ["XRP/USD", "DOGE/USD"]


# --- refusals: file, user and field named; nothing written ---------------------------------------
REAL_MALFORMED = """{
  "name": "Daivon Frazier",
  "broker": "kraken",
  "_operational_model": "Independent per-account strategy evaluation"
  "_reactivated_reason": "Kraken startup nonce resync"
}
"""
DUPLICATE_KEY = """{
  "name": "Daivon Frazier", "broker": "kraken", "enabled": true,
  "copy_from_platform": false,
  "copy_from_platform": true
}
"""


@pytest.mark.parametrize(("files", "message"), [
    ({"daivon_frazier.json": DUPLICATE_KEY},
     r"daivon_frazier\.json: duplicate key 'copy_from_platform' in user daivon_frazier"),
    ({"retail_kraken.json": '[{"user_id": "lee_park", "enabled": true, "enabled": false, "broker_type": "kraken"}]'},
     r"retail_kraken\.json: duplicate key 'enabled' in the entry of lee_park"),
    ({"daivon_frazier.json": REAL_MALFORMED},
     r"daivon_frazier\.json: not valid JSON \(Expecting ',' delimiter at line 5"),
    ({"alpaca_users.json": [{"user_id": "tania_gilbert", "broker_type": "alpaca", "enabled": True}]},
     r"tania_gilbert: files disagree on alpaca enabled \(alpaca_users\.json says enabled true; "
     r"retail_alpaca\.json says enabled false\)"),
    ({"daivon_frazier.json": {**INSTALL["daivon_frazier.json"], "enabled": False}},
     r"daivon_frazier: files disagree on kraken enabled \(daivon_frazier\.json says enabled false; "
     r"retail_kraken\.json says enabled true\); fix one, or pass --prefer FILE"),
    ({"daivon_frazier.json": {**INSTALL["daivon_frazier.json"], "copy_from_platform": False,
                              "independent_trading": True}},
     r"files disagree on copy switch"),
    ({"daivon_frazier.json": {**INSTALL["daivon_frazier.json"], "independent_trading": True}},
     r"daivon_frazier\.json: daivon_frazier: the copy switch is contradictory \(copy_from_platform: true, "
     r"independent_trading: true\)"),
    ({"retail_alpaca.json": [{"user_id": "tania_gilbert", "enabled": "no"}]},
     r"retail_alpaca\.json: tania_gilbert: 'enabled' must be true or false, not \"no\""),
    ({"retail_alpaca.json": [{"user_id": "tania_gilbert", "enabled": 1}]},
     r"retail_alpaca\.json: tania_gilbert: 'enabled' must be true or false, not 1"),
    ({"investor_kraken.json": [{"user_id": "sam_roe", "account_type": "vip", "broker_type": "kraken"}]},
     r"investor_kraken\.json: sam_roe: 'account_type' must be one of retail, investor, not \"vip\""),
    ({"investor_kraken.json": [{"user_id": 12, "broker_type": "kraken"}]},
     r"investor_kraken\.json: entry 1 has user_id 12; a user_id is a quoted text"),
    ({"investor_kraken.json": [{"user_id": "sam_roe", "email": "not-an-address", "broker_type": "kraken"}]},
     r"investor_kraken\.json: sam_roe: 'email' is not a valid e-mail address"),
    ({"sam_roe.json": {"role": "admin"}}, r"sam_roe\.json: sam_roe: 'role' must be one of user, platform, master"),
    ({"sam_roe.json": {"broker": "kraken", "disabled_symbols": ["XRP"]}},
     r"sam_roe\.json: sam_roe: 'disabled_symbols' 'XRP' is not a market symbol"),
    ({"sam_roe.json": {"broker": "kraken", "risk_multiplier": "lots"}},
     r"sam_roe\.json: sam_roe: 'risk_multiplier' must be a number"),
    ({"sam_roe.json": {"broker": "bitnowhere", "enabled": True}}, r"sam_roe\.json: sam_roe: 'broker' unknown venue"),
    ({"retail_kraken.json": INSTALL["retail_kraken.json"] + [INSTALL["retail_kraken.json"][0]]},
     r"retail_kraken\.json: daivon_frazier is listed twice for kraken"),
    ({"sam_roe.json": "null"}, r"sam_roe\.json: the file is empty"),
    ({"sam_roe.json": '{"name": NaN}'}, r"sam_roe\.json: not valid JSON \(NaN is not a number\)"),
])
def test_a_bad_installation_is_refused_naming_file_user_and_field(db, tmp_path, files, message):
    config, env = write_install(tmp_path, files)
    for extra in (["--dry-run"], []):
        with pytest.raises(CommandError, match=message):
            run(*args(config, env, *extra))
    assert_nothing_written()


@pytest.mark.parametrize(("yaml_text", "message"), [
    (TANIA_YAML + 'api_key: "other-key"\n', r"tania_gilbert\.yaml: duplicate key 'api_key' in user tania_gilbert "
                                           r"\(line 7\)"),
    ("broker: kraken\napi_key: 12345678\napi_secret: s\n",
     r"tania_gilbert\.yaml: tania_gilbert: 'api_key' must be a quoted text"),
    ("broker: kraken\napi_key: \"only-a-key\"\n", r"tania_gilbert\.yaml: tania_gilbert: has only one of api_key"),
    ("broker: kraken\n  api_key: [unclosed\n", r"tania_gilbert\.yaml: not valid YAML \("),
    ("- broker: kraken\n", r"tania_gilbert\.yaml: a YAML user file holds one user"),
    (TANIA_YAML.replace("enabled: true", "enabled: maybe"),
     r"tania_gilbert\.yaml: tania_gilbert: 'enabled' must be true or false"),
])
def test_a_bad_yaml_file_is_refused_without_showing_its_secrets(db, tmp_path, yaml_text, message):
    config, env = write_install(tmp_path, yaml_text=yaml_text)
    with pytest.raises(CommandError, match=message) as refused:
        run(*args(config, env))
    assert not any(secret in str(refused.value) for secret in (*SECRETS, "12345678", "only-a-key", "other-key"))
    assert_nothing_written()


@pytest.mark.parametrize(("damage", "message"), [
    (b'[{"user_id": "sam\x00roe"}]', r"investor_kraken\.json: contains a NUL byte \(line 1\)"),
    (b'[{"user_id": "sam_roe", "name": "Ren\xe9"}]', r"investor_kraken\.json: not UTF-8 text \(byte 0xe9 on line 1\)"),
    (b'[{"user_id": "sam_roe", "name": "a\\u0000b", "broker_type": "kraken"}]',
     r"investor_kraken\.json: a value contains a NUL character"),
])
def test_nul_bytes_and_non_utf8_in_a_config_file_are_refused(db, tmp_path, damage, message):
    config, env = write_install(tmp_path)
    (config / "config" / "users" / "investor_kraken.json").write_bytes(damage)
    with pytest.raises(CommandError, match=message):
        run(*args(config, env))
    assert_nothing_written()


@pytest.mark.parametrize(("damage", "message"), [
    (b"KRAKEN_USER_DAIVON_API_KEY=abc\x00def\n", r"nija\.env: contains a NUL byte \(line 1\)"),
    (b"# caf\xe9\nKRAKEN_USER_DAIVON_API_KEY=abc\n", r"nija\.env: not UTF-8 text \(byte 0xe9 on line 1\)"),
])
def test_nul_bytes_and_non_utf8_in_the_env_file_are_refused(db, tmp_path, damage, message):
    config, env = write_install(tmp_path)
    env.write_bytes(damage)
    with pytest.raises(CommandError, match=message):
        run(*args(config, env))
    assert_nothing_written()


def test_a_refused_import_is_one_line_on_stderr_and_a_non_zero_exit(db, tmp_path):
    config, env = write_install(tmp_path)
    env.write_bytes(b"KRAKEN_USER_DAIVON_API_KEY=abc\x00def\n")
    result = subprocess.run(
        [sys.executable, "manage.py", "import_nija_config", *args(config, env, "--dry-run")],
        cwd=settings.BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "nija_site.settings.test"}, check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["CommandError: nija.env: contains a NUL byte (line 1)"]


def test_prefer_names_the_file_that_wins_a_disagreement(db, tmp_path):
    config, env = write_install(tmp_path, {"daivon_frazier.json": {**INSTALL["daivon_frazier.json"],
                                                                   "enabled": False}})
    with pytest.raises(CommandError, match="files disagree on kraken enabled"):
        run(*args(config, env))
    out = run(*args(config, env, "--prefer", "daivon_frazier.json", "--dry-run"))
    assert ("kraken enabled: false from daivon_frazier.json (--prefer) over the others (daivon_frazier.json says "
            "enabled false; retail_kraken.json says enabled true)") in out
    assert "trading off: kraken disabled" in out
    run(*args(config, env, "--prefer", str(config / "config" / "users" / "daivon_frazier.json")))
    daivon = json.loads(status("daivon_frazier"))
    assert daivon["trading_enabled"] is False and daivon["credentials"][0]["enabled"] is False

    # The other way round: the first preferred file wins.
    out = run(*args(config, env, "--prefer", "retail_kraken.json", "--prefer", "daivon_frazier.json", "--dry-run"))
    assert "kraken enabled: true from retail_kraken.json (--prefer)" in out


def test_prefer_of_a_file_the_import_does_not_read_is_refused(db, install):
    with pytest.raises(CommandError, match=r"--prefer nowhere\.json: not one of the files this import reads"):
        run(*args(*install, "--prefer", "nowhere.json"))
    assert_nothing_written()


def test_yaml_and_env_keys_that_differ_are_refused_unless_one_is_preferred(db, tmp_path):
    env_text = INSTALL_ENV + "KRAKEN_USER_TANIA_API_KEY=kraken-tania-env-key-8888\n" \
                             f"KRAKEN_USER_TANIA_API_SECRET={TANIA_ENV_SECRET}\n"
    config, env = write_install(tmp_path, env=env_text)
    with pytest.raises(CommandError, match=r"tania_gilbert: KRAKEN_USER_TANIA_\* and tania_gilbert\.yaml hold "
                                           r"different kraken keys \(api_key, api_secret differ\)") as refused:
        run(*args(config, env))
    assert LEAK_MARK not in str(refused.value) and "8888" not in str(refused.value)
    assert_nothing_written()
    out = run(*args(config, env, "--prefer", "nija.env"))
    assert "kraken keys from KRAKEN_USER_TANIA_* (--prefer) over KRAKEN_USER_TANIA_* and tania_gilbert.yaml" in out
    key = BrokerCredential.objects.get(account__user_id="tania_gilbert", venue="kraken")
    assert key.hint == "8888"


def test_same_key_in_yaml_and_env_is_one_credential(db, tmp_path):
    env_text = INSTALL_ENV + "KRAKEN_USER_TANIA_API_KEY=tania-kraken-key-7777\n" \
                             f"KRAKEN_USER_TANIA_API_SECRET={TANIA_YAML_SECRET}\n"
    config, env = write_install(tmp_path, env=env_text)
    out = run(*args(config, env, "--dry-run"))
    assert "kraken keys: KRAKEN_USER_TANIA_* and tania_gilbert.yaml hold the same key" in out


FULL_AND_FIRST = INSTALL_ENV + f"""\
KRAKEN_USER_DAIVON_FRAZIER_API_KEY=kraken-daivon-full-key-4444
KRAKEN_USER_DAIVON_FRAZIER_API_SECRET={DAIVON_FULL_SECRET}
"""


def test_full_name_and_first_name_variables_that_differ_are_refused_unless_preferred(db, tmp_path):
    config, env = write_install(tmp_path, env=FULL_AND_FIRST)
    with pytest.raises(CommandError, match=r"nija\.env: daivon_frazier: KRAKEN_USER_DAIVON_FRAZIER_\* and "
                                           r"KRAKEN_USER_DAIVON_\* are both set with different API_KEY, API_SECRET; "
                                           r"remove one, or pass --prefer-full-name"):
        run(*args(config, env))
    assert_nothing_written()
    out = run(*args(config, env, "--prefer-full-name"))
    assert "KRAKEN_USER_DAIVON_FRAZIER_* used; KRAKEN_USER_DAIVON_* differs and is ignored (--prefer-full-name)" in out
    assert BrokerCredential.objects.get(account__user_id="daivon_frazier").hint == "4444"


def test_full_name_and_first_name_variables_with_the_same_values_are_accepted(db, tmp_path):
    same = INSTALL_ENV + ("KRAKEN_USER_DAIVON_FRAZIER_API_KEY=kraken-daivon-key-0001\n"
                          f"KRAKEN_USER_DAIVON_FRAZIER_API_SECRET={DAIVON_SECRET}\n")
    config, env = write_install(tmp_path, env=same)
    out = run(*args(config, env, "--dry-run"))
    assert "KRAKEN_USER_DAIVON_FRAZIER_* used; KRAKEN_USER_DAIVON_* holds the same values" in out


def test_master_and_platform_variables_that_differ_are_refused(db, tmp_path):
    env_text = INSTALL_ENV + ("KRAKEN_PLATFORM_API_KEY=kraken-platform-key-6666\n"
                              f"KRAKEN_PLATFORM_API_SECRET={OTHER_SECRET}\n")
    config, env = write_install(tmp_path, env=env_text)
    with pytest.raises(CommandError, match=r"KRAKEN_MASTER_\* and KRAKEN_PLATFORM_\* are both set with different "
                                           r"API_KEY, API_SECRET"):
        run(*args(config, env))
    assert_nothing_written()


def test_a_key_without_its_secret_is_refused_in_the_dry_run_too(db, tmp_path):
    config, env = write_install(tmp_path, env=INSTALL_ENV + "OKX_USER_LEE_API_KEY=okx-lee-key-0007\n")
    with pytest.raises(CommandError, match=r"OKX_USER_LEE_API_KEY is set but OKX_USER_LEE_API_SECRET is not"):
        run(*args(config, env, "--dry-run"))


def test_yaml_keys_are_permission_checked_like_env_keys(db, tmp_path, okx_venue):
    yaml_text = ('broker: okx\napi_key: "okx-key-5f5f-AAAA-0001"\n'
                 f'api_secret: "{OKX_SECRET}"\n'
                 'passphrase: "okx-pass-phrase-42"\n')
    config, env = write_install(tmp_path, {name: None for name in INSTALL} | {"retail_kraken.json": []},
                                env="", yaml_text=yaml_text)
    okx_venue["perm"] = "read_only,trade,withdraw"
    verified = ["--config-dir", str(config), "--env-file", str(env)]
    with pytest.raises(CommandError, match="can WITHDRAW"):
        run(*verified)
    assert_nothing_written()
    okx_venue["perm"] = "read_only,trade"
    out = run(*verified)
    credential = BrokerCredential.objects.get(account__user_id="tania_gilbert")
    assert credential.venue == "okx" and credential.permissions["can_withdraw"] is False
    assert credential_secrets(credential).passphrase == "okx-pass-phrase-42"
    assert "delete them: tania_gilbert.yaml" in out and "okx-pass-phrase-42" not in out


def test_no_verify_imports_keys_as_unverified_so_none_trades_before_the_audit_checks_it(db, nija_dir):
    config, env = nija_dir
    run("--config-dir", str(config), "--env-file", str(env), "--no-verify")
    statuses = dict(BrokerCredential.objects.values_list("account__user_id", "status").filter(venue="kraken"))
    assert statuses == {"daivon_frazier": "unverified", "nija_master": "unverified"}
    assert all(not c.permissions.get("checked") for c in BrokerCredential.objects.all())
    assert "nothing to change" in run("--config-dir", str(config), "--env-file", str(env), "--no-verify")


def test_a_key_already_registered_for_another_account_is_refused_and_nothing_is_imported(db, nija_dir, make_account):
    config, env = nija_dir
    other = make_account("someone_else")
    credential_add(actor="test", account=other, venue="kraken", api_key="kraken-daivon-key-0001",
                   api_secret=OTHER_SECRET, verify=False)
    with pytest.raises(CommandError, match="already registered for account someone_else"):
        run("--config-dir", str(config), "--env-file", str(env), "--no-verify")
    assert not Account.objects.exclude(user_id="someone_else").exists()
