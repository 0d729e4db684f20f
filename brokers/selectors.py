"""Reads of balances. Everything is built from each credential's LATEST snapshot rows (flags kept
by the audit): the latest good reading gives the figures; a latest fetch that failed makes the
venue "unavailable" with its error, next to the last good value and its age, never a zero."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Case, Count, F, JSONField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.choices import AccountKind, AccountStatus
from accounts.selectors import account_rows, account_rows_in, accounts_in
from core.decimals import money_round
from core.fields import AmountField

from .models import AccountBalanceTotal, Alert, BalanceSnapshot, BrokerCredential

if TYPE_CHECKING:
    from accounts.models import Account


@dataclass(frozen=True)
class EquityReading:
    total_usd: Decimal
    fetched_at: dt.datetime
    venues: dict[str, Decimal]


@dataclass
class VenueBalance:
    venue: str
    usd: Decimal | None  # None when unavailable
    fetched_at: dt.datetime | None
    error: str = ""
    last_good: Decimal | None = None
    last_good_at: dt.datetime | None = None
    assets: dict[str, Decimal] = field(default_factory=dict)  # asset -> total quantity (latest good)

    @property
    def available(self) -> bool:
        return self.usd is not None


@dataclass(frozen=True)
class AccountRef:
    """What the balance views need of an account, read as plain values: building thousands of
    model instances (with their risk profiles) costs more than the balance rows themselves."""
    pk: int
    user_id: str
    full_name: str
    kind: str
    status: str
    account_type: str
    tier: str
    trading_enabled: bool

    @property
    def is_master(self) -> bool:
        return self.kind == AccountKind.MASTER


@dataclass
class AccountBalances:
    account: Account | AccountRef
    venues: dict[str, VenueBalance]

    @property
    def total_usd(self) -> Decimal:
        return sum((v.usd for v in self.venues.values() if v.available), Decimal(0))

    @property
    def has_figures(self) -> bool:
        return any(v.available for v in self.venues.values())

    @property
    def unavailable(self) -> list[VenueBalance]:
        return [v for v in self.venues.values() if not v.available]


def _active_credentials() -> Q:
    # An UNVERIFIED key is shown too: its failed verification is "unavailable (why)", and it has no
    # good reading to count until the audit has verified it (then it is ACTIVE).
    return Q(credential__status__in=[BrokerCredential.Status.ACTIVE, BrokerCredential.Status.UNVERIFIED])


def balance_rows_latest_ok(*, account_ids: list[int], columns: tuple[str, ...]) -> list[tuple]:
    """THE latest good balance reading: the rows of each active credential's latest successful
    fetch (the `is_latest_ok` flag the audit keeps), as tuples of `columns`. Sizing, totals and
    the balance table all read this one definition."""
    rows = BalanceSnapshot.objects.filter(_active_credentials(), account_id__in=account_ids, is_latest_ok=True)
    return list(rows.values_list(*columns))


def balance_rows_first_ok_since(*, account_ids: list[int], since: dt.datetime,
                                columns: tuple[str, ...]) -> list[tuple]:
    """The rows of each active credential's FIRST successful fetch at or after `since` (the
    start-of-day equity the daily loss limit compares against)."""
    first = (BalanceSnapshot.objects.filter(account_id=OuterRef("account_id"), credential_id=OuterRef("credential_id"),
                                            status=BalanceSnapshot.Status.OK, fetched_at__gte=since)
             .order_by("fetched_at").values("fetched_at")[:1])
    rows = BalanceSnapshot.objects.filter(_active_credentials(), account_id__in=account_ids,
                                          status=BalanceSnapshot.Status.OK, fetched_at__gte=since,
                                          fetched_at=Subquery(first))
    return list(rows.values_list(*columns))


def credential_rows_active(*, account_ids) -> list[dict]:
    """The active credentials of these accounts (a list of ids or a subquery of them), as plain
    {"id", "account_id", "venue", "is_paper"} rows in id order."""
    return list(BrokerCredential.objects.filter(account__in=account_ids, status=BrokerCredential.Status.ACTIVE)
                .order_by("id").values("id", "account_id", "venue", "is_paper"))


def credentials_active_of(*, account) -> list[BrokerCredential]:
    """One account's ACTIVE credentials, in id order (an unverified, disabled or archived key is absent)."""
    return list(BrokerCredential.objects.filter(account=account, status=BrokerCredential.Status.ACTIVE).order_by("id"))


