"""ccxt adapter, for any ccxt exchange id, sync (ccxt) and async (ccxt.async_support).

ccxt hands back floats; every number is converted through str() into Decimal here, so nothing
above this layer sees a float. ccxt's exceptions are mapped to ours (base.py), keeping the venue's
message with any of our key material scrubbed out."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import weakref
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS

from core.decimals import decimal_from_venue

from .base import (
    AssetBalance,
    BrokerAmbiguousError,
    BrokerAuthenticationError,
    BrokerError,
    BrokerInsufficientFundsError,
    BrokerInvalidOrderError,
    BrokerPermissionError,
    BrokerRateLimitedError,
    BrokerUnavailableError,
    MarketRules,
    OrderRequest,
    OrderResult,
    PermissionReport,
    Trade,
)
from .markets import markets_source, markets_source_set

SIGNATURE_RE = re.compile(r"(signature|sign|apikey|api_key|passphrase)=[^&\s\"']+", re.IGNORECASE)
# Venues where the venue can look an order up by our client order id directly.
LOOKUP_BY_PARAM = {"okx"}


def scrub(message: str, secrets: tuple[str, ...]) -> str:
    """The venue's message without any of our key material (some errors echo the request)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "****")
    return SIGNATURE_RE.sub(lambda m: f"{m.group(1)}=****", message)[:500]


def map_error(exc: Exception, *, venue: str, secrets: tuple[str, ...], sending_order: bool = False) -> BrokerError:
    """ccxt exception -> our exception class. Order matters: ccxt's classes form a hierarchy."""
    message = scrub(str(exc), secrets)
    if isinstance(exc, ccxt.PermissionDenied | ccxt.AccountSuspended):
        cls: type[BrokerError] = BrokerPermissionError
    elif isinstance(exc, ccxt.AuthenticationError):
        cls = BrokerAuthenticationError
    elif isinstance(exc, ccxt.InsufficientFunds):
        cls = BrokerInsufficientFundsError
    elif isinstance(exc, ccxt.InvalidNonce):
        cls = BrokerUnavailableError  # refused before acting: safe to retry once the key is free
    elif isinstance(exc, ccxt.InvalidOrder | ccxt.BadSymbol | ccxt.BadRequest | ccxt.ArgumentsRequired):
        cls = BrokerInvalidOrderError
    elif isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        cls = BrokerRateLimitedError
    elif isinstance(exc, ccxt.RequestTimeout):
        cls = BrokerAmbiguousError
    elif isinstance(exc, ccxt.ExchangeNotAvailable | ccxt.OnMaintenance | ccxt.NetworkError):
        # a 5xx or a dropped connection while sending an order: it may have been accepted
        cls = BrokerAmbiguousError if sending_order else BrokerUnavailableError
    elif isinstance(exc, ccxt.ExchangeError):
        cls = BrokerAmbiguousError if sending_order else BrokerUnavailableError
    else:
        cls = BrokerAmbiguousError if sending_order else BrokerUnavailableError
        message = f"{type(exc).__name__}: {message}"
    return cls(message, venue=venue)


def _step(value: Any, mode: int) -> Decimal:
    if value is None:
        return Decimal(0)
    if mode in (DECIMAL_PLACES, SIGNIFICANT_DIGITS):
        return Decimal(1).scaleb(-int(value))
    return decimal_from_venue(value)


def parse_markets(exchange: Any) -> dict[str, MarketRules]:
    rules = {}
    for symbol, market in (exchange.markets or {}).items():
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        rules[symbol] = MarketRules(
            symbol=symbol, base=market["base"], quote=market["quote"],
            amount_step=_step(precision.get("amount"), exchange.precisionMode),
            price_tick=_step(precision.get("price"), exchange.precisionMode),
            min_amount=decimal_from_venue((limits.get("amount") or {}).get("min")),
            min_cost=decimal_from_venue((limits.get("cost") or {}).get("min")),
            active=market.get("active") is not False,
        )
    return rules


def parse_balances(raw: dict) -> dict[str, AssetBalance]:
    result = {}
    for asset, total in (raw.get("total") or {}).items():
        total_d = decimal_from_venue(total)
        if total_d is None:
            continue
        free = decimal_from_venue((raw.get("free") or {}).get(asset))
        used = decimal_from_venue((raw.get("used") or {}).get(asset))
        if free is None and used is not None:
            free = total_d - used
        if used is None:
            used = total_d - (free if free is not None else total_d)
        result[asset] = AssetBalance(asset=asset, free=free if free is not None else total_d, used=used, total=total_d)
    return result


