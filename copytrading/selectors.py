"""Reads for the copy engine: engine mode, balances of many followers at once (no query per
follower), signal summaries and missed trades."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.selectors import accounts_copy_followers
from brokers.selectors import balance_rows_first_ok_since, balance_rows_latest_ok
from core.assets import CASH_ASSETS  # count toward equity, never toward open positions
from core.decimals import to_jsonable
from core.errors import ApplicationError

from .models import CopyFill, CopyOrder, CopySettings, EngineMode, MasterSignal
from .sizing import RiskLimits

# Holdings worth less than this (USD) are dust, not an open position.
POSITION_DUST_USD = Decimal("1")


def engine_mode_get() -> str:
    return EngineMode.current().mode


def engine_mode_read() -> str:
    """The global mode without writing anything (a read-only page): the default until one is set."""
    row = EngineMode.objects.filter(id=1).values_list("mode", flat=True).first()
    return row or EngineMode._meta.get_field("mode").default


@dataclass
class BalanceFacts:
    """One account's latest good balances, summed over its credentials."""

    equity_usd: Decimal | None = None
    fetched_at: dt.datetime | None = None  # the oldest of the latest fetches: freshness is the weakest link
    holdings: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # venue -> asset -> total
    positions: dict[str, Decimal] = field(default_factory=dict)  # asset -> USD value (non-cash, above dust)
    start_of_day_equity: Decimal | None = None
    unpriced_assets: list[str] = field(default_factory=list)


_RISK_FIELDS = ("max_position_notional", "max_position_pct", "max_concurrent_positions", "allowed_instruments",
                "blocked_instruments", "leverage_limit", "max_daily_loss_amount", "max_daily_loss_pct",
                "stop_loss_required", "stop_loss_pct", "max_slippage_pct", "min_balance_to_copy")
_COPY_FIELDS = ("copy_enabled", "sizing_mode", "multiplier", "fixed_notional")


def followers_read(*, after_id: int = 0, limit: int | None = None) -> list[SimpleNamespace]:
    """The accounts the engine copies to (ACTIVE USER accounts with trading on), in id order, with
    their limits and copy settings read as plain values in one query (thousands of followers: no
    model instances). `after_id`/`limit` read one batch of them (the daily loss watcher)."""
    rows = (accounts_copy_followers().filter(id__gt=after_id)
            .order_by("id").values("id", "user_id", "copy_settings__id",
                                   *(f"risk_profile__{f}" for f in _RISK_FIELDS),
                                   *(f"copy_settings__{f}" for f in _COPY_FIELDS)))
    if limit is not None:
        rows = rows[:limit]
    followers = []
    for row in rows:
        risk = SimpleNamespace(**{f: row[f"risk_profile__{f}"] for f in _RISK_FIELDS})
        copy = (SimpleNamespace(**{f: row[f"copy_settings__{f}"] for f in _COPY_FIELDS})
                if row["copy_settings__id"] else None)
        followers.append(SimpleNamespace(id=row["id"], user_id=row["user_id"], limits=RiskLimits.from_profile(risk),
                                         copy_settings=copy))
    return followers


_SNAPSHOT_COLUMNS = ("account_id", "venue", "asset", "total", "usd_value", "fetched_at")


def balances_for_accounts(*, account_ids: list[int], now: dt.datetime | None = None) -> dict[int, BalanceFacts]:
    """Latest good snapshot per credential (brokers' one definition), for many accounts in two
    queries. An account with no good snapshot is absent (never a zero balance)."""
    now = now or timezone.now()
    facts: dict[int, BalanceFacts] = {}
    ids = list(account_ids)
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        for account_id, venue, asset, total, usd_value, fetched_at in balance_rows_latest_ok(
                account_ids=chunk, columns=_SNAPSHOT_COLUMNS):
            f = facts.setdefault(account_id, BalanceFacts(equity_usd=Decimal("0")))
            f.fetched_at = fetched_at if f.fetched_at is None else min(f.fetched_at, fetched_at)
            if not asset:
                continue
            asset = asset.upper()
            holdings = f.holdings.setdefault(venue, {})
            holdings[asset] = holdings.get(asset, Decimal("0")) + (total or Decimal("0"))
            if usd_value is None:
                if total:
                    f.unpriced_assets.append(asset)
                continue
            f.equity_usd += usd_value
            if asset not in CASH_ASSETS and usd_value >= POSITION_DUST_USD:
                f.positions[asset] = f.positions.get(asset, Decimal("0")) + usd_value
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start_equity: dict[int, Decimal] = defaultdict(Decimal)
        # only the two columns summed: thousands of rows, each datetime costs a conversion
        for account_id, usd_value in balance_rows_first_ok_since(account_ids=chunk, since=day_start,
                                                                 columns=("account_id", "usd_value")):
            start_equity[account_id] += usd_value or Decimal("0")
        for account_id, value in start_equity.items():
            if account_id in facts:
                facts[account_id].start_of_day_equity = value
    return facts