def credential_find(*, venue: str, label: str = "default", account=None,
                    user_id: str | None = None) -> BrokerCredential | None:
    """The credential of an account (given, or by user_id) for a venue and label, or None."""
    qs = BrokerCredential.objects.filter(venue=venue, label=label)
    qs = qs.filter(account=account) if account is not None else qs.filter(account__user_id=user_id)
    return qs.first()


def credentials_exist(*, accounts, venue: str) -> bool:
    """Whether any of these accounts has a credential (whatever its status) for the venue."""
    return BrokerCredential.objects.filter(account__in=list(accounts), venue=venue).exists()


def credential_get(*, credential_id: int) -> BrokerCredential:
    return BrokerCredential.objects.select_related("account").get(pk=credential_id)


def credential_exists(*, account, venue: str, label: str) -> bool:
    """Whether adding (account, venue, label) would replace a stored key."""
    return BrokerCredential.objects.filter(account=account, venue=(venue or "").strip().lower(),
                                           label=(label or "default").strip()).exists()


def credentials_master_active() -> list[BrokerCredential]:
    """The MASTER account's active credentials, in id order."""
    return list(BrokerCredential.objects.filter(account__kind=AccountKind.MASTER, status=BrokerCredential.Status.ACTIVE)
                .order_by("id"))


def credentials_by_id(*, ids) -> dict[int, BrokerCredential]:
    """These credentials by id, whatever their status (the caller decides what a status means)."""
    return {c.pk: c for c in BrokerCredential.objects.filter(pk__in=ids)}


def credentials_active_by_id(*, ids) -> dict[int, BrokerCredential]:
    """The active credentials among `ids`, by id (an archived or disabled one is absent)."""
    return {c.pk: c for c in BrokerCredential.objects.filter(pk__in=ids, status=BrokerCredential.Status.ACTIVE)}


def account_totals_latest_ok(*, account_ids: list[int]) -> dict[int, Decimal]:
    """USD total of each account's latest good readings (accounts without one are absent)."""
    totals: dict[int, Decimal] = {}
    for account_id, usd in balance_rows_latest_ok(account_ids=account_ids, columns=("account_id", "usd_value")):
        totals[account_id] = totals.get(account_id, Decimal(0)) + (usd or Decimal(0))
    return totals


def account_equity_usd(*, account: Account) -> EquityReading | None:
    """Equity for sizing: the sum of the account's latest good snapshots over its active
    credentials. `fetched_at` is the OLDEST reading that went into the total."""
    rows = balance_rows_latest_ok(account_ids=[account.pk], columns=("venue", "usd_value", "fetched_at"))
    if not rows:
        return None
    venues: dict[str, Decimal] = defaultdict(Decimal)
    for venue, usd, _ in rows:
        venues[venue] += usd or Decimal(0)
    return EquityReading(total_usd=sum(venues.values(), Decimal(0)), fetched_at=min(r[2] for r in rows),
                         venues=dict(venues))


def position_quantity(*, account: Account, venue: str, asset: str) -> Decimal:
    rows = balance_rows_latest_ok(account_ids=[account.pk], columns=("venue", "asset", "total"))
    venue, asset = venue.lower(), asset.upper()
    return sum((q or Decimal(0) for v, a, q in rows if v == venue and a == asset), Decimal(0))


