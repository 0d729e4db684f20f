"""API throttles (DRF): per signed-in user, per client address, per source on the signal
webhook, refused anonymous calls per address; and the password-reset rate limits (the same
counters, outside DRF). Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], read at each request so a
settings change (or a test's override) takes effect without a restart."""

from __future__ import annotations

import hashlib

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .addresses import client_address


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(_SettingsRateThrottle):
    """Requests per signed-in user, whichever address they come from."""

    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None  # anonymous callers are counted by address only
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AddressThrottle(_SettingsRateThrottle):
    """Requests per client address, signed in or not."""

    scope = "address"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class SignalSourceThrottle(AddressThrottle):
    """The signal webhook, per source address: stricter than the general rate, and counted before
    the signature is checked so an unsigned flood is refused cheaply too."""

    scope = "signal_source"


class RefusedAnonymousThrottle(AddressThrottle):
    """API calls refused to a caller without a valid identity (no credentials, a wrong or revoked
    token, a bad webhook signature), per client address. They never reach the per-user and
    per-address throttles (DRF checks permissions first), so a token guesser would go uncounted;
    security.middleware counts each refusal here and turns the address away while it is over the rate."""

    scope = "refused_anonymous"

    def _recent(self, request) -> list[float]:
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [at for at in self.cache.get(self.key, []) if at > self.now - self.duration]
        return self.history

    def wait_seconds(self, request) -> int | None:
        """Seconds until the address may call again, or None when it is under the rate."""
        if self.rate is None or len(self._recent(request)) < self.num_requests:
            return None
        return max(1, int(self.wait() or 1))

    def refusal_count(self, request) -> None:
        if self.rate is not None:
            self._recent(request)
            self.throttle_success()  # records this refusal in the address's history


class _PasswordResetThrottle(_SettingsRateThrottle):
    def allowed(self, request, ident: str) -> int | None:
        """None when this request may go ahead (and it is counted), else the seconds to wait."""
        self.ident = ident
        if self.allow_request(request, None):
            return None
        return max(1, int(self.wait() or 1))

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


class PasswordResetAddressThrottle(_PasswordResetThrottle):
    scope = "password_reset_address"


class PasswordResetEmailThrottle(_PasswordResetThrottle):
    scope = "password_reset_email"


def password_reset_refusal(*, request, email: str) -> str:
    """'' when a password-reset request may be sent (it is counted), else why not: at most
    NIJA_PASSWORD_RESET_RATE_ADDRESS requests from one client address and NIJA_PASSWORD_RESET_RATE_EMAIL
    for one e-mail address (known or not, so the answer says nothing about which addresses exist)."""
    wait = PasswordResetAddressThrottle().allowed(request, client_address(request))
    if wait is not None:
        return f"Too many password-reset requests from your network address: try again in {_minutes(wait)}."
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()  # no address in the cache keys
    wait = PasswordResetEmailThrottle().allowed(request, digest)
    if wait is not None:
        return f"Too many password-reset requests for this e-mail address: try again in {_minutes(wait)}."
    return ""


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
