"""Staff sessions expire after NIJA_STAFF_SESSION_IDLE_SECONDS without a request; a staff session
without its second factor reaches no page outside the admin (which guards itself)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .selectors import otp_state
from .throttles import RefusedAnonymousThrottle

# Pages a session without its second factor may still open outside the admin: signing in and out,
# and resetting a password (Django's views and the portal's).
SIGN_IN_PAGES = frozenset({
    "portal-login", "portal-logout", "portal-invitation", "portal-password-set-done", "portal-password-reset",
    "portal-password-reset-sent", "portal-password-reset-confirm",
    "admin_password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
    "healthz",
})


class StaffSessionIdleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            # A sliding expiry: every request by a staff member sets it again from now.
            request.session.set_expiry(settings.NIJA_STAFF_SESSION_IDLE_SECONDS)
        return self.get_response(request)


class StaffSecondFactorMiddleware:
    """Outside /admin/ and /api/ (the admin site and the API's session authentication refuse it
    themselves), a staff session that has not given its authenticator code is sent to the admin
    sign-in for it, and one that must set an authenticator up is sent to the setup page: the portal's
    staff view of any account (?user_id=) is not a way around the second factor. A new page is
    covered without anyone listing it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        match = request.resolver_match
        user = getattr(request, "user", None)
        if (match is None or match.namespace == "admin" or request.path.startswith("/api/")
                or match.url_name in SIGN_IN_PAGES or user is None or not user.is_authenticated
                or not user.is_staff):
            return None
        state = otp_state(request)
        if state == "setup":
            return redirect("admin:nija-two-factor")
        if state == "code":
            return redirect(f"{reverse('admin:login')}?{urlencode({'next': request.get_full_path()})}")
        return None


class RefusedAnonymousThrottleMiddleware:
    """Under /api/: every call refused (401/403) to a caller who is not signed in counts against its
    client address (NIJA_THROTTLE_REFUSED); over the rate, the address gets 429 in the API's error
    shape with Retry-After before any authentication is tried (a signed-in session still passes)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        throttle = RefusedAnonymousThrottle()
        if not request.user.is_authenticated:
            wait = throttle.wait_seconds(request)
            if wait is not None:
                response = JsonResponse({"error": {
                    "code": "throttled",
                    "message": f"Request was throttled: too many refused calls from this address. "
                               f"Expected available in {wait} seconds."}}, status=429)
                response["Retry-After"] = str(wait)
                return response
        response = self.get_response(request)
        # DRF puts the user it authenticated (or AnonymousUser) back on the request.
        if response.status_code in (401, 403) and not request.user.is_authenticated:
            throttle.refusal_count(request)
        return response
