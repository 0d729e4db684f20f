"""How balances read to people: the text table of `show_user_balances` and the rows of the staff
balances page come from here, so the command and the pages can never disagree on a figure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from core.decimals import format_money

from .selectors import AccountBalances, VenueBalance, balance_summary

WIDTH = 22


def age_text(at: dt.datetime | None, *, now: dt.datetime | None = None) -> str:
    if at is None:
        return "never"
    seconds = int(((now or timezone.now()) - at).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


@dataclass(frozen=True)
class VenueLine:
    venue: str
    available: bool
    amount_text: str  # "$1,234.56" or "unavailable"
    error: str
    last_good_text: str  # for an unavailable venue: the last good figure and its age


@dataclass(frozen=True)
class AccountLine:
    user_id: str
    full_name: str
    is_master: bool
    account_pk: int
    venues: list[VenueLine]
    total_text: str  # "unavailable" when no venue has a figure: unknown, not zero
    partial: bool  # the total leaves out unavailable venues


def venue_line(venue: VenueBalance, *, now: dt.datetime | None = None) -> VenueLine:
    if venue.available:
        return VenueLine(venue.venue, True, format_money(venue.usd), "", "")
    last = "no good reading yet" if venue.last_good is None else (
        f"last good {format_money(venue.last_good)}, {age_text(venue.last_good_at, now=now)}"
    )
    return VenueLine(venue.venue, False, "unavailable", venue.error, last)


def account_line(entry: AccountBalances, *, now: dt.datetime | None = None) -> AccountLine:
    return AccountLine(
        user_id=entry.account.user_id, full_name=entry.account.full_name, is_master=entry.account.is_master,
        account_pk=entry.account.pk, venues=[venue_line(v, now=now) for v in entry.venues.values()],
        total_text=format_money(entry.total_usd) if entry.has_figures else "unavailable",
        partial=bool(entry.unavailable) and entry.has_figures,
    )


def summary_lines(balances: list[AccountBalances]) -> dict[str, str]:
    """The summary block as display text: master total, user count, user capital, average."""
    return totals_lines(balance_summary(balances=balances))


def totals_lines(summary: dict) -> dict[str, str]:
    """`summary_lines` of totals already summed (`balance_summary` or `balance_totals`)."""
    average = summary["average_per_user"]
    master = summary["master_total"]
    return {
        "master_total": format_money(master) if master is not None else "unavailable",
        "user_count": str(summary["user_count"]),
        "total_user_capital": format_money(summary["total_user_capital"]),
        "average_per_user": format_money(average) if average is not None else "n/a",
    }


def _text_block(title: str, line: AccountLine, total_label: str) -> list[str]:
    lines = [f"{title}  {line.user_id} ({line.full_name})"]
    for v in line.venues:
        if v.available:
            lines.append(f"  {v.venue:<{WIDTH}}{v.amount_text:>16}")
        else:
            lines.append(f"  {v.venue:<{WIDTH}}{'unavailable':>16} ({v.error}) - {v.last_good_text}")
    suffix = "  (excludes unavailable venues)" if line.partial else ""
    lines.append(f"  {total_label:<{WIDTH}}{line.total_text:>16}{suffix}")
    return lines


def balance_table_text(balances: list[AccountBalances], *, now: dt.datetime | None = None) -> str:
    """The `show_user_balances` table: MASTER first, then users by total, then the summary."""
    now = now or timezone.now()
    lines = [f"NIJA balances (USD), generated {now:%Y-%m-%d %H:%M:%S} UTC", ""]
    for entry in balances:
        if entry.account.is_master:
            lines += _text_block("MASTER", account_line(entry, now=now), "TOTAL") + [""]
    for entry in balances:
        if not entry.account.is_master:
            lines += _text_block("USER", account_line(entry, now=now), "SUBTOTAL") + [""]
    summary = summary_lines(balances)
    lines += [
        "SUMMARY",
        f"  {'Total Users':<{WIDTH}}{summary['user_count']:>16}",
        f"  {'Total User Capital':<{WIDTH}}{summary['total_user_capital']:>16}",
        f"  {'Average per User':<{WIDTH}}{summary['average_per_user']:>16}",
    ]
    if not balances:
        lines.insert(2, "(no account has an active broker credential)")
    return "\n".join(lines)
