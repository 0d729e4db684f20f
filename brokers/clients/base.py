"""The one broker client interface every venue implements (ccxt, alpaca-py, PAPER).

Everything crossing this boundary is Decimal, and every amount says its asset. Venue errors are
mapped to the exception classes below, each keeping the venue's own message; nothing above this
layer catches a library's exception type."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "ioc"]  # ioc = limit order, immediate-or-cancel
OrderStatus = Literal["open", "filled", "partially_filled", "canceled", "rejected"]


# --- errors ---------------------------------------------------------------------------------
class BrokerError(Exception):
    """Base class. `venue_message` is the venue's own text, never containing our secrets."""

    retryable = False

    def __init__(self, venue_message: str, *, venue: str = "") -> None:
        super().__init__(f"{venue}: {venue_message}" if venue else venue_message)
        self.venue = venue
        self.venue_message = venue_message


class BrokerAuthenticationError(BrokerError):
    """Key rejected, expired, or wrong passphrase."""


class BrokerPermissionError(BrokerError):
    """Key valid but lacks the right for this call (e.g. trade on a read-only key)."""


class BrokerInsufficientFundsError(BrokerError):
    pass


class BrokerInvalidOrderError(BrokerError):
    """The venue refused the order itself: below minimum, bad precision, unknown symbol."""


class BrokerRateLimitedError(BrokerError):
    retryable = True


class BrokerAmbiguousError(BrokerError):
    """Network failure or timeout after the request may have reached the venue, or a 5xx after
    sending: the outcome is unknown, so look the order up by client order id before resending."""

    retryable = True


class BrokerUnavailableError(BrokerError):
    """Venue down or in maintenance before accepting anything: safe to retry later."""

    retryable = True


# --- data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AssetBalance:
    asset: str
    free: Decimal
    used: Decimal
    total: Decimal


@dataclass(frozen=True)
class MarketRules:
    symbol: str  # unified, "BTC/USD"
    base: str
    quote: str
    amount_step: Decimal  # quantities round DOWN to a multiple of this
    price_tick: Decimal
    min_amount: Decimal | None
    min_cost: Decimal | None  # in the quote asset
    active: bool = True


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    order_type: OrderType
    amount: Decimal  # base asset
    client_order_id: str
    limit_price: Decimal | None = None  # required for limit and ioc


@dataclass(frozen=True)
class OrderResult:
    venue_order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    status: OrderStatus
    amount: Decimal
    filled: Decimal
    average_price: Decimal | None
    cost: Decimal | None  # quote asset
    fee: Decimal | None
    fee_asset: str | None
    acknowledged_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Trade:
    """One fill."""

    trade_id: str
    venue_order_id: str | None
    client_order_id: str | None
    symbol: str
    side: Side
    amount: Decimal  # base asset
    price: Decimal
    cost: Decimal  # quote asset
    fee: Decimal | None
    fee_asset: str | None
    occurred_at: dt.datetime


@dataclass(frozen=True)
class PermissionReport:
    can_trade: bool | None  # None = the venue gives no way to tell
    can_withdraw: bool | None
    detail: dict[str, Any] = field(default_factory=dict)


# --- interface ------------------------------------------------------------------------------
@runtime_checkable
class BrokerClient(Protocol):
    venue: str

    def fetch_balances(self) -> dict[str, AssetBalance]: ...
    def fetch_markets(self) -> dict[str, MarketRules]: ...
    def fetch_price(self, symbol: str) -> Decimal: ...
    def create_order(self, request: OrderRequest) -> OrderResult: ...
    def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None: ...
    def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]: ...
    def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult: ...
    def check_permissions(self) -> PermissionReport: ...


@runtime_checkable
class AsyncBrokerClient(Protocol):
    """Same operations, awaitable (ccxt.async_support). Used by the copy engine's fan-out."""

    venue: str

    async def fetch_balances(self) -> dict[str, AssetBalance]: ...
    async def fetch_markets(self) -> dict[str, MarketRules]: ...
    async def fetch_price(self, symbol: str) -> Decimal: ...
    async def create_order(self, request: OrderRequest) -> OrderResult: ...
    async def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None: ...
    async def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]: ...
    async def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult: ...
    async def check_permissions(self) -> PermissionReport: ...
    async def close(self) -> None: ...
