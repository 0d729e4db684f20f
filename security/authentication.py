"""Session authentication for the API that keeps the staff second factor: a staff session that has
not given its authenticator code (or must set one up first, NIJA_OTP_REQUIRED) is refused on every
API endpoint, as the admin refuses it. Personal access tokens are a separate door (accounts.api):
read-only, hashed, made by a signed-in operator in the admin or on the shell."""

from __future__ import annotations

from drf_spectacular.authentication import SessionScheme
from rest_framework import authentication, exceptions, status

from .selectors import otp_state

OTP_REFUSAL = {
    "code": "this session has not given its two-factor code: sign in again at /admin/login/ with your "
            "authenticator code",
    "setup": "two-factor sign-in is required for this account: set it up at /admin/two-factor/ first",
}


class SecondFactorRequired(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "otp_required"
    default_detail = OTP_REFUSAL["code"]


class StaffVerifiedSessionAuthentication(authentication.SessionAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        state = otp_state(request._request)  # django-otp's middleware marks the session user verified
        if state != "ok":
            raise SecondFactorRequired(OTP_REFUSAL[state])
        return result


class StaffVerifiedSessionScheme(SessionScheme):
    """The schema documents it as the cookie session it is."""

    target_class = StaffVerifiedSessionAuthentication