def parse_price(ticker: dict) -> Decimal:
    for key in ("last", "close"):
        value = decimal_from_venue(ticker.get(key))
        if value:
            return value
    bid, ask = decimal_from_venue(ticker.get("bid")), decimal_from_venue(ticker.get("ask"))
    if bid and ask:
        return (bid + ask) / 2
    raise BrokerUnavailableError(f"no price in the ticker of {ticker.get('symbol')}")


def _status(order: dict, filled: Decimal | None) -> str:
    status = order.get("status")
    if status == "closed":
        return "filled"
    if status in ("canceled", "expired"):
        return "partially_filled" if filled else "canceled"
    if status == "rejected":
        return "rejected"
    if status == "open" and filled:
        return "partially_filled"
    return "open"


def _timestamp(ms: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.UTC) if ms else None


def parse_order(order: dict, request: OrderRequest | None = None) -> OrderResult:
    filled = decimal_from_venue(order.get("filled"))
    fee = order.get("fee") or {}
    return OrderResult(
        venue_order_id=str(order.get("id") or ""),
        client_order_id=order.get("clientOrderId") or (request.client_order_id if request else None),
        symbol=order.get("symbol") or (request.symbol if request else ""),
        side=order.get("side") or (request.side if request else "buy"),
        status=_status(order, filled),
        amount=decimal_from_venue(order.get("amount")) or (request.amount if request else Decimal(0)),
        filled=filled or Decimal(0),
        average_price=decimal_from_venue(order.get("average")),
        cost=decimal_from_venue(order.get("cost")),
        fee=decimal_from_venue(fee.get("cost")),
        fee_asset=fee.get("currency"),
        acknowledged_at=_timestamp(order.get("timestamp")),
        raw=order.get("info") or {},
    )


def parse_trade(trade: dict) -> Trade:
    fee = trade.get("fee") or {}
    amount = decimal_from_venue(trade.get("amount")) or Decimal(0)
    price = decimal_from_venue(trade.get("price")) or Decimal(0)
    fee_cost = decimal_from_venue(fee.get("cost"))
    return Trade(
        trade_id=str(trade.get("id")), venue_order_id=trade.get("order"),
        client_order_id=(trade.get("info") or {}).get("clOrdId") or (trade.get("info") or {}).get("cl_ord_id")
        or (trade.get("info") or {}).get("client_order_id") or trade.get("clientOrderId"),
        symbol=trade.get("symbol"), side=trade.get("side"), amount=amount, price=price,
        cost=decimal_from_venue(trade.get("cost")) or amount * price,
        fee=abs(fee_cost) if fee_cost is not None else None, fee_asset=fee.get("currency"),
        occurred_at=_timestamp(trade.get("timestamp")) or dt.datetime.now(dt.UTC),
    )


def order_arguments(request: OrderRequest) -> tuple[str, str, str, float, float | None, dict]:
    """ccxt takes floats for amount/price; the Decimal is already on the venue's step, and str()
    of the float built from it gives the same digits back."""
    params: dict[str, Any] = {"clientOrderId": request.client_order_id}
    order_type = request.order_type
    if order_type == "ioc":
        order_type = "limit"
        params["timeInForce"] = "IOC"
    price = float(request.limit_price) if request.limit_price is not None else None
    return request.symbol, order_type, request.side, float(request.amount), price, params


def permissions_from(venue: str, payload: Any) -> PermissionReport:
    """Read what a key may do from the venue's own answer (see check_permissions)."""
    if venue == "okx":
        perm = ((payload.get("data") or [{}])[0]).get("perm", "")
        rights = {p.strip() for p in perm.split(",") if p.strip()}
        return PermissionReport(can_trade="trade" in rights, can_withdraw="withdraw" in rights, detail={"perm": perm})
    if venue == "coinbase":
        return PermissionReport(
            can_trade=bool(payload.get("can_trade")), can_withdraw=bool(payload.get("can_transfer")),
            detail={k: payload.get(k) for k in ("can_view", "can_trade", "can_transfer", "portfolio_type")},
        )
    return PermissionReport(can_trade=None, can_withdraw=None, detail={"note": "the venue gives no permission check"})