# --- visibility -------------------------------------------------------------------------------
def copy_settings_for(*, account) -> CopySettings:
    """The account's copy switch and sizing, or unsaved defaults when none were stored."""
    return CopySettings.objects.filter(account=account).first() or CopySettings(account=account)


def signal_get(*, signal_id: int | str) -> MasterSignal:
    try:
        return MasterSignal.objects.get(pk=int(signal_id))
    except (ValueError, MasterSignal.DoesNotExist):
        raise ApplicationError(f"no signal with id '{signal_id}'", code="not_found") from None


def signal_counts(*, signal: MasterSignal) -> dict:
    """{"planned", "observed", "skipped", "by_reason"}; planned counts every order that was or
    will be sent (PLANNED and beyond), observed the OBSERVE-mode plans."""
    rows = CopyOrder.objects.filter(signal=signal).values("status", "reason").annotate(n=Count("id"))
    counts = {"planned": 0, "observed": 0, "skipped": 0, "by_reason": {}, "by_status": {}}
    for row in rows:
        status, n = row["status"], row["n"]
        counts["by_status"][status] = counts["by_status"].get(status, 0) + n
        if status == CopyOrder.Status.SKIPPED:
            counts["skipped"] += n
            counts["by_reason"][row["reason"]] = counts["by_reason"].get(row["reason"], 0) + n
        elif status == CopyOrder.Status.OBSERVED:
            counts["observed"] += n
        else:
            counts["planned"] += n
    return counts


def signal_outcome(*, signal: MasterSignal, planning: str) -> dict:
    """What a signal's sender is told (the webhook's response, `submit_signal --json`): its id,
    status, what happened to its plan (`signal_planning_state`), why it was not copied, and how
    many copies were planned, observed and skipped, amounts as strings."""
    counts = signal_counts(signal=signal)
    return to_jsonable({
        "signal_id": signal.pk, "status": signal.status, "planning": planning,
        "reason": signal.status_reason or None,
        "copy_orders": {k: counts[k] for k in ("planned", "observed", "skipped", "by_reason")},
    })


def signal_summary(*, signal: MasterSignal) -> dict:
    return {
        "signal_id": signal.pk, "status": signal.status, "mode": signal.mode, "source": signal.source,
        "source_id": signal.source_id, "venue": signal.venue, "symbol": signal.symbol, "side": signal.side,
        "amount": signal.amount, "price": signal.price, "order_type": signal.order_type,
        "master_order_id": signal.master_order_id, "executed_at": signal.executed_at,
        "exit_fraction": signal.exit_fraction, "received_at": signal.received_at,
    }


def signal_copy_orders(*, signal: MasterSignal) -> QuerySet[CopyOrder]:
    return CopyOrder.objects.filter(signal=signal).select_related("account").order_by("account__user_id")


def copy_order_row(order: CopyOrder) -> dict:
    """The per-order shape of show_signal --json."""
    return {
        "account": order.account.user_id, "quantity": order.quantity, "notional": order.notional,
        "status": order.status, "reason": order.reason, "client_order_id": order.client_order_id,
    }


# The statuses of a copy that did not reach its account (the admin's missed-trades page).
MISSED_STATUSES = (CopyOrder.Status.SKIPPED, CopyOrder.Status.REJECTED, CopyOrder.Status.FAILED)


