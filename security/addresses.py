"""The client's address, the same for the sign-in lockout and the API throttles: REMOTE_ADDR, or,
behind NIJA_TRUSTED_PROXY_COUNT reverse proxies, the address the outermost trusted proxy saw
(the Nth entry from the right of X-Forwarded-For, which a client cannot forge)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NIJA_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-min(proxies, len(hops))] if hops else remote