# Markets are public and the same for every key of an exchange, but each ccxt instance loads them
# itself (one or two large requests, then parsing) before its first call. A copy fan-out builds an
# instance per follower credential, so every instance takes them from one loaded instance per
# exchange and process instead (ccxt's set_markets_from_exchange, which also copies the helper
# options some exchanges build while loading), kept in the one markets cache (clients/markets.py)
# and reloaded from the venue once that entry expires.


class _Common:
    _library: Any  # ccxt or ccxt.async_support: the same exchange classes, sync or awaitable

    def __init__(self, *, exchange_id: str, api_key: str, api_secret: str, passphrase: str = "",
                 sandbox: bool = False) -> None:
        self.venue = exchange_id
        self._secrets = (api_key, api_secret, passphrase)
        self.exchange = getattr(self._library, exchange_id)(self._config(api_key, api_secret, passphrase))
        self._markets_key = (exchange_id, sandbox)
        # A long-lived instance (the venue's public client) reloads when the cached markets expire;
        # a credential's instance keeps the markets it took.
        self.markets_refresh = False
        if sandbox:
            self.exchange.set_sandbox_mode(True)

    def _markets_shared(self) -> bool:
        """Take the markets another instance loaded, if any is fresh. True when the markets are set."""
        source = markets_source(self._markets_key)
        if self.exchange.markets and (source is self.exchange or not self.markets_refresh):
            return True
        if source is not None:
            if source is not self.exchange:
                self.exchange.set_markets_from_exchange(source)
            return True
        return False

    def _config(self, api_key: str, api_secret: str, passphrase: str) -> dict:
        return {"apiKey": api_key, "secret": api_secret, "password": passphrase or None, "enableRateLimit": True,
                "timeout": 15000}

    def _error(self, exc: Exception, *, sending_order: bool = False) -> BrokerError:
        return map_error(exc, venue=self.venue, secrets=self._secrets, sending_order=sending_order)


class CcxtClient(_Common):
    _library = ccxt

    def _markets(self) -> None:
        if not self._markets_shared():
            self.exchange.load_markets(reload=True)
            markets_source_set(self._markets_key, self.exchange)

    def fetch_balances(self) -> dict[str, AssetBalance]:
        try:
            self._markets()  # ccxt loads them inside fetch_balance otherwise: take the shared ones
            return parse_balances(self.exchange.fetch_balance())
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    def fetch_markets(self) -> dict[str, MarketRules]:
        try:
            self._markets()
            return parse_markets(self.exchange)
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    def fetch_price(self, symbol: str) -> Decimal:
        try:
            self._markets()
            return parse_price(self.exchange.fetch_ticker(symbol))
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    def create_order(self, request: OrderRequest) -> OrderResult:
        try:
            self._markets()
        except ccxt.BaseError as exc:
            raise self._error(exc) from None
        try:
            return parse_order(self.exchange.create_order(*order_arguments(request)), request)
        except ccxt.BaseError as exc:
            raise self._error(exc, sending_order=True) from None

    def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None:
        try:
            self._markets()
            if self.venue in LOOKUP_BY_PARAM:
                return parse_order(self.exchange.fetch_order("", symbol, {"clientOrderId": client_order_id}))
            for fetch in (self.exchange.fetch_open_orders, self.exchange.fetch_closed_orders):
                for order in fetch(symbol):
                    if order.get("clientOrderId") == client_order_id:
                        return parse_order(order)
            return None
        except ccxt.OrderNotFound:
            return None
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]:
        try:
            self._markets()
            since_ms = int(since.timestamp() * 1000) if since else None
            return [parse_trade(t) for t in self.exchange.fetch_my_trades(symbol, since_ms)]
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult:
        try:
            self._markets()
            raw = self.exchange.cancel_order(venue_order_id, symbol)
        except ccxt.BaseError as exc:
            raise self._error(exc) from None
        raw = {**raw, "id": raw.get("id") or venue_order_id, "symbol": raw.get("symbol") or symbol,
               "status": raw.get("status") or "canceled"}
        return parse_order(raw)

    def check_permissions(self) -> PermissionReport:
        try:
            if self.venue == "okx":
                return permissions_from("okx", self.exchange.private_get_account_config())
            if self.venue == "coinbase":
                return permissions_from("coinbase", self.exchange.v3_private_get_brokerage_key_permissions())
            if self.venue == "kraken":
                return self._kraken_withdraw_probe()
        except ccxt.BaseError as exc:
            raise self._error(exc) from None
        return permissions_from(self.venue, {})

    def _kraken_withdraw_probe(self) -> PermissionReport:
        """Kraken has no key-permission endpoint: listing withdrawal methods needs the withdraw
        right, so success means the key can withdraw and "Permission denied" means it cannot."""
        try:
            self.exchange.private_post_withdrawmethods()
        except ccxt.PermissionDenied:
            return PermissionReport(can_trade=None, can_withdraw=False, detail={"probe": "WithdrawMethods denied"})
        return PermissionReport(can_trade=None, can_withdraw=True, detail={"probe": "WithdrawMethods allowed"})

    def close(self) -> None:
        pass


