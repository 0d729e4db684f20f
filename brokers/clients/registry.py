"""Which client serves a credential. One instance per credential per process (per event loop for
async clients, since ccxt.async_support sessions belong to a loop), each wrapped so EVERY call
holds the credential's cross-process lock: callers never need to take it themselves."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import threading
import weakref
from decimal import Decimal
from typing import Any

from brokers.crypto import credential_secrets

from .alpaca import AlpacaClient, AsyncAlpacaClient
from .base import (
    AssetBalance,
    AsyncBrokerClient,
    BrokerAuthenticationError,
    BrokerClient,
    MarketRules,
    OrderRequest,
    OrderResult,
    PermissionReport,
    Trade,
)
from .ccxt_client import AsyncCcxtClient, CcxtClient
from .locks import async_credential_lock, credential_lock
from .paper import AsyncPaperClient, PaperClient, PaperPublicClient

_sync_cache: dict[int, tuple[str, BrokerClient]] = {}
_async_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_guard = threading.Lock()


class LockedClient:
    """Takes the credential lock around every call of the venue client it wraps."""

    def __init__(self, inner: Any, credential_id: int) -> None:
        self.inner = inner
        self.credential_id = credential_id
        self.venue = inner.venue

    def _locked(self, name: str, *args: Any, **kwargs: Any) -> Any:
        with credential_lock(self.credential_id):
            return getattr(self.inner, name)(*args, **kwargs)

    def fetch_balances(self) -> dict[str, AssetBalance]:
        return self._locked("fetch_balances")

    def fetch_markets(self) -> dict[str, MarketRules]:
        return self._locked("fetch_markets")

    def fetch_price(self, symbol: str) -> Decimal:
        return self._locked("fetch_price", symbol)

    def create_order(self, request: OrderRequest) -> OrderResult:
        return self._locked("create_order", request)

    def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None:
        return self._locked("fetch_order_by_client_id", symbol, client_order_id)

    def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]:
        return self._locked("fetch_my_trades", symbol=symbol, since=since)

    def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult:
        return self._locked("cancel_order", symbol, venue_order_id)

    def check_permissions(self) -> PermissionReport:
        return self._locked("check_permissions")


class AsyncLockedClient:
    def __init__(self, inner: Any, credential_id: int) -> None:
        self.inner = inner
        self.credential_id = credential_id
        self.venue = inner.venue

    async def _locked(self, name: str, *args: Any, **kwargs: Any) -> Any:
        async with async_credential_lock(self.credential_id):
            return await getattr(self.inner, name)(*args, **kwargs)

    async def fetch_balances(self) -> dict[str, AssetBalance]:
        return await self._locked("fetch_balances")

    async def fetch_markets(self) -> dict[str, MarketRules]:
        return await self._locked("fetch_markets")

    async def fetch_price(self, symbol: str) -> Decimal:
        return await self._locked("fetch_price", symbol)

    async def create_order(self, request: OrderRequest) -> OrderResult:
        return await self._locked("create_order", request)

    async def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None:
        return await self._locked("fetch_order_by_client_id", symbol, client_order_id)

    async def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]:
        return await self._locked("fetch_my_trades", symbol=symbol, since=since)

    async def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult:
        return await self._locked("cancel_order", symbol, venue_order_id)

    async def check_permissions(self) -> PermissionReport:
        return await self._locked("check_permissions")

    async def close(self) -> None:
        await self.inner.close()


def _fingerprint(credential) -> str:
    """Changes when the key is replaced (or re-encrypted), so a cached client never keeps an old key."""
    material = "|".join([
        credential.venue, str(credential.is_paper), credential.api_key_encrypted, credential.api_secret_encrypted,
        credential.passphrase_encrypted,
    ])
    return hashlib.sha256(material.encode()).hexdigest()


def _require_active(credential) -> None:
    if credential.status != "active":
        raise BrokerAuthenticationError(f"credential is {credential.status}", venue=credential.venue)


def client_build(*, venue: str, api_key: str, api_secret: str, passphrase: str = "", paper: bool = False,
                 credential_id: int | None = None, asynchronous: bool = False) -> Any:
    """A bare venue client (no lock, no cache): used to verify a key before it is stored."""
    venue = venue.lower()
    if venue == "paper":
        if credential_id is None:
            raise ValueError("a PAPER client needs a stored credential")
        return AsyncPaperClient(credential_id) if asynchronous else PaperClient(credential_id)
    if venue == "alpaca":
        cls = AsyncAlpacaClient if asynchronous else AlpacaClient
        return cls(api_key=api_key, api_secret=api_secret, paper=paper)
    cls = AsyncCcxtClient if asynchronous else CcxtClient
    return cls(exchange_id=venue, api_key=api_key, api_secret=api_secret, passphrase=passphrase, sandbox=paper)


def _build(credential, *, asynchronous: bool) -> Any:
    if credential.venue == "paper":
        return client_build(venue="paper", api_key="", api_secret="", credential_id=credential.pk,
                            asynchronous=asynchronous)
    secrets = credential_secrets(credential)
    return client_build(
        venue=credential.venue, api_key=secrets.api_key, api_secret=secrets.api_secret,
        passphrase=secrets.passphrase, paper=credential.is_paper, asynchronous=asynchronous,
    )


class PublicClient:
    """A venue's unauthenticated client, for public market data only (markets, prices): no key,
    so no credential lock and nothing a follower's orders wait behind. Calls on one instance are
    serialized in this process (a sync ccxt instance is not thread-safe)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.venue = inner.venue
        self._lock = threading.Lock()

    def fetch_markets(self) -> dict[str, MarketRules]:
        with self._lock:
            return self.inner.fetch_markets()

    def fetch_price(self, symbol: str) -> Decimal:
        with self._lock:
            return self.inner.fetch_price(symbol)


