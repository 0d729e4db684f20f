"""The project's admin site. Staff pages that are not plain model admin (balances now, the
dashboard later) are registered here as `StaffPage`s: the site serves them behind its own login,
checks each page's permission, and lists the pages a user may open on the admin index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import update_wrapper

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse

from security.forms import StaffSignInForm
from security.selectors import otp_state

TWO_FACTOR_PAGE = "nija-two-factor"
# Pages a staff member who must still set up two-factor sign-in may open.
_SETUP_ALLOWED = {TWO_FACTOR_PAGE, "logout", "jsi18n"}


@dataclass(frozen=True)
class StaffPage:
    route: str  # relative to /admin/, e.g. "balances/"
    name: str  # URL name, reversed as "admin:<name>"
    title: str
    view: Callable[..., HttpResponse]
    permission: str  # viewer-level pages use a view_ permission every staff group has; "" = any staff


class NijaAdminSite(admin.AdminSite):
    site_header = "NIJA back office"
    site_title = "NIJA back office"
    index_title = "Registry, copy engine and reporting"
    index_template = "admin/nija/index.html"
    login_form = StaffSignInForm  # password, then the authenticator code for users who set one up

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._staff_pages: list[StaffPage] = []

    def has_permission(self, request: HttpRequest) -> bool:
        # A staff member with an authenticator is signed in only once this session gave its code.
        return super().has_permission(request) and otp_state(request) != "code"

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def guarded(request: HttpRequest, *args, **kwargs):
            match = request.resolver_match
            if (request.user.is_active and request.user.is_staff and otp_state(request) == "setup"
                    and (match is None or match.url_name not in _SETUP_ALLOWED)):
                return redirect(reverse(f"{self.name}:{TWO_FACTOR_PAGE}"))
            return inner(request, *args, **kwargs)

        return update_wrapper(guarded, inner)

    def register_page(self, page: StaffPage) -> None:
        self._staff_pages.append(page)

    def staff_pages_for(self, request: HttpRequest) -> list[dict]:
        return [{"title": p.title, "url": reverse(f"{self.name}:{p.name}")}
                for p in self._staff_pages if not p.permission or request.user.has_perm(p.permission)]

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        context["staff_pages"] = self.staff_pages_for(request) if request.user.is_active else []
        return context

    def _guarded(self, page: StaffPage) -> Callable[..., HttpResponse]:
        def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if page.permission and not request.user.has_perm(page.permission):
                raise PermissionDenied
            return page.view(request, *args, site=self, **kwargs)

        return self.admin_view(view)

    def get_urls(self):
        pages = [path(p.route, self._guarded(p), name=p.name) for p in self._staff_pages]
        return pages + super().get_urls()
