"""API throttles (DRF): per signed-in user, per client address, and per source on the signal
webhook. Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], read at each request so a
settings change (or a test's override) takes effect without a restart."""

from __future__ import annotations

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