def credential_rows(*, account: Account) -> list[dict]:
    """The account's keys as an operator checks them: venue, label, enabled, status, hint; no secret."""
    return [
        # An UNVERIFIED key is enabled (it trades once the balance audit has verified it).
        {"venue": c.venue, "label": c.label,
         "enabled": c.status in (BrokerCredential.Status.ACTIVE, BrokerCredential.Status.UNVERIFIED),
         "status": c.status, "key_hint": c.masked_key if c.hint else "", "paper": c.is_paper,
         "verified": bool((c.permissions or {}).get("checked")), "last_verified_at": c.last_verified_at}
        for c in BrokerCredential.objects.filter(account=account).order_by("venue", "label")
    ]


def credentials_stale(*, max_age_seconds: int, account_ids: list[int] | None = None,
                      now: dt.datetime | None = None) -> list[BrokerCredential]:
    """Active credentials whose latest fetch (good or failed) is older than max_age, or missing."""
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=max_age_seconds)
    qs = BrokerCredential.objects.filter(status=BrokerCredential.Status.ACTIVE).exclude(
        account__status=AccountStatus.INACTIVE
    )
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    fresh = set(
        BalanceSnapshot.objects.filter(is_latest=True, fetched_at__gte=cutoff).values_list("credential_id", flat=True)
    )
    return [c for c in qs if c.pk not in fresh]


def _balances(accounts: list[Account] | list[AccountRef]) -> dict[int, AccountBalances]:
    result = {a.pk: AccountBalances(account=a, venues={}) for a in accounts}
    rows = (
        BalanceSnapshot.objects.filter(_active_credentials(), account_id__in=list(result))
        .filter(Q(is_latest=True) | Q(is_latest_ok=True))
        .values_list("account_id", "credential_id", "venue", "asset", "total", "usd_value", "fetched_at", "status",
                     "error", "is_latest", "is_latest_ok")
    )
    # Per credential: the latest good reading and whether the latest attempt failed.
    good: dict[int, list] = defaultdict(list)
    failed: dict[int, tuple] = {}
    owner: dict[int, tuple[int, str]] = {}
    for account_id, cred_id, venue, asset, total, usd, at, status, error, latest, latest_ok in rows:
        owner[cred_id] = (account_id, venue)
        if latest_ok:
            good[cred_id].append((asset, total, usd, at))
        if latest and status == BalanceSnapshot.Status.FAILED:
            failed[cred_id] = (error, at)
    for cred_id, (account_id, venue) in owner.items():
        entry = result[account_id].venues.get(venue)
        readings = good.get(cred_id, [])
        good_usd = sum((r[2] or Decimal(0) for r in readings), Decimal(0)) if readings else None
        good_at = min(r[3] for r in readings) if readings else None
        if entry is None:
            entry = result[account_id].venues[venue] = VenueBalance(venue=venue, usd=Decimal(0), fetched_at=None)
        for asset, total, _, _ in readings:
            entry.assets[asset] = entry.assets.get(asset, Decimal(0)) + (total or Decimal(0))
        if cred_id in failed:
            # One failed credential makes the venue's figure unknown: show unavailable, not a partial sum.
            error, at = failed[cred_id]
            entry.error = "; ".join(e for e in (entry.error, error) if e)
            entry.fetched_at = max(filter(None, [entry.fetched_at, at]))
            entry.usd = None
        elif entry.usd is not None:
            entry.usd += good_usd or Decimal(0)
            entry.fetched_at = min(filter(None, [entry.fetched_at, good_at])) if good_at else entry.fetched_at
        if good_usd is not None:
            entry.last_good = (entry.last_good or Decimal(0)) + good_usd
            entry.last_good_at = min(filter(None, [entry.last_good_at, good_at]))
    for balances in result.values():
        balances.venues = dict(sorted(balances.venues.items()))
    return result


def _covered_credentials() -> QuerySet[BrokerCredential]:
    """The credentials whose accounts the balance views cover: active, account not INACTIVE."""
    return BrokerCredential.objects.filter(status=BrokerCredential.Status.ACTIVE).exclude(
        account__status=AccountStatus.INACTIVE)


