"""Investor portal pages (read-only): the signed-in investor's own account. Staff with the
reporting view permission may open any account with ?user_id=. Sign-in, invitation and password
pages are Django's auth views (so the sign-in lockout covers the portal too), in the portal's layout."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login

from accounts.portal_links import LINK_PROBLEMS, invitation_tokens
from accounts.selectors import account_of_portal_user
from accounts.services import portal_password_set
from brokers.presenters import account_line
from brokers.selectors import balance_user_by_venue
from compliance.selectors import communications_for_account
from copytrading.selectors import copy_settings_for, engine_mode_read, missed_copies_for_account
from core.dates import EARLIEST_DAY, day_bounded, day_parse, span_check, year_parse
from core.decimals import format_decimal, format_money
from core.errors import ApplicationError
from reporting.access import account_for_user
from reporting.lots import METHODS
from reporting.presenters import tax_csv_write, transactions_csv_write
from reporting.reports import pct, signed_money
from reporting.selectors import (
    FEE_STATEMENT_PERIODS,
    OVERVIEW_RANGES,
    REPORT_PERIODS,
    account_overview,
    fee_schedule_of,
    ledger_entries_filtered,
    ledger_pairs,
    method_check,
    overview_curve,
    report_body_html,
    report_get,
    reports_of_account,
    tax_report,
    transaction_row,
    transactions_export,
)
from security.presenters import otp_setup_display
from security.selectors import otp_authenticator, otp_pending, otp_recovery_codes_left, otp_state
from security.services import (
    login_unlock_on_password_reset,
    otp_disable,
    otp_recovery_codes_renew,
    otp_setup_confirm,
    otp_setup_start,
)
from security.views import PasswordResetRateLimited

from .charts import line_chart
from .forms import PortalPasswordResetForm, TwoFactorConfirmForm, TwoFactorOffForm
from .presenters import copy_status, range_figures, risk_sentences

LOGIN_URL = "portal-login"
DEFAULT_RANGE = "90d"
PAGE_SIZE = 50
PAIR_RE = re.compile(r"^[A-Z0-9]{1,16}(/[A-Z0-9]{1,16})?$")
# (url name, label) of the sections every signed-in page links to.
PORTAL_NAV = [
    ("portal-home", "Overview"),
    ("portal-positions", "Positions"),
    ("portal-trades", "Trades"),
    ("portal-missed", "Missed trades"),
    ("portal-reports", "Reports"),
    ("portal-statements", "Statements"),
    ("portal-messages", "Messages"),
]


def portal_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, and, for an investor with an authenticator, with its code: a session signed in
    before two-factor sign-in was turned on (another browser) is signed out and asked again."""
    checked = login_required(view, login_url=LOGIN_URL)

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and otp_state(request) == "code":
            logout(request)
        return checked(request, *args, **kwargs)

    return guarded


def portal_account(request: HttpRequest):
    """The account the request may read: the investor's own, or ?user_id= for staff allowed to see it."""
    return account_for_user(user=request.user, user_id=request.GET.get("user_id") or "me")


def portal_render(request: HttpRequest, template: str, *, account, context: dict) -> HttpResponse:
    """Render in the investor's time zone, so every time on the page is theirs."""
    with timezone.override(account.time_zone):
        return render(request, template, {"account": account, "portal_nav": PORTAL_NAV, **context})