def missed_copies_for_account(*, account) -> QuerySet[CopyOrder]:
    """Master signals that were not copied to this account (skipped, rejected, failed), newest first,
    with their signal: the investor's Missed trades page."""
    return (CopyOrder.objects.filter(account=account, status__in=MISSED_STATUSES).select_related("signal")
            .order_by("-created_at", "-id"))


def copy_fills_for_ledger(*, account=None, since: dt.datetime | None = None) -> QuerySet[CopyFill]:
    """Stored copy fills (of one account, or all) with their order and account, oldest first;
    `since` compares when reconciliation stored a fill, so late fills are not missed."""
    qs = CopyFill.objects.select_related("copy_order", "copy_order__account")
    if account is not None:
        qs = qs.filter(copy_order__account=account)
    if since is not None:
        qs = qs.filter(recorded_at__gte=since)
    return qs.order_by("occurred_at")


def entry_stop_prices(*, account, limit: int = 200) -> list[tuple[str, Decimal]]:
    """(symbol, stop price) of the account's filled copy entries that have a stop, newest first."""
    return list(CopyOrder.objects.filter(account=account, is_exit=False, stop_price__isnull=False,
                                         status__in=[CopyOrder.Status.FILLED, CopyOrder.Status.PARTIALLY_FILLED])
                .order_by("-created_at").values_list("symbol", "stop_price")[:limit])


def orders_needing_reconcile(*, stale_before: dt.datetime, limit: int = 500, after_id: int = 0) -> QuerySet[CopyOrder]:
    """Open orders, planned or claimed orders whose task went quiet (lost with a dead worker), and
    filled orders whose fills are not stored; in id order after `after_id` (one batch)."""
    return (CopyOrder.objects.filter(pk__gt=after_id).filter(
        Q(status=CopyOrder.Status.OPEN)
        | Q(status=CopyOrder.Status.PLANNED, created_at__lt=stale_before)
        | Q(status=CopyOrder.Status.SUBMITTING, claimed_at__lt=stale_before)
        | Q(status__in=[CopyOrder.Status.FILLED, CopyOrder.Status.PARTIALLY_FILLED], fills_synced=False)
    ).order_by("id")[:limit])


def signals_received_before(*, before: dt.datetime, limit: int) -> list[MasterSignal]:
    """Stored signals still waiting for their plan, oldest first."""
    return list(MasterSignal.objects.filter(status=MasterSignal.Status.RECEIVED, received_at__lt=before)
                .order_by("received_at", "id")[:limit])


def signal_planning_state(signal: MasterSignal, *, queued: bool | None = None) -> str:
    """What a sender is told about a signal's plan (the webhook never waits for it). `queued` is
    False when the task broker refused the planning task."""
    if signal.status == MasterSignal.Status.EXPIRED:
        return "not planned: expired"
    if signal.status != MasterSignal.Status.RECEIVED:
        return "done"
    if queued is False:
        return "accepted, planning queued"  # broker down: the pending-signal sweep plans it
    return "queued"


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def signals_filtered(*, status: str | None = None, symbol: str | None = None, mode: str | None = None,
                     since: dt.date | None = None, until: dt.date | None = None) -> QuerySet[MasterSignal]:
    """Master signals for the staff list, unordered (a paginator orders them); days are UTC and
    inclusive, on the time the signal was received."""
    qs = MasterSignal.objects.all()
    exact = {"status": status, "symbol": symbol, "mode": mode}
    qs = qs.filter(**{k: v for k, v in exact.items() if v is not None})
    if since:
        qs = qs.filter(received_at__gte=_day_start(since))
    if until:
        qs = qs.filter(received_at__lt=_day_start(until + dt.timedelta(days=1)))
    return qs


def signal_status_counts(*, signal_ids: list[int]) -> dict[int, dict[str, int]]:
    """Copy orders per signal and status, for a page of signals in one query."""
    counts: dict[int, dict[str, int]] = {pk: {} for pk in signal_ids}
    rows = (CopyOrder.objects.filter(signal_id__in=signal_ids).values("signal_id", "status")
            .annotate(n=Count("id")).order_by())
    for row in rows:
        counts[row["signal_id"]][row["status"]] = row["n"]
    return counts


