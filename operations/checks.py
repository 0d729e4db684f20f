"""The checks of the daily compliance check and of the weekly review (issue 15 §3). Each check is a
small read-only function over the owning apps' selectors: `check(now=...)` returns the conditions
it finds now, as `Found` rows; `operations.services.compliance_run_execute` turns them into
findings (the same condition found again is the same finding). Thresholds are settings (NIJA_CHECK_*,
NIJA_WEEKLY_*, documented in .env.example)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from accounts.choices import AccountStatus
from accounts.selectors import account_ids_with_status, accounts_by_id, accounts_pending_since
from brokers.selectors import (
    credential_failure_streaks,
    credential_rows_active,
    credential_statuses_of,
    credentials_stale,
    credentials_unerased_past,
)
from copytrading.selectors import balances_for_accounts, missed_copy_counts, signals_with_copy_problems
from copytrading.sizing import RiskLimits, daily_loss_breached
from core.decimals import format_decimal, format_money, to_jsonable
from core.heartbeats import AUDIT_CHAIN_VERIFY, heartbeats_read
from reporting.selectors import reconciliation_breaks_open_before, unit_navs_between

from .models import ComplianceRun, FindingKind

HUNDRED = Decimal("100")
# Accounts read per query by the checks that walk accounts (risk limits).
ACCOUNT_CHUNK = 500


@dataclass(frozen=True)
class Found:
    """One condition a check found. `subject` tells apart two conditions of one kind and account
    (two credentials, two assets); with the kind and the account it makes the finding's key."""

    kind: str
    summary: str
    account_id: int | None = None
    subject: str = ""
    facts: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.account_id if self.account_id is not None else 'book'}:{self.subject}"


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[..., list[Found]]
    kinds: tuple[str, ...]  # the kinds it can find: open findings of these it no longer sees are resolved
    description: str


def _found(kind: str, summary: str, *, account_id: int | None = None, subject: str = "", **facts) -> Found:
    return Found(kind=kind, summary=summary[:300], account_id=account_id, subject=str(subject),
                 facts=to_jsonable(facts))


def _usd_or_unpriced(value: Decimal | None) -> str:
    return format_money(value) if value is not None else "unpriced"


