"""The project's admin site. Staff pages that are not plain model admin (balances now, the
dashboard later) are registered here as `StaffPage`s: the site serves them behind its own login,
checks each page's permission, and lists the pages a user may open on the admin index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse


@dataclass(frozen=True)
class StaffPage:
    route: str  # relative to /admin/, e.g. "balances/"
    name: str  # URL name, reversed as "admin:<name>"
    title: str
    view: Callable[..., HttpResponse]
    permission: str  # viewer-level pages use a view_ permission every staff group has


class NijaAdminSite(admin.AdminSite):
    site_header = "NIJA back office"
    site_title = "NIJA back office"
    index_title = "Registry, copy engine and reporting"
    index_template = "admin/nija/index.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._staff_pages: list[StaffPage] = []

    def register_page(self, page: StaffPage) -> None:
        self._staff_pages.append(page)

    def staff_pages_for(self, request: HttpRequest) -> list[dict]:
        return [{"title": p.title, "url": reverse(f"{self.name}:{p.name}")}
                for p in self._staff_pages if request.user.has_perm(p.permission)]

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        context["staff_pages"] = self.staff_pages_for(request) if request.user.is_active else []
        return context

    def _guarded(self, page: StaffPage) -> Callable[..., HttpResponse]:
        def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perm(page.permission):
                raise PermissionDenied
            return page.view(request, *args, site=self, **kwargs)

        return self.admin_view(view)

    def get_urls(self):
        pages = [path(p.route, self._guarded(p), name=p.name) for p in self._staff_pages]
        return pages + super().get_urls()