def _accounts_with_credentials(user_id: str | None = None) -> list[AccountRef]:
    owners = _covered_credentials()
    if user_id:
        owners = (owners.filter(account__user_id=user_id) if user_id != "master"
                  else owners.filter(account__kind=AccountKind.MASTER))
    return [AccountRef(**row) for row in account_rows_in(ids=owners.values("account_id"))]


def balances_all(*, user_id: str | None = None) -> list[AccountBalances]:
    """Every account with an active credential: the MASTER first, then users by total, highest first."""
    accounts = _accounts_with_credentials(user_id)
    by_id = _balances(accounts)
    master = [b for b in by_id.values() if b.account.is_master]
    users = sorted((b for b in by_id.values() if not b.account.is_master),
                   key=lambda b: (-b.total_usd, b.account.user_id))
    return master + users


def balance_account_rows(*, unavailable_only: bool = False, venue: str | None = None,
                         search: str | None = None) -> QuerySet:
    """The accounts the balance views cover (an active credential, not INACTIVE) as a values
    queryset of AccountRef rows, for a paginator; `unavailable_only` keeps those with a venue whose
    latest fetch failed, `venue` those with a credential there."""
    owners = _covered_credentials()
    if venue:
        owners = owners.filter(venue=venue)
    ids = owners.values("account_id")
    if unavailable_only:
        failed = BalanceSnapshot.objects.filter(_active_credentials(), is_latest=True,
                                                status=BalanceSnapshot.Status.FAILED)
        ids = failed.filter(account_id__in=ids).values("account_id")
    return account_rows(ids=ids, search=search)


def balances_of(*, account_rows: list[dict]) -> list[AccountBalances]:
    """Balances of these accounts (rows of `balance_account_rows`), in the rows' order."""
    refs = [AccountRef(**row) for row in account_rows]
    by_id = _balances(refs)
    return [by_id[ref.pk] for ref in refs]


class RankedAccounts:
    """`accounts` ranked by their stored USD total over the available venues (AccountBalanceTotal),
    highest first, equal totals in onboarding order; accounts with no figure (no available venue)
    after them, and accounts that never had a key (no stored summary) last, by user id: never as $0.
    Paginator takes it like a queryset (count, slices, iteration). The ranked part is read in the
    order of the stored summaries' rank index, so a page costs a walk of that index, not a sort of
    every account (10,000 accounts: 0.1 ms against 17 ms); the unranked part is read only when a
    page reaches it."""

    ordered = True  # Paginator's check: the order is the ranking

    def __init__(self, accounts: QuerySet) -> None:
        self._ranked = (accounts.filter(balance_summary__isnull=False)
                        .annotate(balance_total=F("balance_summary__total_usd"))
                        .order_by(F("balance_total").desc(nulls_last=True), "pk"))
        self._unranked = (accounts.filter(balance_summary__isnull=True)
                          .annotate(balance_total=Value(None, output_field=AmountField())).order_by("user_id"))
        self._accounts = accounts
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            self._count = self._accounts.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list:
        if not isinstance(key, slice) or key.step is not None:
            raise TypeError("RankedAccounts takes slices without a step")
        start, stop, _ = key.indices(self.count())
        if stop <= start:
            return []
        rows = list(self._ranked[start:stop])
        if len(rows) == stop - start:
            return rows
        # The page reaches past the ranked accounts: where they end, then the unranked ones.
        ranked_count = start + len(rows) if rows else self._ranked.count()
        return rows + list(self._unranked[max(0, start - ranked_count):stop - ranked_count])

    def __iter__(self):
        return iter(self[:])


def accounts_ranked_by_total(*, accounts: QuerySet) -> RankedAccounts:
    """`accounts` (an Account queryset from accounts.selectors) by stored total, highest first: see
    RankedAccounts. A page costs the same at 10 or 10,000 accounts."""
    return RankedAccounts(accounts)


