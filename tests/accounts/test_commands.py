import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account
from brokers.services import credential_add, credential_status_set
from compliance.models import AuditEvent
from copytrading.services import copy_settings_update


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_onboard_user_happy_path_json(db):
    out = run("onboard_user", "--user-id", "daivon_frazier", "--name", "Daivon Frazier", "--email",
              "daivon@example.com", "--phone", "+1 555 0100", "--account-type", "investor", "--tier", "income",
              "--risk-tolerance", "LOW", "--initial-capital", "1000.50", "--currency", "usd", "--json")
    data = json.loads(out)
    assert data["user_id"] == "daivon_frazier" and data["status"] == "PENDING"
    assert data["initial_capital"] == {"amount": "1000.50", "currency": "USD"}
    assert data["risk_profile"]["risk_tolerance"] == "LOW"
    assert data["trading_enabled"] is False


def test_onboard_master_is_refused_when_one_exists(db):
    run("onboard_user", "--user-id", "boss", "--name", "Boss", "--email", "b@example.com", "--master")
    with pytest.raises(CommandError, match="MASTER account already exists"):
        run("onboard_user", "--user-id", "boss2", "--name", "Boss", "--email", "b@example.com", "--master")
    assert Account.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email"], "not a valid e-mail"),
        (["--initial-capital", "lots"], "not a number"),
        (["--initial-capital", "-5"], "cannot be negative"),
    ],
)
def test_onboard_user_bad_input_exits_with_one_line_and_writes_nothing(db, args, message):
    base = {"--user-id": "u1", "--name": "U One", "--email": "u1@example.com"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [x for pair in base.items() for x in pair]
    with pytest.raises(CommandError, match=message) as info:
        run("onboard_user", *argv)
    assert "\n" not in str(info.value)
    assert not Account.objects.exists() and not AuditEvent.objects.exists()


def test_set_trading_enable_and_disable(make_account):
    make_account("a1", active=False)
    assert "trading enabled, status ACTIVE" in run("set_trading", "a1", "enable")
    with pytest.raises(CommandError, match="reason is required"):
        run("set_trading", "a1", "disable")
    assert Account.objects.get(user_id="a1").trading_enabled
    assert "trading disabled, status SUSPENDED" in run("set_trading", "a1", "disable", "--reason", "vacation")
    assert AuditEvent.objects.filter(action="TRADING_DISABLE", reason="vacation").exists()


def test_set_trading_unknown_user(db):
    with pytest.raises(CommandError, match="no account with user_id 'ghost'"):
        run("set_trading", "ghost", "enable")


def test_user_status_human_and_json(make_account):
    make_account("daivon_frazier", full_name="Daivon Frazier")
    human = run("user_status", "daivon_frazier")
    assert "Daivon Frazier (daivon_frazier)" in human and "Status:   ACTIVE" in human
    assert "TRADING_ENABLE: daivon_frazier by test" in human
    data = json.loads(run("user_status", "daivon_frazier", "--json"))
    assert data["status"] == "ACTIVE" and data["trading_enabled"] is True
    assert data["risk_profile"]["max_position_pct"] == "20.00000000"
    assert data["copy"] == {"copy_enabled": True, "sizing_mode": "proportional", "multiplier": "1",
                            "fixed_notional": None}
    assert data["blocked_instruments"] == [] and data["credentials"] == []


def test_user_status_shows_copy_settings_blocked_instruments_and_credentials_without_secrets(make_account):
    account = make_account("daivon_frazier", risk_overrides={"blocked_instruments": ["XRP-USD"]})
    copy_settings_update(actor="test", account=account, reason="independent", copy_enabled=False, multiplier="1.5")
    kraken = credential_add(actor="test", account=account, venue="kraken", api_key="kraken-key-0001",
                            api_secret="kraken-secret-value", verify=False)
    credential_status_set(actor="test", credential=kraken, status="disabled", reason="disabled in NIJA")
    credential_add(actor="test", account=account, venue="paper", label="demo", api_key="pk-daivon-9999",
                   api_secret="paper-secret-value", verify=False)
    data = json.loads(run("user_status", "daivon_frazier", "--json"))
    assert data["copy"]["copy_enabled"] is False and data["copy"]["multiplier"] == "1.50000000"
    assert data["blocked_instruments"] == ["XRP/USD"]
    assert [(c["venue"], c["label"], c["enabled"], c["status"], c["key_hint"]) for c in data["credentials"]] == [
        ("kraken", "default", False, "disabled", "****0001"), ("paper", "demo", True, "active", "****9999")]
    human = run("user_status", "daivon_frazier")
    assert "Copy:     off" in human and "Blocked:  XRP/USD" in human
    assert "kraken/default: disabled (disabled) key ****0001" in human
    for text in (human, json.dumps(data)):
        assert "kraken-secret-value" not in text and "kraken-key-0001" not in text


def test_list_users_table_filter_and_json(make_account):
    make_account("a1")
    make_account("b2", active=False)
    table = run("list_users")
    assert table.splitlines()[0].split()[:4] == ["USER_ID", "NAME", "KIND", "STATUS"]
    assert "2 account(s)" in table
    assert "b2" in run("list_users", "--status", "PENDING") and "a1" not in run("list_users", "--status", "PENDING")
    data = json.loads(run("list_users", "--json", "--status", "active"))
    assert data["count"] == 1 and data["users"][0]["user_id"] == "a1"


def test_seed_demo_seeds_once_and_second_run_changes_nothing(db):
    run("seed_demo")
    accounts = list(Account.objects.values_list("user_id", "status", "trading_enabled").order_by("user_id"))
    events = AuditEvent.objects.count()
    assert Account.objects.filter(kind="MASTER").count() == 1
    assert Account.objects.filter(kind="USER").count() == 3
    assert all(hasattr(a, "risk_profile") for a in Account.objects.all())
    assert "nothing changed" in run("seed_demo")
    assert list(Account.objects.values_list("user_id", "status", "trading_enabled").order_by("user_id")) == accounts
    assert AuditEvent.objects.count() == events
