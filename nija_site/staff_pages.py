"""Staff pages that are not plain model admin, served by the project's AdminSite. Each view reads
through the owning apps' selectors and presenters; the two-factor page writes only through security.services."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django_otp import login as otp_login

from brokers.presenters import account_line, summary_lines
from brokers.selectors import balances_all
from core.errors import ApplicationError
from security.presenters import otp_setup_display
from security.selectors import otp_authenticator, otp_recovery_codes_left, otp_required_for
from security.services import otp_disable, otp_recovery_codes_renew, otp_setup_confirm, otp_setup_start

from .admin_site import TWO_FACTOR_PAGE, NijaAdminSite, StaffPage
from .dashboard import users_page
from .notification_previews import PREVIEWS, PREVIEWS_BY_KIND, preview_account, preview_render, preview_source

BALANCES_PER_PAGE = 50


def balances_page(request: HttpRequest, *, site: NijaAdminSite) -> HttpResponse:
    """The `show_user_balances` table in the browser: latest snapshots (no venue call), MASTER
    first, users by total; an unavailable venue shows its error and last good figure, never $0."""
    now = timezone.now()
    balances = balances_all()
    master = [account_line(b, now=now) for b in balances if b.account.is_master]
    users = Paginator([b for b in balances if not b.account.is_master], BALANCES_PER_PAGE)
    page = users.get_page(request.GET.get("page"))
    context = {
        **site.each_context(request),
        "title": "Balances",
        "generated_at": now,
        "master": master,
        "users": [account_line(b, now=now) for b in page.object_list],
        "page": page,
        "summary": summary_lines(balances),
    }
    return TemplateResponse(request, "admin/nija/balances.html", context)


def two_factor_page(request: HttpRequest, *, site: NijaAdminSite) -> HttpResponse:
    """Set up, renew recovery codes for, or (where not required) turn off one's own two-factor
    sign-in. Recovery codes are shown once, right after they are made."""
    user = request.user
    required = otp_required_for(user)
    codes: list[str] = []
    error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "confirm":
                device, codes = otp_setup_confirm(user=user, token=request.POST.get("token", ""))
                otp_login(request, device)  # this session gave a good code
            elif action == "renew":
                codes = otp_recovery_codes_renew(user=user)
            elif action == "disable" and not required:
                otp_disable(actor=user, user=user, reason=request.POST.get("reason", ""))
                messages.success(request, "Two-factor sign-in is off.")
                return redirect(f"{site.name}:{TWO_FACTOR_PAGE}")
            else:
                error = "that action is not available"
        except ApplicationError as exc:
            error = exc.message
    authenticator = otp_authenticator(user)
    context = {**site.each_context(request), "title": "Two-factor sign-in", "required": required,
               "enabled": authenticator is not None, "codes": codes, "error": error,
               "codes_left": otp_recovery_codes_left(user) if authenticator else 0}
    if authenticator is None:
        context.update(otp_setup_display(otp_setup_start(user=user)))
    return TemplateResponse(request, "admin/nija/two_factor.html", context)


# The e-mail's own HTML, shown in a frame of the preview page: sandboxed (nothing in it can run or
# reach the session), its inline styles allowed, framed only by this site.
EMAIL_PREVIEW_POLICY = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                        "frame-ancestors 'self'")


def notification_previews_page(request: HttpRequest, *, site: NijaAdminSite) -> HttpResponse:
    """Each e-mail template rendered with a demo account's data: subject, text and HTML
    (`?kind=`; `&format=html` serves the HTML alone, for the page's frame)."""
    kind = request.GET.get("kind") or PREVIEWS[0].kind
    if kind not in PREVIEWS_BY_KIND:
        raise Http404("no such message kind")
    account = preview_account()
    subject, text, html = preview_render(kind=kind, account=account)
    if request.GET.get("format") == "html":
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = EMAIL_PREVIEW_POLICY
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response
    context = {**site.each_context(request), "title": "Message templates", "previews": PREVIEWS,
               "current": PREVIEWS_BY_KIND[kind], "account": account, "subject": subject, "text": text,
               "source": preview_source(kind=kind, account=account)}
    return TemplateResponse(request, "admin/nija/notification_previews.html", context)


def staff_pages_register(site: NijaAdminSite) -> None:
    site.register_page(StaffPage(route="users/", name="nija-users", title="Users (dashboard)", view=users_page,
                                 permission="accounts.view_account"))
    site.register_page(StaffPage(route="balances/", name="nija-balances", title="Balances",
                                 view=balances_page, permission="brokers.view_balancesnapshot"))
    site.register_page(StaffPage(route="notifications/", name="nija-notification-previews",
                                 title="Message templates (preview)", view=notification_previews_page,
                                 permission="compliance.view_communication"))
    site.register_page(StaffPage(route="two-factor/", name=TWO_FACTOR_PAGE, title="Two-factor sign-in",
                                 view=two_factor_page, permission=""))