def _since(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"


# --- daily ----------------------------------------------------------------------------------
def check_credentials(*, now: dt.datetime) -> list[Found]:
    """ACTIVE accounts with no usable (ACTIVE) credential; credentials whose latest
    NIJA_CHECK_CREDENTIAL_FAILURES fetches or more were all refused by the venue (authentication
    or permission errors), none good since."""
    found: list[Found] = []
    active = account_ids_with_status(status=AccountStatus.ACTIVE)
    usable = {row["account_id"] for row in credential_rows_active(account_ids=active)}
    missing = [pk for pk in active if pk not in usable]
    statuses = credential_statuses_of(account_ids=missing)
    for pk in missing:
        others = statuses.get(pk, [])
        why = f"credentials {', '.join(others)}" if others else "no credential at all"
        found.append(_found(FindingKind.CREDENTIAL_MISSING, f"ACTIVE without a usable credential ({why})",
                            account_id=pk, credential_statuses=others))
    limit = settings.NIJA_CHECK_CREDENTIAL_FAILURES
    for row in credential_failure_streaks(min_failures=limit):
        if not row["credential_error"]:
            continue  # the venue, not the key: check_balances reports it
        found.append(_found(
            FindingKind.CREDENTIAL_FAILING,
            f"{row['venue']}/{row['label']} refused {row['failures']} fetches in a row: {row['latest_error']}",
            account_id=row["account_id"], subject=row["credential_id"], venue=row["venue"], label=row["label"],
            failures=row["failures"], latest_error=row["latest_error"], last_good_at=row["last_good_at"],
            threshold=limit))
    return found


def check_balances(*, now: dt.datetime) -> list[Found]:
    """Credentials whose latest fetch (good or failed) is older than NIJA_CHECK_BALANCE_STALE_SECONDS
    (or that were never fetched); credentials whose balance was unavailable for more than
    NIJA_CHECK_UNAVAILABLE_AUDITS audits in a row (the venue failing, not the key)."""
    found: list[Found] = []
    max_age = settings.NIJA_CHECK_BALANCE_STALE_SECONDS
    for credential in credentials_stale(max_age_seconds=max_age, now=now):
        found.append(_found(
            FindingKind.BALANCE_STALE,
            f"{credential.venue}/{credential.label}: no balance fetch for more than {max_age // 60} minutes",
            account_id=credential.account_id, subject=credential.pk, venue=credential.venue,
            label=credential.label, max_age_seconds=max_age))
    audits = settings.NIJA_CHECK_UNAVAILABLE_AUDITS
    for row in credential_failure_streaks(min_failures=audits + 1):
        if row["credential_error"]:
            continue  # the key is refused: check_credentials reports it
        found.append(_found(
            FindingKind.BALANCE_UNAVAILABLE,
            f"{row['venue']}/{row['label']} unavailable for {row['failures']} audits "
            f"(last good {_since(row['last_good_at'])}): {row['latest_error']}",
            account_id=row["account_id"], subject=row["credential_id"], venue=row["venue"], label=row["label"],
            failed_audits=row["failures"], latest_error=row["latest_error"], last_good_at=row["last_good_at"],
            threshold=audits))
    return found


def risk_findings(*, account_id: int, limits: RiskLimits, equity: Decimal | None,
                  start_of_day: Decimal | None, positions: dict[str, Decimal]) -> list[Found]:
    """The limits one account's latest good balances break (pure: the rules with exact numbers).
    Positions are USD values of non-cash assets; equity is USD."""
    found: list[Found] = []
    breach = daily_loss_breached(limits, start_of_day=start_of_day, equity=equity)
    if breach:
        found.append(_found(FindingKind.DAILY_LOSS_LIMIT, f"daily loss limit reached: {breach}",
                            account_id=account_id, start_of_day_equity=start_of_day, equity=equity,
                            currency="USD", detail=breach))
    if not equity or equity <= 0:
        return found
    for asset, usd in sorted(positions.items()):
        pct = usd / equity * HUNDRED
        if pct > limits.max_position_pct:
            found.append(_found(
                FindingKind.POSITION_CONCENTRATION,
                f"{asset} is {pct.quantize(Decimal('0.1'))}% of equity "
                f"(limit {format_decimal(limits.max_position_pct)}%)",
                account_id=account_id, subject=asset, asset=asset, value=usd, equity=equity, currency="USD",
                pct=pct.quantize(Decimal("0.01")), limit_pct=limits.max_position_pct))
        if usd > limits.max_position_notional:
            found.append(_found(
                FindingKind.POSITION_NOTIONAL,
                f"{asset} position {format_money(usd)} above the {format_money(limits.max_position_notional)} limit",
                account_id=account_id, subject=asset, asset=asset, value=usd, currency="USD",
                limit=limits.max_position_notional))
    exposure = sum(positions.values(), Decimal(0))
    if exposure > equity * limits.leverage_limit:
        found.append(_found(
            FindingKind.EXPOSURE_LIMIT,
            f"exposure {format_money(exposure)} above {format_decimal(limits.leverage_limit)}x equity "
            f"{format_money(equity)}", account_id=account_id, exposure=exposure, equity=equity, currency="USD",
            leverage_limit=limits.leverage_limit))
    if len(positions) > limits.max_concurrent_positions:
        found.append(_found(
            FindingKind.POSITIONS_COUNT,
            f"{len(positions)} open positions (limit {limits.max_concurrent_positions}): "
            f"{', '.join(sorted(positions))}",
            account_id=account_id, positions=len(positions), limit=limits.max_concurrent_positions,
            assets=sorted(positions)))
    return found


def check_risk_limits(*, now: dt.datetime) -> list[Found]:
    """ACTIVE accounts against their risk profile, from their latest good balances: daily loss,
    concentration (% of equity per position), notional per position, exposure (leverage), count of
    open positions. An account without a good balance has no figures to judge (check_balances)."""
    found: list[Found] = []
    ids = account_ids_with_status(status=AccountStatus.ACTIVE)
    for start in range(0, len(ids), ACCOUNT_CHUNK):
        chunk = ids[start:start + ACCOUNT_CHUNK]
        accounts = accounts_by_id(ids=chunk)
        balances = balances_for_accounts(account_ids=chunk, now=now)
        for pk in chunk:
            facts = balances.get(pk)
            profile = getattr(accounts[pk], "risk_profile", None)
            if facts is None or profile is None:
                continue
            found += risk_findings(account_id=pk, limits=RiskLimits.from_profile(profile), equity=facts.equity_usd,
                                   start_of_day=facts.start_of_day_equity, positions=facts.positions)
    return found


def check_reconciliation_breaks(*, now: dt.datetime) -> list[Found]:
    """Reconciliation breaks still OPEN (not explained) more than NIJA_CHECK_BREAK_OPEN_HOURS after
    reconcile_books first found them."""
    hours = settings.NIJA_CHECK_BREAK_OPEN_HOURS
    return [
        _found(FindingKind.RECONCILIATION_BREAK,
               f"{b.venue} {b.asset}: venue {format_decimal(b.venue_quantity)} vs ledger "
               f"{format_decimal(b.ledger_quantity)} ({_usd_or_unpriced(b.difference_usd)}), "
               f"open since {b.first_seen_at:%Y-%m-%d}",
               account_id=b.account_id, subject=b.pk, break_id=b.pk, venue=b.venue, asset=b.asset,
               ledger_quantity=b.ledger_quantity, venue_quantity=b.venue_quantity, difference=b.difference,
               difference_usd=b.difference_usd, currency="USD", first_seen_at=b.first_seen_at)
        for b in reconciliation_breaks_open_before(before=now - dt.timedelta(hours=hours))
    ]


def check_lifecycle(*, now: dt.datetime) -> list[Found]:
    """Accounts PENDING for more than NIJA_CHECK_PENDING_DAYS; INACTIVE accounts whose credential
    secrets are still stored past NIJA_CREDENTIAL_RETENTION_DAYS (the erase task has not run)."""
    days = settings.NIJA_CHECK_PENDING_DAYS
    found = [_found(FindingKind.PENDING_TOO_LONG, f"PENDING since {a.created_at:%Y-%m-%d} (more than {days} days)",
                    account_id=a.pk, created_at=a.created_at, threshold_days=days)
             for a in accounts_pending_since(before=now - dt.timedelta(days=days))]
    retention = settings.NIJA_CREDENTIAL_RETENTION_DAYS
    for row in credentials_unerased_past(before=now - dt.timedelta(days=retention)):
        since = row["archived_at"] or row["exited_at"]
        found.append(_found(
            FindingKind.CREDENTIALS_NOT_ERASED,
            f"{row['venue']}/{row['label']} secrets still stored, archived {_since(since)} "
            f"(retention {retention} days)", account_id=row["account_id"], subject=row["credential_id"],
            venue=row["venue"], label=row["label"], archived_at=row["archived_at"], exited_at=row["exited_at"],
            retention_days=retention))
    return found


def check_audit_chain(*, now: dt.datetime) -> list[Found]:
    """The audit chain's last recorded verification (beat task or verify_audit_chain) failed, is
    older than NIJA_CHECK_AUDIT_VERIFY_MAX_AGE_HOURS, or never happened."""
    at, detail = heartbeats_read()[AUDIT_CHAIN_VERIFY]
    hours = settings.NIJA_CHECK_AUDIT_VERIFY_MAX_AGE_HOURS
    if at is None:
        return [_found(FindingKind.AUDIT_CHAIN_UNVERIFIED, "the audit chain has never been verified",
                       max_age_hours=hours)]
    if detail.get("valid") is False:
        return [_found(FindingKind.AUDIT_CHAIN_BROKEN,
                       f"audit chain broken at event #{detail.get('first_broken_seq')}: {detail.get('problem', '')}",
                       verified_at=at, first_broken_seq=detail.get("first_broken_seq"), problem=detail.get("problem"))]
    if at < now - dt.timedelta(hours=hours):
        return [_found(FindingKind.AUDIT_CHAIN_UNVERIFIED,
                       f"the audit chain was last verified {_since(at)} (more than {hours} hours ago)",
                       verified_at=at, max_age_hours=hours)]
    return []


def check_copy_orders(*, now: dt.datetime) -> list[Found]:
    """Signals of the last NIJA_CHECK_COPY_LOOKBACK_HOURS with FAILED copy orders; signals with
    orders SUBMITTING for more than NIJA_CHECK_SUBMITTING_STALE_MINUTES (reconciliation has not
    settled them)."""
    minutes = settings.NIJA_CHECK_SUBMITTING_STALE_MINUTES
    found: list[Found] = []
    for row in signals_with_copy_problems(since=now - dt.timedelta(hours=settings.NIJA_CHECK_COPY_LOOKBACK_HOURS),
                                          stuck_before=now - dt.timedelta(minutes=minutes)):
        title = f"signal #{row['signal_id']} {row['side']} {row['symbol']} of {row['received_at']:%Y-%m-%d %H:%M} UTC"
        facts = {"signal_id": row["signal_id"], "symbol": row["symbol"], "side": row["side"],
                 "received_at": row["received_at"], "accounts": row["accounts"]}
        if row["failed"]:
            found.append(_found(FindingKind.COPY_ORDERS_FAILED, f"{title}: {row['failed']} copy order(s) FAILED",
                                subject=row["signal_id"], failed=row["failed"], **facts))
        if row["stuck"]:
            found.append(_found(FindingKind.COPY_ORDERS_STUCK,
                                f"{title}: {row['stuck']} copy order(s) SUBMITTING for more than {minutes} minutes",
                                subject=row["signal_id"], stuck=row["stuck"], threshold_minutes=minutes, **facts))
    return found


# --- weekly ---------------------------------------------------------------------------------
def drawdown_and_streak(points: list[tuple[dt.date, Decimal]]) -> tuple[Decimal, int]:
    """Over daily unit NAVs (oldest first): the worst drawdown (a fraction <= 0, from the running
    peak, starting at the first day) and the longest run of losing days (unit NAV down on the day)."""
    peak, worst, streak, longest = None, Decimal(0), 0, 0
    previous = None
    for _, nav in points:
        peak = nav if peak is None or nav > peak else peak
        if peak > 0:
            worst = min(worst, nav / peak - 1)
        streak = streak + 1 if previous is not None and nav < previous else 0
        longest = max(longest, streak)
        previous = nav
    return worst, longest


def check_patterns(*, now: dt.datetime) -> list[Found]:
    """Weekly, over the last NIJA_WEEKLY_WINDOW_DAYS: unit-NAV drawdown beyond NIJA_WEEKLY_DRAWDOWN_PCT,
    NIJA_WEEKLY_LOSS_STREAK_DAYS or more losing days in a row, NIJA_WEEKLY_MISSED_COPIES or more
    copies that did not reach the account (skipped, rejected, failed)."""
    days = settings.NIJA_WEEKLY_WINDOW_DAYS
    end = now.date()
    start = end - dt.timedelta(days=days)
    limit_pct = Decimal(str(settings.NIJA_WEEKLY_DRAWDOWN_PCT))
    streak_days = settings.NIJA_WEEKLY_LOSS_STREAK_DAYS
    found: list[Found] = []
    for account_id, points in sorted(unit_navs_between(start=start, end=end).items()):
        worst, longest = drawdown_and_streak(points)
        pct = (-worst * HUNDRED).quantize(Decimal("0.01"))
        if pct >= limit_pct and pct > 0:
            found.append(_found(FindingKind.DRAWDOWN,
                                f"unit NAV drawdown of {pct}% over {days} days "
                                f"(threshold {format_decimal(limit_pct)}%)",
                                account_id=account_id, drawdown_pct=pct, threshold_pct=limit_pct, start=start, end=end))
        if longest >= streak_days:
            found.append(_found(FindingKind.LOSS_STREAK,
                                f"{longest} losing days in a row within {days} days (threshold {streak_days})",
                                account_id=account_id, losing_days=longest, threshold_days=streak_days,
                                start=start, end=end))
    threshold = settings.NIJA_WEEKLY_MISSED_COPIES
    since = now - dt.timedelta(days=days)
    for account_id, row in missed_copy_counts(since=since, min_count=threshold).items():
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(row["by_reason"].items(), key=lambda kv: -kv[1]))
        found.append(_found(FindingKind.MISSED_COPIES,
                            f"{row['missed']} missed copies in {days} days ({reasons})",
                            account_id=account_id, missed=row["missed"], by_reason=row["by_reason"],
                            threshold=threshold, since=since))
    return found