_public_cache: dict[tuple[str, bool], PublicClient] = {}
# Venues that serve no market data without a key (Alpaca's asset list needs one): their market
# data is read through a credential of theirs.
KEYED_MARKET_DATA_VENUES = frozenset({"alpaca"})


def public_client_for(venue: str, *, sandbox: bool = False) -> PublicClient | None:
    """The one public client of `venue` (per sandbox flag) in this process, or None when the venue
    needs a key even for market data."""
    venue = venue.lower()
    if venue in KEYED_MARKET_DATA_VENUES:
        return None
    key = (venue, sandbox)
    with _guard:
        client = _public_cache.get(key)
        if client is None:
            client = _public_cache[key] = PublicClient(_public_build(venue, sandbox=sandbox))
        return client


def _public_build(venue: str, *, sandbox: bool) -> Any:
    if venue == "paper":
        return PaperPublicClient()
    client = CcxtClient(exchange_id=venue, api_key="", api_secret="", sandbox=sandbox)
    client.markets_refresh = True  # long-lived: reload when the cached markets expire
    return client


def client_for(credential) -> BrokerClient:
    _require_active(credential)
    fingerprint = _fingerprint(credential)
    with _guard:
        cached = _sync_cache.get(credential.pk)
        if cached and cached[0] == fingerprint:
            return cached[1]
        client = LockedClient(_build(credential, asynchronous=False), credential.pk)
        _sync_cache[credential.pk] = (fingerprint, client)
        return client


def async_client_for(credential) -> AsyncBrokerClient:
    """Call from inside a running event loop; the instance is reused for this loop."""
    _require_active(credential)
    loop = asyncio.get_running_loop()
    per_loop = _async_cache.setdefault(loop, {})
    fingerprint = _fingerprint(credential)
    cached = per_loop.get(credential.pk)
    if cached and cached[0] == fingerprint:
        return cached[1]
    client = AsyncLockedClient(_build(credential, asynchronous=True), credential.pk)
    per_loop[credential.pk] = (fingerprint, client)
    return client


async def async_clients_close() -> None:
    """Close this loop's async clients (ccxt aiohttp sessions) before the loop ends."""
    loop = asyncio.get_running_loop()
    per_loop = _async_cache.pop(loop, {})
    for _, client in per_loop.values():
        await client.close()


def client_cache_clear() -> None:
    with _guard:
        _sync_cache.clear()
        _public_cache.clear()