def balances_of_accounts(*, accounts: list) -> list[AccountBalances]:
    """Balances of these accounts (model instances or AccountRefs), in their order."""
    by_id = _balances(accounts)
    return [by_id[a.pk] for a in accounts]


def balance_audit_last_at() -> dt.datetime | None:
    """When the balance audit last fetched any credential (good or failed)."""
    return BalanceSnapshot.objects.filter(is_latest=True).aggregate(last=Max("fetched_at"))["last"]


def alerts_filtered(*, status: str | None = None, kind: str | None = None,
                    user_id: str | None = None) -> QuerySet[Alert]:
    """Alerts with their account's user id, unordered (a paginator orders them)."""
    qs = Alert.objects.select_related("account")
    exact = {"status": status, "kind": kind, "account__user_id": user_id}
    return qs.filter(**{k: v for k, v in exact.items() if v is not None})


def alert_open_counts() -> dict[str, int]:
    """Open alerts by kind (the dashboard's header strip)."""
    rows = Alert.objects.filter(status=Alert.Status.OPEN).values("kind").annotate(n=Count("id")).order_by("kind")
    return {row["kind"]: row["n"] for row in rows}


def balance_user_by_venue(*, account: Account) -> AccountBalances:
    return _balances([account])[account.pk]


def balances_for_accounts(*, account_ids: list[int]) -> list[AccountBalances]:
    """These accounts' balances by venue (latest good reading per asset, or unavailable with the
    error), in account id order; an account without an active credential has no venues."""
    by_id = _balances(list(accounts_in(ids=account_ids)))
    return [by_id[pk] for pk in sorted(by_id)]


def balance_summary(*, balances: list[AccountBalances] | None = None) -> dict:
    """Totals of the available figures only; users are sorted by total, highest first. A user
    whose every venue is unavailable is not counted (their capital is unknown, not zero).
    `balance_totals` reads the same totals from the stored summaries, for pages that need no
    per-user map."""
    balances = balances_all() if balances is None else balances
    master = next((b for b in balances if b.account.is_master), None)
    users = sorted((b for b in balances if not b.account.is_master and b.has_figures),
                   key=lambda b: (-b.total_usd, b.account.user_id))
    total = sum((b.total_usd for b in users), Decimal(0))
    return {
        "master_total": money_round(master.total_usd) if master and master.has_figures else None,
        "user_totals": {b.account.user_id: money_round(b.total_usd) for b in users},
        "total_user_capital": money_round(total),
        "user_count": len(users),
        "average_per_user": money_round(total / len(users)) if users else None,
    }


def _summaries_covered() -> QuerySet[AccountBalanceTotal]:
    """The stored balance summaries of the accounts the balance views cover (`_covered_credentials`:
    an ACTIVE key, stored with the figures; account not INACTIVE, read now)."""
    return AccountBalanceTotal.objects.filter(has_active_key=True).exclude(account__status=AccountStatus.INACTIVE)


def balance_totals() -> dict:
    """`balance_summary`'s totals (without the per-user map) from the stored summaries, in one
    aggregate: available venues only; a user with none is not counted; the MASTER's total is None
    when it has no available venue."""
    users, master = Q(account__kind=AccountKind.USER), Q(account__kind=AccountKind.MASTER)
    found = _summaries_covered().aggregate(
        total=Sum("total_usd", filter=users), count=Count("total_usd", filter=users),
        master=Sum("total_usd", filter=master), masters=Count("total_usd", filter=master))
    total, count = found["total"] or Decimal(0), found["count"]
    return {
        "master_total": money_round(found["master"]) if found["masters"] else None,
        "total_user_capital": money_round(total),
        "user_count": count,
        "average_per_user": money_round(total / count) if count else None,
    }


