"""The staff dashboard (/users): the operation at a glance, read-only. Every figure comes from the
owning app's selectors and presenters; one page of user cards costs the same queries at 10 or
10,000 accounts (the ranking joins the stored per-account totals; the totals and the book's NAV
are stored rows too)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.choices import AccountKind, AccountStatus, AccountTier, AccountType
from accounts.selectors import accounts_filtered
from brokers.presenters import account_line, age_text, totals_lines
from brokers.selectors import (
    accounts_ranked_by_total,
    alert_open_counts,
    balance_audit_last_at,
    balance_totals,
    balances_of_accounts,
    balances_unavailable,
)
from copytrading.selectors import engine_mode_state, signal_latest, signal_status_counts
from core.decimals import format_decimal, format_money
from core.heartbeats import AUDIT_CHAIN_VERIFY, WORKER, heartbeats_read
from operations.selectors import compliance_runs_latest, findings_open_counts
from reporting.selectors import account_activity_many, book_nav_daily, reconciliation_breaks_summary

from .admin_site import NijaAdminSite

CARDS_PER_PAGE = 20
NAV_DAYS = 30


class UsersFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "any status"), *AccountStatus.choices], required=False)
    account_type = forms.ChoiceField(choices=[("", "any type"), *AccountType.choices], required=False)
    tier = forms.ChoiceField(choices=[("", "any tier"), *AccountTier.choices], required=False)
    q = forms.CharField(max_length=100, required=False, label="Search",
                        widget=forms.TextInput(attrs={"placeholder": "user id or name"}))


def _signed_money(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return ("+" if value > 0 else "") + format_money(value)


def _header(now: dt.datetime) -> dict:
    engine = engine_mode_state()
    signal = signal_latest()
    beats = heartbeats_read()
    chain_at, chain = beats[AUDIT_CHAIN_VERIFY]
    audit_at = balance_audit_last_at()
    header = {
        "engine": {**engine, "age": age_text(engine["changed_at"], now=now) if engine["changed_at"] else "never set"},
        "signal": None,
        "alerts": alert_open_counts(),
        "breaks": reconciliation_breaks_summary(),
        "chain": {"at": chain_at, "age": age_text(chain_at, now=now), "valid": chain.get("valid"),
                  "checked": chain.get("events_checked"), "problem": chain.get("problem", "")},
        "balance_audit_age": age_text(audit_at, now=now),
        "worker_age": age_text(beats[WORKER][0], now=now),
        "beat_age": age_text(beats["beat"][0], now=now),
        "compliance": _compliance(now),
    }
    if signal is not None:
        counts = signal_status_counts(signal_ids=[signal.pk])[signal.pk]
        planned = sum(counts.values()) - counts.get("SKIPPED", 0) - counts.get("OBSERVED", 0)
        header["signal"] = {
            "obj": signal, "age": age_text(signal.received_at, now=now), "planned": planned,
            "observed": counts.get("OBSERVED", 0),
            "filled": counts.get("FILLED", 0) + counts.get("PARTIALLY_FILLED", 0),
            "skipped": counts.get("SKIPPED", 0), "failed": counts.get("FAILED", 0) + counts.get("REJECTED", 0),
        }
    return header


def _compliance(now: dt.datetime) -> dict:
    """The last daily check and weekly review (when, findings by kind) and the findings still open."""
    runs = compliance_runs_latest()
    counts = findings_open_counts()
    return {
        "runs": [{"run": run, "age": age_text(run.started_at, now=now)} for run in runs.values() if run is not None],
        "open": sum(counts["open"].values()), "acknowledged": sum(counts["acknowledged"].values()),
        "open_by_kind": sorted(counts["open"].items(), key=lambda kv: (-kv[1], kv[0])),
    }


def nav_chart(points: list[tuple[dt.date, Decimal, int]], *, width: int = 600, height: int = 140) -> dict | None:
    """An inline SVG polyline of the book's NAV (no script, no CDN): coordinates and labels."""
    if len(points) < 2:
        return None
    values = [p[1] for p in points]
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    step = Decimal(width) / (len(points) - 1)
    coords = " ".join(f"{(step * i):.1f},{(height - 10 - (v - low) / span * (height - 20)):.1f}"
                      for i, v in enumerate(values))
    return {"width": width, "height": height, "points": coords, "low": format_money(low), "high": format_money(high),
            "first_day": points[0][0], "last_day": points[-1][0], "last": format_money(values[-1]),
            "accounts": points[-1][2], "days": len(points)}


def _cards(accounts: list, *, now: dt.datetime) -> list[dict]:
    balances = balances_of_accounts(accounts=accounts)
    activity = account_activity_many(account_ids=[a.pk for a in accounts], today=now.date())
    cards = []
    for account, entry in zip(accounts, balances, strict=True):
        figures = activity[account.pk]
        cards.append({
            "account": account, "line": account_line(entry, now=now), "trades": figures.trades,
            "closed": figures.closed_trades,
            "win_rate": (f"{format_decimal((figures.win_rate * 100).quantize(Decimal('0.1')))}%"
                         if figures.win_rate is not None else "n/a"),
            "today_pnl": _signed_money(figures.today_pnl), "total_pnl": _signed_money(figures.total_pnl),
            "pnl_note": figures.pnl_note,
            "last_trades": [{**t, "size": format_decimal(t["size"]),
                             "price": format_decimal(t["price"]) if t["price"] is not None else "n/a"}
                            for t in figures.last_trades],
        })
    return cards


def users_page(request: HttpRequest, *, site: NijaAdminSite) -> HttpResponse:
    now = timezone.now()
    form = UsersFilterForm(request.GET or None)
    filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
    search = filters.pop("q", None)
    ranked = accounts_ranked_by_total(accounts=accounts_filtered(kind=AccountKind.USER, search=search,
                                                                 with_risk_profile=False, **filters))
    page = Paginator(ranked, CARDS_PER_PAGE).get_page(request.GET.get("page"))
    today = now.date()
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **site.each_context(request),
        "title": "Users",
        "generated_at": now,
        "form": form,
        "header": _header(now),
        # summed in the database: the totals cost the same at 10 or 10,000 accounts
        "summary": totals_lines(balance_totals()),
        "unavailable": [(u["user_id"], u["venue"], u["error"]) for u in balances_unavailable()],
        "cards": _cards(list(page.object_list), now=now),
        "page": page,
        "query": query.urlencode(),
        "chart": nav_chart(book_nav_daily(start=today - dt.timedelta(days=NAV_DAYS - 1), end=today)),
    }
    return TemplateResponse(request, "admin/nija/users.html", context)
