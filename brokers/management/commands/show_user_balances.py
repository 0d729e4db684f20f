from __future__ import annotations

import datetime as dt

from django.utils import timezone

from accounts.selectors import account_get
from brokers.selectors import AccountBalances, VenueBalance, balance_report, balance_summary, balances_all
from brokers.services import balances_fresh_ensure
from core.decimals import format_money
from core.management.base import NijaCommand

WIDTH = 22


def _age(at: dt.datetime | None) -> str:
    if at is None:
        return "never"
    seconds = int((timezone.now() - at).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _venue_line(venue: VenueBalance) -> str:
    if venue.available:
        return f"  {venue.venue:<{WIDTH}}{format_money(venue.usd):>16}"
    last = "no good reading yet" if venue.last_good is None else (
        f"last good {format_money(venue.last_good)}, {_age(venue.last_good_at)}"
    )
    return f"  {venue.venue:<{WIDTH}}{'unavailable':>16} ({venue.error}) - {last}"


def _block(title: str, entry: AccountBalances, total_label: str) -> list[str]:
    lines = [f"{title}  {entry.account.user_id} ({entry.account.full_name})"]
    lines += [_venue_line(v) for v in entry.venues.values()]
    suffix = "  (excludes unavailable venues)" if entry.unavailable and entry.has_figures else ""
    total = format_money(entry.total_usd) if entry.has_figures else "unavailable"
    lines.append(f"  {total_label:<{WIDTH}}{total:>16}{suffix}")
    return lines


class Command(NijaCommand):
    help = "Balances of the MASTER and every user per venue, with totals (table, or --json)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--fresh", action="store_true", help="fetch now instead of using cached snapshots")
        parser.add_argument("--user", help="only this USER_ID ('master' = MASTER)")

    def handle(self, *args, **opts):
        user_id = opts["user"]
        account_ids = [account_get(user_id=user_id).pk] if user_id else None
        if opts["fresh"]:
            balances_fresh_ensure(account_ids=account_ids, max_age_seconds=0)
        else:
            balances_fresh_ensure(account_ids=account_ids)  # refetch only what is older than the cache TTL
        if opts["json"]:
            self.write_json(balance_report(user_id=user_id))
            return
        self.stdout.write(self.render(balances_all(user_id=user_id)))

    def render(self, balances: list[AccountBalances]) -> str:
        lines = [f"NIJA balances (USD), generated {timezone.now():%Y-%m-%d %H:%M:%S} UTC", ""]
        for entry in balances:
            if entry.account.is_master:
                lines += _block("MASTER", entry, "TOTAL") + [""]
        for entry in balances:
            if not entry.account.is_master:
                lines += _block("USER", entry, "SUBTOTAL") + [""]
        summary = balance_summary(balances=balances)
        average = summary["average_per_user"]
        lines += [
            "SUMMARY",
            f"  {'Total Users':<{WIDTH}}{summary['user_count']:>16}",
            f"  {'Total User Capital':<{WIDTH}}{format_money(summary['total_user_capital']):>16}",
            f"  {'Average per User':<{WIDTH}}{format_money(average) if average is not None else 'n/a':>16}",
        ]
        if not balances:
            lines.insert(2, "(no account has an active broker credential)")
        return "\n".join(lines)
