"""Investor portal pages (read-only): own account overview and stored reports. Staff with the
reporting view permission may open any account with ?user_id=."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.decimals import format_decimal, format_money
from reporting.access import account_for_user
from reporting.reports import signed_money
from reporting.selectors import AccountBooks, positions_view, report_get, reports_for_account, stored_nav_days

LOGIN_URL = "portal-login"
REPORTS_SHOWN = 60


@require_GET  # read-only pages: a POST is refused, not rendered
@login_required(login_url=LOGIN_URL)
def portal_home(request: HttpRequest) -> HttpResponse:
    account = account_for_user(user=request.user, user_id=request.GET.get("user_id") or "me")
    books = AccountBooks(account=account)
    series = books.series
    last = series[-1] if series else None
    positions = [
        {"asset": p["asset"], "quantity": format_decimal(p["quantity"]), "avg_cost": format_money(p["avg_cost"]),
         "price": format_money(p["current_price"]), "unrealized": signed_money(p["unrealized_pnl"]),
         "opened_at": p["opened_at"]}
        for p in positions_view(books=books)
    ]
    context = {
        "account": account,
        "nav": format_money(last.nav) if last else "n/a",
        "nav_day": last.day if last else None,
        "missing_prices": last.missing_prices if last else [],
        "positions": positions,
        "reports": reports_for_account(account=account, limit=REPORTS_SHOWN),
        "stored_navs": stored_nav_days(account=account),
    }
    return render(request, "portal/home.html", context)


@require_GET
@login_required(login_url=LOGIN_URL)
def portal_report(request: HttpRequest, report_id: int) -> HttpResponse:
    report = report_get(report_id=report_id)
    if report is None:
        raise Http404("no such report")
    account_for_user(user=request.user, user_id=report.account.user_id)  # 404 unless theirs (or staff)
    return HttpResponse(report.html)