class PortalLayoutMixin:
    """Django auth views in the portal layout: the nav when the visitor is a signed-in investor."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        account = account_of_portal_user(user=user) if user.is_authenticated else None
        return {**context, "account": account, "portal_nav": PORTAL_NAV}


class PortalLoginView(PortalLayoutMixin, auth_views.LoginView):
    template_name = "portal/login.html"
    next_page = "portal-home"


class PortalSetPasswordView(PortalLayoutMixin, auth_views.PasswordResetConfirmView):
    """The invitation link: set the first password. A used, replaced or expired link says which."""

    token_generator = invitation_tokens
    template_name = "portal/set_password.html"
    success_url = reverse_lazy("portal-password-set-done")
    heading = "Set your password"
    how = "invitation"

    def dispatch(self, *args, **kwargs):
        # Resolve the visitor first: a session whose login's password changed is flushed right here,
        # not later, after the link's token was put in it (which would lose the token).
        _ = self.request.user.is_authenticated
        return super().dispatch(*args, **kwargs)

    def link_problem(self) -> str:
        token = self.kwargs.get("token")
        if token == self.reset_url_token:
            token = self.request.session.get(auth_views.INTERNAL_RESET_SESSION_TOKEN)
        return LINK_PROBLEMS[self.token_generator.token_problem(self.user, token) or "invalid"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["heading"] = self.heading
        if context.get("validlink"):
            context["username"] = self.user.get_username()
        else:
            context["link_problem"] = self.link_problem()
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        account = account_of_portal_user(user=form.user)
        if account is not None:
            portal_password_set(account=account, how=self.how)
        return response


class PortalPasswordResetConfirmView(PortalSetPasswordView):
    """The password reset link (Django's default tokens, PASSWORD_RESET_TIMEOUT)."""

    token_generator = auth_views.PasswordResetConfirmView.token_generator
    heading = "Choose a new password"
    how = "reset"

    def link_problem(self) -> str:
        return ("This link is no longer valid: it was already used, replaced by a newer one, or it expired. "
                "Ask for a new one below.")

    def form_valid(self, form):
        response = super().form_valid(form)
        login_unlock_on_password_reset(user=form.user)  # the mailbox's holder could reset it anyway
        return response


class PortalPasswordResetView(PortalLayoutMixin, PasswordResetRateLimited, auth_views.PasswordResetView):
    template_name = "portal/password_reset.html"
    form_class = PortalPasswordResetForm
    success_url = reverse_lazy("portal-password-reset-sent")


class PortalPasswordChangeView(PortalLayoutMixin, auth_views.PasswordChangeView):
    template_name = "portal/password_change.html"
    success_url = reverse_lazy("portal-password-change-done")

    def form_valid(self, form):
        response = super().form_valid(form)
        account = account_of_portal_user(user=self.request.user)
        if account is not None:
            portal_password_set(account=account, how="change")
        return response


def portal_notice(*, heading: str, text: str, link_name: str, link_label: str):
    """A one-message page (link sent, password set), in the portal layout."""

    def view(request: HttpRequest) -> HttpResponse:
        user = request.user
        account = account_of_portal_user(user=user) if user.is_authenticated else None
        return render(request, "portal/message.html", {
            "heading": heading, "text": text, "link_name": link_name, "link_label": link_label,
            "account": account, "portal_nav": PORTAL_NAV})

    return require_GET(view)


# The stored-report page: sandboxed without allow-scripts, so nothing in the stored HTML can run.
REPORT_HTML_POLICY = ("sandbox allow-forms allow-same-origin allow-top-navigation-by-user-activation; "
                      "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                      "form-action 'self'; frame-ancestors 'none'")


def portal_bad_request(request: HttpRequest, *, account, text: str) -> HttpResponse:
    """A clear 400 page in the portal layout for a bad query parameter; nothing is changed."""
    response = portal_render(request, "portal/message.html", account=account, context={
        "heading": "That request is not valid", "text": text, "link_name": "portal-home",
        "link_label": "Back to the overview"})
    response.status_code = 400
    return response


def portal_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A read-only page of the account the request may read: GET only (a POST is refused, not
    rendered), signed in, and `view(request, account)`; a query parameter it cannot parse
    (ApplicationError from the parsing helpers) is a clear 400 page, nothing is changed."""

    @require_GET
    @portal_login_required
    @wraps(view)
    def page(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        account = portal_account(request)
        try:
            return view(request, account, *args, **kwargs)
        except ApplicationError as exc:
            return portal_bad_request(request, account=account, text=exc.message)

    return page


def range_parse(value: str | None) -> str:
    range_key = value or DEFAULT_RANGE
    if range_key not in OVERVIEW_RANGES:
        raise ApplicationError(f"range must be one of {', '.join(OVERVIEW_RANGES)}.", code="invalid")
    return range_key


def tax_query_parse(request: HttpRequest, *, today, default_year: int | None = None) -> tuple[int, str]:
    """?year= (default `default_year`) and ?method= (default fifo) of a tax page or its CSV."""
    year = year_parse(request.GET.get("year") or None, default=default_year, today=today)
    return year, method_check(request.GET.get("method") or "fifo")


@portal_page
def portal_home(request: HttpRequest, account) -> HttpResponse:
    range_key = range_parse(request.GET.get("range"))
    overview = account_overview(account=account)
    context: dict = {"overview": overview, "range_key": range_key, "ranges": OVERVIEW_RANGES.items(),
                     "staff_view": request.GET.get("user_id", "")}
    if not overview["empty"]:
        metrics = overview["ranges"][range_key]
        curve = overview_curve(overview=overview, start=metrics["start"])
        context.update({
            "nav": format_money(overview["nav"]), "nav_day": overview["nav_day"],
            "missing_prices": overview["missing_prices"],
            "today_pnl": signed_money(overview["today_pnl"]), "today_pnl_value": overview["today_pnl"],
            "range": range_figures(metrics), "total": range_figures(overview["ranges"]["inception"]),
            "nav_chart": line_chart(days=curve["days"], values=[float(v) for v in curve["nav"]],
                                    title="NAV (USD)", label=lambda v: format_money(Decimal(str(round(v, 2))))),
            "drawdown_chart": line_chart(days=curve["drawdown_days"], values=curve["drawdown"],
                                         title="Drawdown", label=lambda v: f"{v * 100:.1f}%",
                                         fill_below_zero=True),
        })
    context.update({
        "balances": account_line(balance_user_by_venue(account=account)),
        "copy": copy_status(account=account, copy_enabled=copy_settings_for(account=account).copy_enabled,
                            engine_mode=engine_mode_read()),
        "risk": risk_sentences(getattr(account, "risk_profile", None)),
    })
    return portal_render(request, "portal/home.html", account=account, context=context)


@portal_page
def portal_positions(request: HttpRequest, account) -> HttpResponse:
    overview = account_overview(account=account)
    positions = [
        {"asset": p["asset"], "quantity": format_decimal(p["quantity"]), "avg_cost": format_money(p["avg_cost"]),
         "price": format_money(p["current_price"]), "price_at": p["price_at"],
         "value": format_money(p["market_value"]), "unrealized": signed_money(p["unrealized_pnl"]),
         "unrealized_value": p["unrealized_pnl"], "stop": format_money(p["stop"]) if p["stop"] else "none",
         "opened_at": p["opened_at"]}
        for p in overview["positions"]
    ]
    return portal_render(request, "portal/positions.html", account=account, context={
        "positions": positions, "missing_prices": overview.get("missing_prices", []), "overview": overview})


def paginate(request: HttpRequest, queryset, *, per_page: int = PAGE_SIZE):
    """One page of `queryset` (two queries: the count and the page); a page number out of range
    shows the last page, and one that is not a number the first."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def trade_filters(request: HttpRequest) -> dict:
    """from/to (YYYY-MM-DD, UTC days, 2000-01-01..today) and pair, read one way for the page and its CSV."""
    today = timezone.now().date()
    start = request.GET.get("from", "").strip()
    end = request.GET.get("to", "").strip()
    start_day = day_bounded(day_parse(start, name="from"), name="from", today=today) if start else None
    end_day = day_bounded(day_parse(end, name="to"), name="to", today=today) if end else None
    if start_day and end_day:
        span_check(start_day, end_day, max_days=settings.NIJA_REPORT_MAX_SPAN_DAYS)
    pair = request.GET.get("pair", "").strip().upper()
    if pair and not PAIR_RE.match(pair):
        raise ApplicationError(f"pair '{pair[:40]}' is not an asset or a pair such as BTC/USD", code="invalid")
    return {"start": start_day, "end": end_day, "pair": pair}


def portal_list(template: str, rows: Callable[[Any], Any]):
    """A page that lists `rows(account)` (a queryset, newest first), paginated."""

    @portal_page
    def view(request: HttpRequest, account) -> HttpResponse:
        page = paginate(request, rows(account))
        return portal_render(request, template, account=account, context={
            "page": page, "query": query_without_page(request)})

    return view


portal_missed = portal_list("portal/missed.html", lambda account: missed_copies_for_account(account=account))
portal_messages = portal_list("portal/messages.html", lambda account: communications_for_account(account=account))
portal_reports = portal_list("portal/reports.html",
                             lambda account: reports_of_account(account=account, periods=REPORT_PERIODS))


@portal_page
def portal_trades(request: HttpRequest, account) -> HttpResponse:
    filters = trade_filters(request)
    page = paginate(request, ledger_entries_filtered(account=account, **filters))
    rows = []
    for entry in page.object_list:
        row = transaction_row(entry, {})
        rows.append({**row, "size_text": f"{format_decimal(row['size'])} {row['asset']}",
                     "price_text": format_decimal(row["price"]) if row["price"] is not None else "",
                     "fee_text": f"{format_decimal(row['fee'])} {row['fee_asset']}" if row["fee"] else "",
                     "amount_text": f"{format_decimal(row['amount'])} {row['balance_asset']}"})
    return portal_render(request, "portal/trades.html", account=account, context={
        "page": page, "rows": rows, "filters": filters, "pairs": ledger_pairs(account=account),
        "query": query_without_page(request)})


@portal_page
def portal_trades_csv(request: HttpRequest, account) -> HttpResponse:
    data = transactions_export(account=account, **trade_filters(request))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{account.user_id}-transactions.csv"'
    transactions_csv_write(response, data)
    return response


@require_GET
@portal_login_required
def portal_report(request: HttpRequest, report_id: int) -> HttpResponse:
    report = report_get(report_id=report_id)
    if report is None:
        raise Http404("no such report")
    account = account_for_user(user=request.user, user_id=report.account.user_id)  # 404 unless theirs (or staff)
    response = portal_render(request, "portal/report.html", account=account, context={
        "report": report, "body": mark_safe(report_body_html(report))})  # noqa: S308 - our own stored rendering
    # Stored HTML is shown inside the layout, so this page is sandboxed: nothing in it can run script
    # (no allow-scripts, no script source), while the layout's stylesheet, links and sign-out form still work.
    response["Content-Security-Policy"] = REPORT_HTML_POLICY
    return response


@portal_page
def portal_statements(request: HttpRequest, account) -> HttpResponse:
    today = timezone.now().date()
    year, method = tax_query_parse(request, today=today, default_year=today.year)
    page = paginate(request, reports_of_account(account=account, periods=FEE_STATEMENT_PERIODS))
    schedule = fee_schedule_of(account=account)
    tax = tax_report(account=account, year=year, method=method)
    totals = [{"term": term, **{k: format_money(v) if isinstance(v, Decimal) else v for k, v in t.items()}}
              for term, t in sorted(tax["totals_by_term"].items())]
    return portal_render(request, "portal/statements.html", account=account, context={
        "page": page, "query": query_without_page(request), "schedule": schedule,
        "performance_rate": pct(schedule.performance_fee_rate) if schedule else None,
        "management_rate": pct(schedule.management_fee_rate, places=2) if schedule else None,
        "year": year, "method": method, "years": range(today.year, max(EARLIEST_DAY.year, today.year - 10) - 1, -1),
        "methods": METHODS, "tax": tax, "tax_totals": totals})


@portal_page
def portal_tax_csv(request: HttpRequest, account) -> HttpResponse:
    year, method = tax_query_parse(request, today=timezone.now().date())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{account.user_id}-tax-{year}-{method}.csv"'
    tax_csv_write(response, tax_report(account=account, year=year, method=method))
    return response




TWO_FACTOR_OFF_REASON = "turned off by the investor in the portal (password and code given)"


@require_http_methods(["GET", "POST"])
@portal_login_required
def portal_two_factor(request: HttpRequest) -> HttpResponse:
    """Turn on (start, then the QR code or typed key, then a code from the app), renew the recovery codes of, or turn
    off (password and a code) the investor's own two-factor sign-in; every change is audited by
    security.services. Recovery codes are shown once, right after they are made."""
    user = request.user
    account = account_of_portal_user(user=user)
    if account is None:
        raise Http404("the portal's two-factor page is for investors; staff use the admin's")
    action = request.POST.get("action") if request.method == "POST" else None
    confirm_form = TwoFactorConfirmForm(request.POST if action == "confirm" else None)
    off_form = TwoFactorOffForm(request.POST if action == "disable" else None, request=request)
    codes: list[str] = []
    error = ""
    try:
        if action == "confirm" and confirm_form.is_valid():
            device, codes = otp_setup_confirm(user=user, token=confirm_form.cleaned_data["token"])
            otp_login(request, device)  # this session just gave a good code
        elif action == "start" and otp_authenticator(user) is None:
            otp_setup_start(user=user)
        elif action == "renew":
            codes = otp_recovery_codes_renew(user=user)
        elif action == "disable" and off_form.is_valid():
            otp_disable(actor=user, user=user, reason=TWO_FACTOR_OFF_REASON)
            return portal_render(request, "portal/message.html", account=account, context={
                "heading": "Two-factor sign-in is off", "text": "Signing in asks for your password only.",
                "link_name": "portal-two-factor", "link_label": "Two-factor sign-in"})
        elif action not in (None, "confirm", "disable", "start"):
            error = "That action is not available."
    except ApplicationError as exc:
        error = exc.message
    authenticator = otp_authenticator(user)
    context = {"enabled": authenticator is not None, "codes": codes, "error": error,
               "confirm_form": confirm_form, "off_form": off_form,
               "codes_left": otp_recovery_codes_left(user) if authenticator else 0}
    if authenticator is None:
        pending = otp_pending(user)  # made by the "start" button: reading this page writes nothing
        if pending is not None:
            context.update(otp_setup_display(pending))
    response = portal_render(request, "portal/two_factor.html", account=account, context=context)
    response["Cache-Control"] = "no-store"  # the key and the recovery codes are on this page
    return response
