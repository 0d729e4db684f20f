"""Each check of the daily compliance check (and of the weekly review) on real rows: what it finds,
and what it leaves alone just inside its threshold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.services import account_trading_disable
from brokers.models import BalanceSnapshot, BrokerCredential
from copytrading.models import CopyOrder, MasterSignal
from copytrading.sizing import RiskLimits
from core.heartbeats import AUDIT_CHAIN_VERIFY, heartbeat_record
from operations.checks import (
    check_audit_chain,
    check_balances,
    check_copy_orders,
    check_credentials,
    check_lifecycle,
    check_patterns,
    check_reconciliation_breaks,
    check_risk_limits,
    drawdown_and_streak,
    risk_findings,
)
from operations.models import FindingKind
from reporting.models import DailyNav, ReconciliationBreak

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # a Monday, 01:00 UTC


def kinds(found) -> list[str]:
    return sorted(f.kind for f in found)


def failed_fetch(credential, *, at: dt.datetime, error: str) -> None:
    """One failed balance fetch as the audit stores it: the newest row of its credential is latest."""
    BalanceSnapshot.objects.filter(credential=credential).update(is_latest=False)
    BalanceSnapshot.objects.create(account=credential.account, credential=credential, venue=credential.venue,
                                   status=BalanceSnapshot.Status.FAILED, error=error, fetched_at=at, is_latest=True)


def signal_with_order(account, *, status: str, received_at: dt.datetime, claimed_at=None, n: int = 1):
    signal = MasterSignal.objects.create(source="manual", source_id=f"s-{n}", venue="paper", symbol="BTC/USD",
                                         side="buy", amount=Decimal("0.1"), price=Decimal("50000"),
                                         executed_at=received_at, received_at=received_at, mode="live",
                                         status=MasterSignal.Status.EXECUTING)
    CopyOrder.objects.create(signal=signal, account=account, venue="paper", symbol="BTC/USD", side="buy",
                             client_order_id=f"coid-{n}-{account.pk}", status=status, claimed_at=claimed_at,
                             created_at=received_at)
    return signal


# --- credentials ------------------------------------------------------------------------------
def test_an_active_account_without_a_usable_credential_is_found_and_one_with_a_key_is_not(world):
    bare = world.make_account("no_key_ann")
    keyed, _ = world.account("keyed_bob")
    world.make_account("pending_cy", active=False)  # PENDING: not expected to have a key yet
    found = check_credentials(now=timezone.now())
    assert [(f.kind, f.account_id) for f in found] == [(FindingKind.CREDENTIAL_MISSING, bare.pk)]
    assert found[0].facts == {"credential_statuses": []}
    assert "no credential at all" in found[0].summary


def test_a_key_the_venue_refused_three_times_in_a_row_is_failing_but_two_refusals_are_not(world, settings):
    settings.NIJA_CHECK_CREDENTIAL_FAILURES = 3
    account, cred = world.account("refused_dee", snapshot_at=NOW - dt.timedelta(hours=2))
    for minutes in (20, 10):
        failed_fetch(cred, at=NOW - dt.timedelta(minutes=minutes), error="AuthenticationError: invalid key")
    assert check_credentials(now=NOW) == []
    failed_fetch(cred, at=NOW, error="AuthenticationError: invalid key")
    found = check_credentials(now=NOW)
    assert kinds(found) == [FindingKind.CREDENTIAL_FAILING]
    assert found[0].facts["failures"] == 3 and found[0].subject == str(cred.pk)
    assert found[0].account_id == account.pk
    # A venue outage is not the key's fault: the balance check reports it instead.
    assert FindingKind.CREDENTIAL_FAILING not in kinds(check_balances(now=NOW))


# --- balances ---------------------------------------------------------------------------------
def test_a_balance_unavailable_for_more_than_n_audits_is_found_with_its_last_good_reading(world, settings):
    settings.NIJA_CHECK_UNAVAILABLE_AUDITS = 3
    settings.NIJA_CHECK_BALANCE_STALE_SECONDS = 3600
    _, cred = world.account("outage_eve", snapshot_at=NOW - dt.timedelta(hours=1))
    for minutes in (15, 10, 5):
        failed_fetch(cred, at=NOW - dt.timedelta(minutes=minutes), error="Unavailable: 503 from the venue")
    assert check_balances(now=NOW) == []  # 3 failed audits: not more than 3
    failed_fetch(cred, at=NOW, error="Unavailable: 503 from the venue")
    found = check_balances(now=NOW)
    assert kinds(found) == [FindingKind.BALANCE_UNAVAILABLE]
    assert found[0].facts["failed_audits"] == 4
    assert found[0].facts["last_good_at"] == (NOW - dt.timedelta(hours=1)).isoformat()


def test_a_balance_older_than_the_threshold_is_stale(world, settings):
    settings.NIJA_CHECK_BALANCE_STALE_SECONDS = 3600
    now = timezone.now()
    _, old = world.account("stale_fay", snapshot_at=now - dt.timedelta(hours=2))
    world.account("fresh_gus", snapshot_at=now - dt.timedelta(minutes=5))
    found = check_balances(now=now)
    assert [(f.kind, f.subject) for f in found] == [(FindingKind.BALANCE_STALE, str(old.pk))]


# --- risk limits ------------------------------------------------------------------------------
LIMITS = RiskLimits(max_position_notional=Decimal("1000"), max_position_pct=Decimal("20"), max_concurrent_positions=2,
                    leverage_limit=Decimal("1"), max_daily_loss_pct=Decimal("5"))


def test_risk_findings_name_each_limit_broken_with_its_numbers():
    found = risk_findings(account_id=7, limits=LIMITS, equity=Decimal("4000"), start_of_day=Decimal("4300"),
                          positions={"BTC": Decimal("1200"), "ETH": Decimal("700"), "SOL": Decimal("100")})
    assert kinds(found) == sorted([FindingKind.DAILY_LOSS_LIMIT, FindingKind.POSITION_CONCENTRATION,
                                   FindingKind.POSITION_NOTIONAL, FindingKind.POSITIONS_COUNT])
    by_kind = {f.kind: f for f in found}
    assert by_kind[FindingKind.POSITION_CONCENTRATION].facts["pct"] == "30.00"  # 1200 / 4000
    assert by_kind[FindingKind.POSITION_CONCENTRATION].subject == "BTC"
    assert by_kind[FindingKind.POSITION_NOTIONAL].facts == {"asset": "BTC", "value": "1200", "currency": "USD",
                                                            "limit": "1000"}
    assert "6.98%" in by_kind[FindingKind.DAILY_LOSS_LIMIT].summary  # 300 / 4300
    assert by_kind[FindingKind.POSITIONS_COUNT].facts["positions"] == 3


def test_risk_findings_at_exactly_the_limits_find_nothing():
    found = risk_findings(account_id=7, limits=LIMITS, equity=Decimal("5000"), start_of_day=Decimal("5100"),
                          positions={"BTC": Decimal("1000"), "ETH": Decimal("1000")})
    assert found == []


def test_exposure_above_the_leverage_limit_is_found():
    found = risk_findings(account_id=7, limits=LIMITS, equity=Decimal("100"), start_of_day=None,
                          positions={"BTC": Decimal("15"), "ETH": Decimal("15")}
                          ) + risk_findings(account_id=8, limits=RiskLimits(max_position_notional=Decimal("1e9"),
                                                                            max_position_pct=Decimal("100")),
                                            equity=Decimal("100"), start_of_day=None,
                                            positions={"BTC": Decimal("90"), "ETH": Decimal("30")})
    assert [(f.kind, f.account_id) for f in found if f.kind == FindingKind.EXPOSURE_LIMIT] == [
        (FindingKind.EXPOSURE_LIMIT, 8)]


def test_the_risk_check_reads_active_accounts_latest_good_balances(world):
    now = timezone.now()
    heavy, _ = world.account("heavy_hal", snapshot_at=now, USD="100", BTC="0.1",
                             risk={"max_position_pct": Decimal("20")})
    world.account("light_ivy", snapshot_at=now, USD="5000")
    found = check_risk_limits(now=now)
    assert {(f.kind, f.account_id, f.subject) for f in found} >= {
        (FindingKind.POSITION_CONCENTRATION, heavy.pk, "BTC")}
    assert {f.account_id for f in found} == {heavy.pk}


# --- reconciliation, lifecycle, audit chain ---------------------------------------------------
def _break(account, *, first_seen: dt.datetime, status: str = "open") -> ReconciliationBreak:
    return ReconciliationBreak.objects.create(
        account=account, venue="paper", asset="ETH", ledger_quantity=Decimal("2"), venue_quantity=Decimal("1.5"),
        difference=Decimal("-0.5"), difference_usd=Decimal("-1500"), snapshot_at=first_seen,
        first_seen_at=first_seen, last_seen_at=first_seen, status=status)


def test_a_break_open_for_more_than_a_day_is_found_a_younger_or_explained_one_is_not(world, settings):
    settings.NIJA_CHECK_BREAK_OPEN_HOURS = 24
    old = _break(world.make_account("old_break"), first_seen=NOW - dt.timedelta(hours=25))
    _break(world.make_account("new_break"), first_seen=NOW - dt.timedelta(hours=23))
    _break(world.make_account("explained_break"), first_seen=NOW - dt.timedelta(days=3), status="explained")
    found = check_reconciliation_breaks(now=NOW)
    assert [(f.kind, f.subject) for f in found] == [(FindingKind.RECONCILIATION_BREAK, str(old.pk))]
    assert Decimal(found[0].facts["difference_usd"]) == Decimal("-1500") and "-$1,500.00" in found[0].summary


def test_accounts_pending_too_long_and_secrets_kept_past_retention_are_found(world, settings):
    settings.NIJA_CHECK_PENDING_DAYS = 7
    settings.NIJA_CREDENTIAL_RETENTION_DAYS = 90
    now = timezone.now()
    waiting = world.make_account("waiting_jo", active=False)
    type(waiting).objects.filter(pk=waiting.pk).update(created_at=now - dt.timedelta(days=8))
    world.make_account("new_kim", active=False)
    gone, cred = world.account("gone_lee")
    account_trading_disable(actor="test", account=gone, reason="leaving")
    type(gone).objects.filter(pk=gone.pk).update(status="INACTIVE", exited_at=now - dt.timedelta(days=100))
    BrokerCredential.objects.filter(pk=cred.pk).update(status="archived", archived_at=now - dt.timedelta(days=91))
    found = check_lifecycle(now=now)
    assert [(f.kind, f.account_id) for f in found] == [(FindingKind.PENDING_TOO_LONG, waiting.pk),
                                                       (FindingKind.CREDENTIALS_NOT_ERASED, gone.pk)]
    BrokerCredential.objects.filter(pk=cred.pk).update(secrets_erased_at=now)
    assert kinds(check_lifecycle(now=now)) == [FindingKind.PENDING_TOO_LONG]


def test_the_audit_chain_check_reads_the_recorded_verification(db, settings):
    settings.NIJA_CHECK_AUDIT_VERIFY_MAX_AGE_HOURS = 24
    assert kinds(check_audit_chain(now=timezone.now())) == [FindingKind.AUDIT_CHAIN_UNVERIFIED]
    call_command("verify_audit_chain")  # the command records its result too, not only the beat task
    assert check_audit_chain(now=timezone.now()) == []
    assert kinds(check_audit_chain(now=timezone.now() + dt.timedelta(hours=25))) == [
        FindingKind.AUDIT_CHAIN_UNVERIFIED]
    heartbeat_record(name=AUDIT_CHAIN_VERIFY, detail={"valid": False, "first_broken_seq": 4,
                                                      "problem": "content does not match its hash (event altered)"})
    found = check_audit_chain(now=timezone.now())
    assert kinds(found) == [FindingKind.AUDIT_CHAIN_BROKEN] and "#4" in found[0].summary


# --- copy orders ------------------------------------------------------------------------------
def test_signals_with_failed_or_long_submitting_copy_orders_are_found(world, settings):
    settings.NIJA_CHECK_SUBMITTING_STALE_MINUTES = 30
    settings.NIJA_CHECK_COPY_LOOKBACK_HOURS = 48
    now = timezone.now()
    account = world.make_account("copier_max")
    failed = signal_with_order(account, status="FAILED", received_at=now - dt.timedelta(hours=3), n=1)
    stuck = signal_with_order(account, status="SUBMITTING", received_at=now - dt.timedelta(hours=1),
                              claimed_at=now - dt.timedelta(minutes=45), n=2)
    signal_with_order(account, status="SUBMITTING", received_at=now - dt.timedelta(minutes=5),
                      claimed_at=now - dt.timedelta(minutes=5), n=3)  # still in flight
    signal_with_order(account, status="FAILED", received_at=now - dt.timedelta(hours=50), n=4)  # outside the window
    signal_with_order(account, status="FILLED", received_at=now - dt.timedelta(hours=1), n=5)
    found = check_copy_orders(now=now)
    assert [(f.kind, f.subject) for f in found] == [(FindingKind.COPY_ORDERS_FAILED, str(failed.pk)),
                                                    (FindingKind.COPY_ORDERS_STUCK, str(stuck.pk))]
    assert found[0].account_id is None and found[0].facts["accounts"] == ["copier_max"]


# --- weekly patterns --------------------------------------------------------------------------
def test_drawdown_and_loss_streak_over_unit_navs():
    days = [dt.date(2026, 2, d) for d in range(1, 8)]
    navs = [Decimal(v) for v in ("1.00", "1.10", "1.05", "1.00", "0.99", "0.98", "1.02")]
    worst, streak = drawdown_and_streak(list(zip(days, navs, strict=True)))
    assert worst == Decimal("0.98") / Decimal("1.10") - 1
    assert streak == 4
    assert drawdown_and_streak([]) == (Decimal(0), 0)


def test_the_weekly_review_finds_drawdown_streaks_and_missed_copies(world, settings):
    settings.NIJA_WEEKLY_DRAWDOWN_PCT = "10"
    settings.NIJA_WEEKLY_LOSS_STREAK_DAYS = 4
    settings.NIJA_WEEKLY_MISSED_COPIES = 2
    now = timezone.now()
    loser = world.make_account("loser_ned")
    steady = world.make_account("steady_ola")
    for i, (a, b) in enumerate(zip(("1.0", "0.95", "0.9", "0.85", "0.8"), ("1.0", "1.01", "1.0", "1.02", "1.03"),
                                   strict=True)):
        day = now.date() - dt.timedelta(days=4 - i)
        for account, nav in ((loser, a), (steady, b)):
            DailyNav.objects.create(account=account, day=day, nav_usd=Decimal(nav) * 1000, units=Decimal("1000"),
                                    unit_nav=Decimal(nav))
    for n in (1, 2):
        signal = MasterSignal.objects.create(source="manual", source_id=f"w-{n}", venue="paper", symbol="BTC/USD",
                                             side="buy", amount=Decimal("0.1"), price=Decimal("50000"),
                                             executed_at=now, mode="live", status="COMPLETED")
        CopyOrder.objects.create(signal=signal, account=steady, symbol="BTC/USD", side="buy",
                                 client_order_id=f"w-{n}", status="SKIPPED", reason="stale_balance")
    found = check_patterns(now=now)
    assert sorted((f.kind, f.account_id) for f in found) == sorted([
        (FindingKind.DRAWDOWN, loser.pk), (FindingKind.LOSS_STREAK, loser.pk), (FindingKind.MISSED_COPIES, steady.pk)])
    missed = next(f for f in found if f.kind == FindingKind.MISSED_COPIES)
    assert missed.facts["by_reason"] == {"stale_balance": 2}
    assert next(f for f in found if f.kind == FindingKind.DRAWDOWN).facts["drawdown_pct"] == "20.00"


@pytest.mark.parametrize("check", [check_credentials, check_balances, check_risk_limits, check_reconciliation_breaks,
                                   check_lifecycle, check_copy_orders, check_patterns])
def test_every_check_finds_nothing_in_an_empty_registry(db, check):
    assert check(now=timezone.now()) == []
