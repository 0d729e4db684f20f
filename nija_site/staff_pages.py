"""Staff pages that are not plain model admin, served by the project's AdminSite. Each view reads
through the owning apps' selectors and presenters; none writes (actions stay in the admin's forms)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from brokers.presenters import account_line, summary_lines
from brokers.selectors import balances_all

from .admin_site import NijaAdminSite, StaffPage
from .dashboard import users_page

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


def staff_pages_register(site: NijaAdminSite) -> None:
    site.register_page(StaffPage(route="users/", name="nija-users", title="Users (dashboard)", view=users_page,
                                 permission="accounts.view_account"))
    site.register_page(StaffPage(route="balances/", name="nija-balances", title="Balances",
                                 view=balances_page, permission="brokers.view_balancesnapshot"))