def signal_find(*, signal_id: int) -> MasterSignal | None:
    return MasterSignal.objects.filter(pk=signal_id).first()


def copy_orders_filtered(*, signal_id: int | None = None, status: str | None = None, reason: str | None = None,
                         user_id: str | None = None, missed_only: bool = False,
                         since: dt.date | None = None, until: dt.date | None = None) -> QuerySet[CopyOrder]:
    """Copy orders with their account's user id, unordered (a paginator orders them);
    `missed_only` keeps the copies that did not reach their account (MISSED_STATUSES)."""
    qs = CopyOrder.objects.select_related("account")
    if missed_only:
        qs = qs.filter(status__in=MISSED_STATUSES)
    exact = {"signal_id": signal_id, "status": status, "reason": reason, "account__user_id": user_id}
    qs = qs.filter(**{k: v for k, v in exact.items() if v is not None})
    if since:
        qs = qs.filter(created_at__gte=_day_start(since))
    if until:
        qs = qs.filter(created_at__lt=_day_start(until + dt.timedelta(days=1)))
    return qs


def engine_mode_state() -> dict:
    """The global engine mode, since when and who set it (the dashboard's header)."""
    current = EngineMode.current()
    return {"mode": current.mode, "changed_at": current.changed_at, "changed_by": current.changed_by,
            "reason": current.reason}


def signal_latest() -> MasterSignal | None:
    return MasterSignal.objects.order_by("-received_at", "-id").first()


def signals_with_copy_problems(*, since: dt.datetime, stuck_before: dt.datetime, limit: int = 200) -> list[dict]:
    """Signals received since `since` with FAILED copy orders, or orders SUBMITTING since before
    `stuck_before` (claimed, no answer recorded): {"signal_id", "symbol", "side", "received_at",
    "failed", "stuck", "accounts" (up to 10 user ids)}, oldest first, at most `limit` signals."""
    problem = Q(status=CopyOrder.Status.FAILED) | Q(status=CopyOrder.Status.SUBMITTING, claimed_at__lt=stuck_before)
    counted = (CopyOrder.objects.filter(problem, signal__received_at__gte=since).order_by()
               .values("signal_id")
               .annotate(failed=Count("id", filter=Q(status=CopyOrder.Status.FAILED)),
                         stuck=Count("id", filter=Q(status=CopyOrder.Status.SUBMITTING)))
               .order_by("signal_id")[:limit])
    by_signal = {row["signal_id"]: row for row in counted}
    if not by_signal:
        return []
    accounts: dict[int, list[str]] = defaultdict(list)
    for signal_id, user_id in (CopyOrder.objects.filter(problem, signal_id__in=list(by_signal))
                               .order_by("signal_id", "account__user_id").values_list("signal_id", "account__user_id")):
        if len(accounts[signal_id]) < 10:
            accounts[signal_id].append(user_id)
    signals = MasterSignal.objects.filter(pk__in=list(by_signal)).order_by("received_at", "pk")
    return [{"signal_id": s.pk, "symbol": s.symbol, "side": s.side, "received_at": s.received_at,
             "failed": by_signal[s.pk]["failed"], "stuck": by_signal[s.pk]["stuck"], "accounts": accounts[s.pk]}
            for s in signals]


def missed_copy_counts(*, since: dt.datetime, min_count: int = 1) -> dict[int, dict]:
    """account id -> {"missed": n, "by_reason": {reason or status: n}} of the copies planned since
    `since` that did not reach the account (MISSED_STATUSES), for accounts with at least `min_count`."""
    rows = (CopyOrder.objects.filter(status__in=MISSED_STATUSES, created_at__gte=since).order_by()
            .values("account_id", "status", "reason").annotate(n=Count("id")))
    found: dict[int, dict] = {}
    for row in rows:
        entry = found.setdefault(row["account_id"], {"missed": 0, "by_reason": {}})
        label = row["reason"] or row["status"].lower()
        entry["missed"] += row["n"]
        entry["by_reason"][label] = entry["by_reason"].get(label, 0) + row["n"]
    return {k: v for k, v in sorted(found.items()) if v["missed"] >= min_count}