def balances_unavailable() -> list[dict]:
    """Every covered venue whose latest fetch failed, once, by user id and venue: {"user_id",
    "venue", "error"} (the errors of its failing keys joined; the dashboard lists them next to the
    totals that leave them out). From the stored summaries: only the accounts that have one."""
    rows = (_summaries_covered().exclude(unavailable=[]).order_by("account__user_id")
            .values_list("account__user_id", "unavailable"))
    return [{"user_id": user_id, "venue": venue["venue"], "error": venue["error"]}
            for user_id, unavailable in rows for venue in unavailable]


def balance_report(*, user_id: str | None = None) -> dict:
    """The exact JSON shape of `show_user_balances --json` (amounts as Decimals here; the command
    serializes them as strings)."""
    balances = balances_all(user_id=user_id)
    report_balances: dict = {"master": {}, "users": {}}
    unavailable = []
    for entry in balances:
        figures = {v.venue: money_round(v.usd) for v in entry.venues.values() if v.available}
        if entry.account.is_master:
            report_balances["master"] = figures
        elif figures:
            report_balances["users"][entry.account.user_id] = figures
        for row in _unavailable_rows(entry):
            last_good = row["last_good"]
            unavailable.append({"account": entry.account.user_id, **row,
                                "last_good": money_round(last_good) if last_good is not None else None})
    return {
        "timestamp": timezone.now(),
        "balances": report_balances,
        "summary": balance_summary(balances=balances),
        "unavailable": unavailable,
    }


def audit_account_ids_batch(*, after_id: int = 0, limit: int) -> list[int]:
    """Ids of the accounts the balance audit covers (an active or unverified credential, account not INACTIVE),
    in id order after `after_id`: one batch of the audit task, which queues itself for the next."""
    return list(
        BrokerCredential.objects.filter(status__in=[BrokerCredential.Status.ACTIVE, BrokerCredential.Status.UNVERIFIED],
                                        account_id__gt=after_id)
        .exclude(account__status=AccountStatus.INACTIVE)
        .order_by("account_id").values_list("account_id", flat=True).distinct()[:limit]
    )


def _unavailable_rows(entry: AccountBalances) -> list[dict]:
    return [{"venue": v.venue, "error": v.error, "last_good": v.last_good, "last_good_at": v.last_good_at}
            for v in entry.unavailable]


def _unavailable_read(venue: dict) -> dict:
    last_good, last_good_at = venue["last_good"], venue["last_good_at"]
    return {"venue": venue["venue"], "error": venue["error"],
            "last_good": None if last_good is None else Decimal(last_good),
            "last_good_at": None if last_good_at is None else dt.datetime.fromisoformat(last_good_at)}


def balance_users_summary() -> dict:
    """The users' balance summary as the balance guide documents it for `GET /api/users` (Decimals
    here; the API rounds them): the `balance_summary` totals, and every user with their available
    venues and, listed apart and never counted, the unavailable ones. Highest total first; a user
    with no available venue has no total (null) and comes last. Read from the stored summaries
    (AccountBalanceTotal) in one query, already in that order; the totals are the sum of the
    listed users' totals."""
    # An empty unavailable list comes back as NULL: most users have none, and decoding 10,000 "[]"
    # is a good part of the request.
    unavailable = Case(When(unavailable=[], then=Value(None)), default=F("unavailable"), output_field=JSONField())
    rows = (_summaries_covered().filter(account__kind=AccountKind.USER)
            .order_by(F("total_usd").desc(nulls_last=True), "account__user_id")
            .values_list("account__user_id", "total_usd", "venues", unavailable))
    users = [{"user_id": user_id, "total": total,
              "brokers": {venue: Decimal(usd) for venue, usd in sorted(venues.items())},
              "unavailable": [_unavailable_read(v) for v in failed] if failed else []}
             for user_id, total, venues, failed in rows]
    counted = [u["total"] for u in users if u["total"] is not None]
    total = sum(counted, Decimal(0))
    master = _summaries_covered().filter(account__kind=AccountKind.MASTER, total_usd__isnull=False).aggregate(
        total=Sum("total_usd"))["total"]
    return {
        "generated_at": timezone.now(),
        "currency": "USD",
        "user_count": len(counted),
        "total_capital": money_round(total),
        "average_balance": money_round(total / len(counted)) if counted else None,
        "master_total": None if master is None else money_round(master),
        "users": users,
    }


