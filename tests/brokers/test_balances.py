from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings

from brokers.models import Alert, BalanceSnapshot
from brokers.paper_venue import paper_behaviour_set, paper_fund, paper_price_set
from brokers.selectors import (
    account_equity_usd,
    balance_report,
    balance_summary,
    balance_user_by_venue,
    balances_all,
    position_quantity,
)
from brokers.services import balance_audit_run
from brokers.tasks import balance_audit_task


@pytest.fixture
def prices(db):
    paper_price_set(symbol="BTC/USD", price="50000")
    paper_price_set(symbol="ETH/USD", price="3000")


def test_audit_stores_snapshots_valued_in_usd(paper_credential, make_account, prices):
    account = make_account("alice")
    paper_credential(account, usd="1000", BTC="0.1")
    summary = balance_audit_run()
    assert (summary.credentials, summary.ok, summary.failed) == (1, 1, 0)
    rows = {r.asset: r for r in BalanceSnapshot.objects.filter(account=account)}
    assert rows["BTC"].usd_value == Decimal("5000")
    assert rows["USD"].usd_value == Decimal("1000")
    assert all(r.status == "ok" and r.is_latest_ok for r in rows.values())
    equity = account_equity_usd(account=account)
    assert equity.total_usd == Decimal("6000")
    assert equity.venues == {"paper": Decimal("6000")}
    assert position_quantity(account=account, venue="paper", asset="btc") == Decimal("0.1")
    assert position_quantity(account=account, venue="paper", asset="ETH") == Decimal("0")


def test_account_without_snapshot_has_no_equity(make_account):
    assert account_equity_usd(account=make_account()) is None


def test_failed_fetch_is_unavailable_with_last_good_value_never_zero(paper_credential, make_account, prices):
    account = make_account("bob")
    credential = paper_credential(account, usd="2500")
    balance_audit_run()
    paper_behaviour_set(credential=credential, fault="rate_limited", fault_count=5)
    summary = balance_audit_run()
    assert summary.failed == 1
    failed = BalanceSnapshot.objects.get(account=account, status="failed")
    assert failed.error.startswith("RateLimitedError:") and failed.total is None and failed.usd_value is None
    venue = balance_user_by_venue(account=account).venues["paper"]
    assert venue.usd is None and venue.last_good == Decimal("2500")
    # sizing still sees the last good reading, with its age
    assert account_equity_usd(account=account).total_usd == Decimal("2500")
    report = json.loads(json.dumps(balance_report(), default=str))
    assert "bob" not in report["balances"]["users"]
    assert report["unavailable"][0]["account"] == "bob"
    assert report["unavailable"][0]["last_good"] == "2500.00"
    assert report["summary"]["user_count"] == 0


def test_summary_sorts_users_by_total_and_excludes_unavailable_venues(paper_credential, make_account, prices):
    from accounts.selectors import account_get

    make_account("nija_master", master=True)

    paper_credential(account_get(user_id="master"), usd="10000")
    paper_credential(make_account("small"), usd="100")
    paper_credential(make_account("large"), usd="900", BTC="0.01")
    broken = make_account("broken")
    paper_credential(broken, usd="300")
    flaky = paper_credential(broken, usd="0", label="second", BTC="1")
    paper_behaviour_set(credential=flaky, fault="server_error", fault_count=9)
    balance_audit_run()
    summary = balance_summary()
    # one of broken's paper keys failed: its paper figure is unknown, so broken is not counted
    assert list(summary["user_totals"]) == ["large", "small"]
    assert summary["master_total"] == Decimal("10000.00")
    assert summary["total_user_capital"] == Decimal("1500.00")
    assert summary["average_per_user"] == Decimal("750.00")
    assert [b.account.user_id for b in balances_all()][:2] == ["nija_master", "large"]


def test_balance_low_alert_is_deduplicated_and_resolves(paper_credential, make_account, prices):
    account = make_account("low")
    credential = paper_credential(account, usd="20")
    balance_audit_run()
    balance_audit_run()
    alert = Alert.objects.get(account=account, kind="BALANCE_LOW", status="OPEN")
    assert alert.occurrences == 2
    paper_fund(credential=credential, asset="USD", amount="100")
    balance_audit_run()
    assert not Alert.objects.filter(account=account, kind="BALANCE_LOW", status="OPEN").exists()


@override_settings(NIJA_BALANCE_DROP_PCT="20")
def test_balance_drop_alert_on_a_fall_of_twenty_percent(paper_credential, make_account, prices):
    account = make_account("dropper")
    credential = paper_credential(account, usd="1000")
    balance_audit_run()
    paper_fund(credential=credential, asset="USD", amount="-150")
    balance_audit_run()
    assert not Alert.objects.filter(kind="BALANCE_DROP").exists()
    paper_fund(credential=credential, asset="USD", amount="-200")  # 850 -> 650: -23.5%
    balance_audit_run()
    alert = Alert.objects.get(kind="BALANCE_DROP")
    assert "23.5%" in alert.message


