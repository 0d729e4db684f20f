"""Investor portal pages (read-only): the signed-in investor's own account. Staff with the
reporting view permission may open any account with ?user_id=. Sign-in, invitation and password
pages are Django's auth views (so the sign-in lockout covers the portal too), in the portal's layout."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.portal_links import LINK_PROBLEMS, invitation_tokens
from accounts.selectors import account_of_portal_user
from accounts.services import portal_password_set
from core.decimals import format_decimal, format_money
from reporting.access import account_for_user
from reporting.reports import signed_money
from reporting.selectors import AccountBooks, positions_view, report_get, reports_for_account, stored_nav_days

from .forms import PortalPasswordResetForm

LOGIN_URL = "portal-login"
REPORTS_SHOWN = 60
# (url name, label) of the sections every signed-in page links to.
PORTAL_NAV = [
    ("portal-home", "Overview"),
]


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


class PortalPasswordResetView(PortalLayoutMixin, auth_views.PasswordResetView):
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
REPORT_HTML_POLICY = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


@require_GET  # read-only pages: a POST is refused, not rendered
@login_required(login_url=LOGIN_URL)
def portal_home(request: HttpRequest) -> HttpResponse:
    account = portal_account(request)
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
        "nav": format_money(last.nav) if last else "n/a",
        "nav_day": last.day if last else None,
        "missing_prices": last.missing_prices if last else [],
        "positions": positions,
        "reports": reports_for_account(account=account, limit=REPORTS_SHOWN),
        "stored_navs": stored_nav_days(account=account),
    }
    return portal_render(request, "portal/home.html", account=account, context=context)


@require_GET
@login_required(login_url=LOGIN_URL)
def portal_report(request: HttpRequest, report_id: int) -> HttpResponse:
    report = report_get(report_id=report_id)
    if report is None:
        raise Http404("no such report")
    account_for_user(user=request.user, user_id=report.account.user_id)  # 404 unless theirs (or staff)
    response = HttpResponse(report.html)
    # Stored HTML is a document, not part of the site: sandboxed (no script, no same-origin access
    # to the session), and nothing loads from anywhere but the page itself.
    response["Content-Security-Policy"] = REPORT_HTML_POLICY
    return response