_loading: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {markets key: loading future}


class AsyncCcxtClient(_Common):
    _library = ccxt_async

    async def _markets(self) -> None:
        if self._markets_shared():
            return
        # One load per exchange for all the instances of this event loop that need it at once.
        loading = _loading.setdefault(asyncio.get_running_loop(), {})
        pending = loading.get(self._markets_key)
        if pending is None:
            pending = loading[self._markets_key] = asyncio.ensure_future(self._markets_load())
            pending.add_done_callback(lambda _done, key=self._markets_key: loading.pop(key, None))
        source = await asyncio.shield(pending)
        if source is not self.exchange:
            self.exchange.set_markets_from_exchange(source)

    async def _markets_load(self) -> Any:
        await self.exchange.load_markets(reload=True)
        markets_source_set(self._markets_key, self.exchange)
        return self.exchange

    async def fetch_balances(self) -> dict[str, AssetBalance]:
        try:
            await self._markets()  # ccxt loads them inside fetch_balance otherwise: take the shared ones
            return parse_balances(await self.exchange.fetch_balance())
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    async def fetch_markets(self) -> dict[str, MarketRules]:
        try:
            await self._markets()
            return parse_markets(self.exchange)
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    async def fetch_price(self, symbol: str) -> Decimal:
        try:
            await self._markets()
            return parse_price(await self.exchange.fetch_ticker(symbol))
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    async def create_order(self, request: OrderRequest) -> OrderResult:
        try:
            await self._markets()
        except ccxt.BaseError as exc:
            raise self._error(exc) from None
        try:
            return parse_order(await self.exchange.create_order(*order_arguments(request)), request)
        except ccxt.BaseError as exc:
            raise self._error(exc, sending_order=True) from None

    async def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None:
        try:
            await self._markets()
            if self.venue in LOOKUP_BY_PARAM:
                return parse_order(await self.exchange.fetch_order("", symbol, {"clientOrderId": client_order_id}))
            for fetch in (self.exchange.fetch_open_orders, self.exchange.fetch_closed_orders):
                for order in await fetch(symbol):
                    if order.get("clientOrderId") == client_order_id:
                        return parse_order(order)
            return None
        except ccxt.OrderNotFound:
            return None
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    async def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]:
        try:
            await self._markets()
            since_ms = int(since.timestamp() * 1000) if since else None
            return [parse_trade(t) for t in await self.exchange.fetch_my_trades(symbol, since_ms)]
        except ccxt.BaseError as exc:
            raise self._error(exc) from None

    async def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult:
        try:
            await self._markets()
            raw = await self.exchange.cancel_order(venue_order_id, symbol)
        except ccxt.BaseError as exc:
            raise self._error(exc) from None
        raw = {**raw, "id": raw.get("id") or venue_order_id, "symbol": raw.get("symbol") or symbol,
               "status": raw.get("status") or "canceled"}
        return parse_order(raw)

    async def check_permissions(self) -> PermissionReport:
        try:
            if self.venue == "okx":
                return permissions_from("okx", await self.exchange.private_get_account_config())
            if self.venue == "coinbase":
                return permissions_from("coinbase", await self.exchange.v3_private_get_brokerage_key_permissions())
            if self.venue == "kraken":
                try:
                    await self.exchange.private_post_withdrawmethods()
                except ccxt.PermissionDenied:
                    return PermissionReport(can_trade=None, can_withdraw=False,
                                            detail={"probe": "WithdrawMethods denied"})
                return PermissionReport(can_trade=None, can_withdraw=True, detail={"probe": "WithdrawMethods allowed"})
        except ccxt.BaseError as exc:
            raise self._error(exc) from None
        return permissions_from(self.venue, {})

    async def close(self) -> None:
        await self.exchange.close()