K = FindingKind
CHECKS: dict[str, tuple[Check, ...]] = {
    ComplianceRun.Kind.DAILY: (
        Check("credentials", check_credentials, (K.CREDENTIAL_MISSING, K.CREDENTIAL_FAILING),
              "ACTIVE accounts without a usable credential, or whose credential keeps failing"),
        Check("balances", check_balances, (K.BALANCE_STALE, K.BALANCE_UNAVAILABLE),
              "balances older than the threshold, or unavailable for several audits"),
        Check("risk_limits", check_risk_limits,
              (K.DAILY_LOSS_LIMIT, K.POSITION_CONCENTRATION, K.POSITION_NOTIONAL, K.EXPOSURE_LIMIT, K.POSITIONS_COUNT),
              "risk limit violations"),
        Check("reconciliation_breaks", check_reconciliation_breaks, (K.RECONCILIATION_BREAK,),
              "reconciliation breaks open for more than a day"),
        Check("lifecycle", check_lifecycle, (K.PENDING_TOO_LONG, K.CREDENTIALS_NOT_ERASED),
              "accounts PENDING too long, INACTIVE accounts' secrets kept past retention"),
        Check("audit_chain", check_audit_chain, (K.AUDIT_CHAIN_BROKEN, K.AUDIT_CHAIN_UNVERIFIED),
              "the audit chain's last verification"),
        # FAILED copy orders are events: they do not go away, so staff resolve those findings.
        Check("copy_orders", check_copy_orders, (K.COPY_ORDERS_STUCK,),
              "signals with FAILED or long-SUBMITTING copy orders"),
    ),
    ComplianceRun.Kind.WEEKLY: (
        Check("patterns", check_patterns, (K.DRAWDOWN, K.LOSS_STREAK, K.MISSED_COPIES),
              "drawdown, loss streaks and missed copies over the week"),
    ),
}
