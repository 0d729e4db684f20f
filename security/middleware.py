"""Staff sessions expire after NIJA_STAFF_SESSION_IDLE_SECONDS without a request."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class StaffSessionIdleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            # A sliding expiry: every request by a staff member sets it again from now.
            request.session.set_expiry(settings.NIJA_STAFF_SESSION_IDLE_SECONDS)
        return self.get_response(request)
