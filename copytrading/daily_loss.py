"""The daily loss limit's consequences (DESIGN.md §6), wherever a loss is noticed: when a master
signal is planned (planning.py) and between signals, by the watcher beat runs after the balance
audits (a market move loses money without any signal). Both read the same figures
(`balances_for_accounts`: latest good equity and the first good reading of the UTC day), apply the
same rules (sizing.daily_loss_breached / daily_loss_usage) and call the same handler, so each
message goes once per UTC day whichever noticed the loss first."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.choices import AccountStatus
from accounts.selectors import accounts_by_id
from accounts.services import account_suspend
from brokers.services import alert_raise
from compliance.services import audit_event_record, notification_queue
from core.decimals import format_money

from .selectors import balances_for_accounts, followers_read
from .sizing import daily_loss_breached, daily_loss_usage

if TYPE_CHECKING:
    from accounts.models import Account

logger = logging.getLogger("nija.copytrading")

ENGINE_ACTOR = "system:copy-engine"
WATCH_ACTOR = "system:daily-loss-watch"


@dataclass(frozen=True, slots=True)
class DailyLossBreach:
    """An account whose loss today reached its limit; `signal_id` when a signal's planning saw it."""

    account_id: int
    detail: str
    signal_id: int | None = None


def daily_loss_warn_share() -> Decimal:
    """The share of the limit at which the "approaching" warning goes (NIJA_DAILY_LOSS_WARN_PCT)."""
    return Decimal(str(settings.NIJA_DAILY_LOSS_WARN_PCT)) / 100


def _loss_context(*, account: Account, usage: tuple[Decimal, Decimal] | None, day: dt.date) -> dict:
    loss, limit = usage or (None, None)
    share = (loss / limit * 100).quantize(Decimal("1")) if loss is not None and limit else None
    return {"day": day.isoformat(), "currency": "USD", "loss": format_money(loss) if loss is not None else "n/a",
            "limit": format_money(limit) if limit is not None else "n/a", "share_pct": share,
            "auto_suspend": account.risk_profile.auto_suspend_on_daily_loss}


def daily_loss_warnings_send(*, usage: dict[int, tuple[Decimal, Decimal]], accounts: dict[int, Account],
                             day: dt.date, actor: str = ENGINE_ACTOR) -> None:
    """Accounts whose loss today reached NIJA_DAILY_LOSS_WARN_PCT % of their limit (not the limit) get
    the warning, at most once per UTC day."""
    for account_id, account_usage in usage.items():
        account = accounts[account_id]
        notification_queue(kind="daily_loss_approaching", account=account, period=day.isoformat(),
                           actor=actor, context=_loss_context(account=account, usage=account_usage, day=day))


def daily_loss_breaches_handle(*, breaches: list[DailyLossBreach], accounts: dict[int, Account],
                               usage: dict[int, tuple[Decimal, Decimal]] | None = None,
                               day: dt.date | None = None, actor: str = ENGINE_ACTOR) -> None:
    """DESIGN.md §6: a breach blocks entries (planning's skip), raises an alert, and suspends the
    account when its profile says so; each first breach and each suspension is audited. The account
    holder gets one "limit reached" message per UTC day, saying whether the account was suspended."""
    day = day or timezone.now().date()
    for breach in breaches:
        account = accounts[breach.account_id]
        with transaction.atomic():
            _alert, created = alert_raise(account=account, kind="DAILY_LOSS_LIMIT",
                                          message=f"daily loss limit reached: {breach.detail}",
                                          details={"signal_id": breach.signal_id, "detail": breach.detail})
            if created:
                audit_event_record(actor=actor, action="DAILY_LOSS_LIMIT_BREACH", target_type="account",
                                   target_id=account.user_id, reason=breach.detail,
                                   after={"signal_id": breach.signal_id})
        suspend = account.risk_profile.auto_suspend_on_daily_loss and account.status == AccountStatus.ACTIVE
        with transaction.atomic():
            context = _loss_context(account=account, usage=(usage or {}).get(account.id), day=day)
            notification_queue(kind="daily_loss_reached", account=account, period=day.isoformat(),
                               actor=actor, context={**context, "suspended": suspend, "detail": breach.detail})
            if suspend:  # the message above says so: no separate "suspended" message
                account_suspend(actor=actor, account=account, notify=False,
                                reason=f"auto-suspended: daily loss limit reached ({breach.detail})")
        if suspend:
            logger.warning("%s suspended: daily loss limit reached (%s)", account.user_id, breach.detail)