def test_show_user_balances_table(paper_credential, make_account, prices, capsys):
    from accounts.selectors import account_get

    make_account("nija_master", master=True)
    paper_credential(account_get(user_id="master"), usd="50000", BTC="0.5")
    paper_credential(make_account("alice"), usd="250")
    bob = make_account("bob")
    paper_credential(bob, usd="2500")
    failing = paper_credential(bob, usd="10", label="other")
    balance_audit_run()
    paper_behaviour_set(credential=failing, fault="auth_failure", fault_count=9)
    call_command("show_user_balances", "--fresh")
    out = capsys.readouterr().out
    assert "generated" in out
    master_at, bob_at, alice_at = out.index("MASTER  nija_master"), out.index("USER  bob"), out.index("USER  alice")
    assert master_at < alice_at < bob_at  # bob's total is unknown, so it sorts last
    assert "TOTAL                       $75,000.00" in out
    assert "unavailable (AuthenticationError: EAPI:Invalid key (injected))" in out
    assert "last good $2,510.00" in out
    assert "$0.00" not in out
    assert "Total Users                          1" in out  # bob's only venue is unavailable
    assert "SUBTOTAL                       $250.00" in out


def test_show_user_balances_json_shape(paper_credential, make_account, prices, capsys):
    from accounts.selectors import account_get

    make_account("nija_master", master=True)
    paper_credential(account_get(user_id="master"), usd="6913.46")
    paper_credential(make_account("alice"), usd="1000")
    paper_credential(make_account("bob"), usd="2500")
    call_command("show_user_balances", "--json")
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"timestamp", "balances", "summary", "unavailable"}
    assert data["balances"] == {"master": {"paper": "6913.46"},
                                "users": {"bob": {"paper": "2500.00"}, "alice": {"paper": "1000.00"}}}
    assert data["summary"] == {
        "master_total": "6913.46", "user_totals": {"bob": "2500.00", "alice": "1000.00"},
        "total_user_capital": "3500.00", "user_count": 2, "average_per_user": "1750.00",
    }
    assert list(data["summary"]["user_totals"]) == ["bob", "alice"]
    assert data["unavailable"] == []


def test_cached_snapshots_are_reused_within_the_ttl(paper_credential, make_account, prices, capsys):
    paper_credential(make_account("alice"), usd="1000")
    call_command("show_user_balances", "--json")
    count = BalanceSnapshot.objects.count()
    call_command("show_user_balances", "--json")
    assert BalanceSnapshot.objects.count() == count
    with override_settings(NIJA_BALANCE_CACHE_TTL=0):
        call_command("show_user_balances", "--json", "--user", "alice")
    assert BalanceSnapshot.objects.count() == count * 2


def test_audit_balances_command_and_task(paper_credential, make_account, prices, capsys):
    paper_credential(make_account("alice"), usd="1000", BTC="0.01")
    call_command("audit_balances")
    out = capsys.readouterr().out
    assert "1 credentials, 1 ok, 0 failed" in out and "total $1,500.00" in out
    balance_audit_task.delay()
    assert BalanceSnapshot.objects.filter(is_latest=True).count() == 2
    call_command("audit_balances", "--json", "--user", "alice")
    assert json.loads(capsys.readouterr().out)["ok"] == 1


def test_demo_seed_gives_real_figures_and_is_idempotent(db, capsys):
    from reporting.demo import demo_seed

    demo_seed()
    assert demo_seed()["brokers.demo.demo_brokers_seed"] is False
    summary = balance_summary()
    assert summary["master_total"] == Decimal("75000.00")
    assert summary["user_count"] == 3
    call_command("show_user_balances", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["balances"]["master"] == {"paper": "75000.00"}


def test_an_audit_finishing_after_a_newer_one_does_not_take_the_latest_flags(paper_credential, make_account,
                                                                              prices, time_machine):
    import datetime as dt

    credential = paper_credential(make_account("alice"), usd="1000")
    newer = dt.datetime(2026, 3, 1, 12, 5, tzinfo=dt.UTC)
    time_machine.move_to(newer, tick=False)
    balance_audit_run()
    paper_fund(credential=credential, asset="USD", amount="500")
    time_machine.move_to(newer - dt.timedelta(minutes=5), tick=False)  # a slower, older reading lands last
    balance_audit_run()
    latest = BalanceSnapshot.objects.get(is_latest=True)
    assert latest.fetched_at == newer and latest.total == Decimal("1000")
    assert BalanceSnapshot.objects.count() == 2  # the older reading is kept as history