# Errors the balance audit stores for a key the venue refuses (brokers.services._error_text): the
# credential itself is the problem, not the venue's availability.
CREDENTIAL_ERROR_PREFIXES = ("AuthenticationError:", "PermissionError:")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def credential_failure_streaks(*, min_failures: int) -> list[dict]:
    """Active credentials (account not INACTIVE) whose last `min_failures` or more balance fetches
    all failed, none good since: {"credential_id", "account_id", "venue", "label", "failures",
    "latest_error", "last_failed_at", "last_good_at", "credential_error"} in id order.
    `credential_error` says the latest failure was the venue refusing the key."""
    ok = BalanceSnapshot.Status.OK
    failed = BalanceSnapshot.Status.FAILED
    last_ok = (BalanceSnapshot.objects.filter(credential_id=OuterRef("pk"), status=ok).order_by()
               .values("credential_id").annotate(m=Max("fetched_at")).values("m"))
    failures = (BalanceSnapshot.objects.filter(credential_id=OuterRef("pk"), status=failed,
                                               fetched_at__gt=OuterRef("last_ok_or_epoch"))
                .order_by().values("credential_id").annotate(n=Count("id")).values("n"))
    latest = BalanceSnapshot.objects.filter(credential_id=OuterRef("pk"), is_latest=True, status=failed)
    rows = (BrokerCredential.objects.filter(status=BrokerCredential.Status.ACTIVE)
            .exclude(account__status=AccountStatus.INACTIVE)
            .annotate(last_good_at=Subquery(last_ok))
            .annotate(last_ok_or_epoch=Coalesce(F("last_good_at"), Value(_EPOCH)))
            .annotate(failures=Coalesce(Subquery(failures), Value(0)),
                      latest_error=Subquery(latest.values("error")[:1]),
                      last_failed_at=Subquery(latest.values("fetched_at")[:1]))
            .filter(failures__gte=max(1, int(min_failures)), latest_error__isnull=False)
            .order_by("pk")
            .values("pk", "account_id", "venue", "label", "failures", "latest_error", "last_failed_at",
                    "last_good_at"))
    return [{"credential_id": r.pop("pk"), **r,
             "credential_error": r["latest_error"].startswith(CREDENTIAL_ERROR_PREFIXES)} for r in rows]


def credential_statuses_of(*, account_ids: list[int]) -> dict[int, list[str]]:
    """account id -> the statuses of its credentials (every status), for these accounts."""
    found: dict[int, list[str]] = defaultdict(list)
    for account_id, status in (BrokerCredential.objects.filter(account_id__in=account_ids)
                               .order_by("account_id", "pk").values_list("account_id", "status")):
        found[account_id].append(status)
    return dict(found)


def credentials_unerased_past(*, before: dt.datetime) -> list[dict]:
    """Credentials of INACTIVE accounts whose secrets are still stored although they were archived
    (or, never archived, the account left) before `before`: the retention has run out."""
    rows = (BrokerCredential.objects.filter(account__status=AccountStatus.INACTIVE, secrets_erased_at__isnull=True)
            .filter(Q(archived_at__lt=before) | Q(archived_at__isnull=True, account__exited_at__lt=before))
            .order_by("pk").values("pk", "account_id", "venue", "label", "status", "archived_at",
                                   "account__exited_at"))
    return [{"credential_id": r["pk"], "account_id": r["account_id"], "venue": r["venue"], "label": r["label"],
             "status": r["status"], "archived_at": r["archived_at"], "exited_at": r["account__exited_at"]}
            for r in rows]