def daily_losses_handle(*, breaches: list[DailyLossBreach], usage: dict[int, tuple[Decimal, Decimal]],
                        day: dt.date, actor: str = ENGINE_ACTOR) -> list[int]:
    """Breaches get the alert/suspension/message; the other accounts whose usage is at the warning
    share get the warning. Returns the ids of the accounts warned."""
    if breaches:
        daily_loss_breaches_handle(breaches=breaches, accounts=accounts_by_id(ids=[b.account_id for b in breaches]),
                                   usage=usage, day=day, actor=actor)
    breached = {b.account_id for b in breaches}
    share = daily_loss_warn_share()
    approaching = {account_id: used for account_id, used in usage.items()
                   if account_id not in breached and used[0] >= used[1] * share}
    if approaching:
        daily_loss_warnings_send(usage=approaching, accounts=accounts_by_id(ids=list(approaching)), day=day,
                                 actor=actor)
    return sorted(approaching)


# --- the watcher: between signals ---------------------------------------------------------------
class WatchSkip:
    """Why the watcher did not judge an account (a closed list, like the copy skip reasons)."""

    NO_LIMIT = "no_limit"  # the risk profile sets no daily loss limit: nothing to watch
    NO_BALANCE = "no_balance"  # no good balance snapshot at all
    NO_START_OF_DAY = "no_start_of_day"  # no good reading since 00:00 UTC to measure today's loss from

    TEXT = {NO_LIMIT: "no daily loss limit set", NO_BALANCE: "no good balance snapshot",
            NO_START_OF_DAY: "no good balance reading since 00:00 UTC"}


@dataclass
class DailyLossWatchReport:
    accounts: int = 0
    checked: int = 0
    approaching: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # user id -> WatchSkip reason
    next_after_id: int | None = None

    def as_dict(self) -> dict:
        return {"accounts": self.accounts, "checked": self.checked, "approaching": self.approaching,
                "breached": self.breached, "skipped": self.skipped, "next_after_id": self.next_after_id}


def daily_losses_watch(*, after_id: int = 0, limit: int, now: dt.datetime | None = None) -> DailyLossWatchReport:
    """One batch: the copy followers (ACTIVE USER accounts with trading on) with id > `after_id`, at
    most `limit`, judged on their latest good equity against the day's first good reading. An account
    without those readings is skipped with its reason (never judged on a zero). `next_after_id` is
    where the next batch starts, None after the last."""
    now = now or timezone.now()
    followers = followers_read(after_id=after_id, limit=limit)
    report = DailyLossWatchReport(accounts=len(followers))
    if len(followers) == limit:
        report.next_after_id = followers[-1].id
    watched = []
    for follower in followers:
        if follower.limits.max_daily_loss_amount is None and follower.limits.max_daily_loss_pct is None:
            report.skipped[follower.user_id] = WatchSkip.NO_LIMIT
        else:
            watched.append(follower)
    balances = balances_for_accounts(account_ids=[f.id for f in watched], now=now)
    breaches: list[DailyLossBreach] = []
    usage: dict[int, tuple[Decimal, Decimal]] = {}
    user_ids = {f.id: f.user_id for f in watched}
    for follower in watched:
        facts = balances.get(follower.id)
        if facts is None or facts.fetched_at is None:
            report.skipped[follower.user_id] = WatchSkip.NO_BALANCE
            continue
        if facts.start_of_day_equity is None:
            report.skipped[follower.user_id] = WatchSkip.NO_START_OF_DAY
            continue
        report.checked += 1
        detail = daily_loss_breached(follower.limits, start_of_day=facts.start_of_day_equity,
                                     equity=facts.equity_usd)
        if detail:
            breaches.append(DailyLossBreach(account_id=follower.id, detail=detail))
        used = daily_loss_usage(follower.limits, start_of_day=facts.start_of_day_equity, equity=facts.equity_usd)
        if used:
            usage[follower.id] = used
    warned = daily_losses_handle(breaches=breaches, usage=usage, day=now.date(), actor=WATCH_ACTOR)
    report.breached = [user_ids[b.account_id] for b in breaches]
    report.approaching = [user_ids[account_id] for account_id in warned]
    return report
