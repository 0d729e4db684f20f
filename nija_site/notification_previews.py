"""What the staff preview page (/admin/notifications/) renders: every e-mail template with a demo
account's data. The figures are the account's own where it has them (its latest stored reports),
illustrative otherwise; the staff summary of the daily compliance check shows the latest stored daily
run, or an example run built in memory. Nothing here is sent or stored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from accounts.selectors import account_for_preview
from compliance.services import notification_render
from operations.services import compliance_run_preview
from reporting.selectors import reports_of_account

DEMO_USER_ID = "tania_gilbert"  # the demo's investor (reporting.demo); any USER account otherwise
STAFF_EXAMPLE_LOGIN = "olga"
SAMPLE_REPORT_TEXT = ("User: Demo Investor\nDate: 2026-01-08\nTrades: 3 (2 wins, 1 loss)\n"
                      "P&L: +$45.50 (+1.2%)\nWin Rate: 66.7%\nStatus: Active")


@dataclass(frozen=True)
class Preview:
    kind: str
    title: str
    template: str  # templates/email/<template>_subject.txt, .txt, .html
    staff: bool = False  # sent to NIJA_STAFF_ALERT_EMAILS, not to the account holder


PREVIEWS: tuple[Preview, ...] = (
    Preview("welcome", "Welcome", "welcome"),
    Preview("invitation", "Portal invitation", "portal_invitation"),
    Preview("password_reset", "Portal password reset", "portal_password_reset"),
    Preview("staff_password_reset", "Back office password reset (staff)", "password_reset", staff=True),
    Preview("trading_enabled", "Trading enabled", "trading_enabled"),
    Preview("trading_disabled", "Trading disabled (with the reason)", "trading_disabled"),
    Preview("suspended", "Account suspended", "suspended"),
    Preview("reactivated", "Account reactivated", "reactivated"),
    Preview("offboarded", "Offboarded (with the summary)", "offboarded"),
    Preview("daily_loss_approaching", "Daily loss limit approaching", "daily_loss_approaching"),
    Preview("daily_loss_reached", "Daily loss limit reached", "daily_loss_reached"),
    Preview("balance_low", "Balance low", "balance_low"),
    Preview("balance_drop", "Balance drop", "balance_drop"),
    Preview("daily_summary", "Daily summary (opt-in)", "daily_summary"),
    Preview("weekly_summary", "Weekly summary (Mondays)", "weekly_summary"),
    Preview("monthly_update", "Monthly investor update (1st of the month)", "monthly_update"),
    Preview("compliance_run", "Daily compliance check summary (staff)", "compliance_run", staff=True),
)
PREVIEWS_BY_KIND = {p.kind: p for p in PREVIEWS}


def preview_account():
    """The demo investor, else the first USER account, else an unsaved example account."""
    return account_for_preview(preferred_user_id=DEMO_USER_ID)


def _report_texts(account) -> dict[str, tuple[str, dt.date, dt.date, int | None]]:
    found: dict[str, tuple[str, dt.date, dt.date, int | None]] = {}
    if account.pk is None:
        return found
    for period in ("daily", "weekly", "monthly"):
        report = reports_of_account(account=account, periods=(period,)).defer(None).first()
        if report is not None:
            found[period] = (report.text, report.period_start, report.period_end, report.pk)
    return found


def preview_context(*, kind: str, account) -> dict:
    if kind == "compliance_run":
        return compliance_run_preview(account=account)[0]
    if kind == "staff_password_reset":
        return {"username": STAFF_EXAMPLE_LOGIN, "link": "http://127.0.0.1:8000/password-reset/MQ/example-token/",
                "link_is_url": True, "expiry_hours": 2}
    today = timezone.now().date()
    reports = _report_texts(account)
    daily = reports.get("daily", (SAMPLE_REPORT_TEXT, today - dt.timedelta(days=1), today - dt.timedelta(days=1), 0))
    weekly = reports.get("weekly", (SAMPLE_REPORT_TEXT, today - dt.timedelta(days=7), today - dt.timedelta(days=1), 0))
    monthly = reports.get("monthly", (SAMPLE_REPORT_TEXT, today.replace(day=1), today, 0))
    link = "http://127.0.0.1:8000/portal/invitation/MQ/example-token/"
    return {
        "welcome": {},
        "invitation": {"username": account.user_id, "link": link, "link_is_url": True, "days": 7,
                       "login_url": "http://127.0.0.1:8000/portal/login/"},
        "password_reset": {"username": account.user_id, "link": link, "link_is_url": True, "hours": 72},
        "trading_enabled": {"reason": "onboarding complete"},
        "trading_disabled": {"reason": "exchange key expired: please send a new trade-only key"},
        "suspended": {"reason": "KYC documents expired"},
        "reactivated": {"reason": "KYC documents renewed"},
        "offboarded": {"lines": [f"Exit date: {today.isoformat()}", "Reason: investor request",
                                 "Total P&L: $1,245.10", "Final NAV: $11,245.10", "Fees charged: $249.02"]},
        "daily_loss_approaching": {"day": today.isoformat(), "loss": "$412.50", "limit": "$500.00",
                                   "share_pct": 83, "auto_suspend": True},
        "daily_loss_reached": {"day": today.isoformat(), "loss": "$512.80", "limit": "$500.00", "suspended": True},
        "balance_low": {"balance": "$42.10", "threshold": "$50.00", "observed_at": f"{today} 09:05 UTC"},
        "balance_drop": {"previous": "$10,250.00", "balance": "$7,790.00", "drop_pct": "24.0",
                         "threshold_pct": "20", "observed_at": f"{today} 09:05 UTC"},
        "daily_summary": {"day": daily[1].isoformat(), "report_text": daily[0]},
        "weekly_summary": {"start": weekly[1].isoformat(), "end": weekly[2].isoformat(), "report_text": weekly[0]},
        "monthly_update": {"month": f"{monthly[1]:%B %Y}", "report_text": monthly[0],
                           "report_url": f"http://127.0.0.1:8000/portal/reports/{monthly[3] or 1}/"},
    }[kind]


def preview_render(*, kind: str, account) -> tuple[str, str, str]:
    """(subject, text, html) of the template for `kind` with the demo data."""
    preview = PREVIEWS_BY_KIND[kind]
    return notification_render(kind=kind, account=None if preview.staff else account, period="preview",
                               template=preview.template, context=preview_context(kind=kind, account=account))


def preview_source(*, kind: str, account) -> str:
    """What a staff message's preview shows ('' for the account holder's messages: the account's data)."""
    if kind == "compliance_run":
        return compliance_run_preview(account=account)[1]
    return f"an example login ({STAFF_EXAMPLE_LOGIN})" if PREVIEWS_BY_KIND[kind].staff else ""
