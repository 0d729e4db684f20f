"""Alpaca adapter on alpaca-py (TradingClient + the crypto/stock data clients). alpaca-py is
synchronous; the async client runs each call in a thread. Alpaca's trading API cannot withdraw,
so a key's only permission question is whether the account may trade."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import CryptoHistoricalDataClient, StockHistoricalDataClient
from alpaca.data.requests import CryptoLatestTradeRequest, StockLatestTradeRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, AssetStatus, OrderSide, TimeInForce
from alpaca.trading.requests import GetAssetsRequest, GetOrdersRequest, LimitOrderRequest, MarketOrderRequest

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
from .ccxt_client import scrub

VENUE = "alpaca"
STATUS = {
    "filled": "filled", "partially_filled": "partially_filled", "canceled": "canceled", "expired": "canceled",
    "rejected": "rejected", "done_for_day": "canceled",
}


def _symbol_asset(symbol: str) -> str:
    """Alpaca positions name crypto 'BTCUSD'; our balances use the asset code 'BTC'."""
    return symbol[:-3] if symbol.endswith("USD") and len(symbol) > 3 and "/" not in symbol else symbol.split("/")[0]


def map_error(exc: Exception, *, secrets: tuple[str, ...], sending_order: bool = False) -> BrokerError:
    if isinstance(exc, APIError):
        status = exc.status_code
        try:
            text = exc.message
        except (ValueError, KeyError, TypeError):
            text = str(exc)
        message = scrub(f"{status} {text}", secrets)
        lowered = text.lower()
        if status == 401:
            return BrokerAuthenticationError(message, venue=VENUE)
        if status == 403:
            if "insufficient" in lowered or "buying power" in lowered:
                return BrokerInsufficientFundsError(message, venue=VENUE)
            return BrokerPermissionError(message, venue=VENUE)
        if status == 429:
            return BrokerRateLimitedError(message, venue=VENUE)
        if status in (400, 404, 422):
            if "insufficient" in lowered:
                return BrokerInsufficientFundsError(message, venue=VENUE)
            return BrokerInvalidOrderError(message, venue=VENUE)
        cls = BrokerAmbiguousError if sending_order else BrokerUnavailableError
        return cls(message, venue=VENUE)
    message = scrub(f"{type(exc).__name__}: {exc}", secrets)
    if isinstance(exc, requests.Timeout | requests.ConnectionError) and sending_order:
        return BrokerAmbiguousError(message, venue=VENUE)
    return (BrokerAmbiguousError if sending_order else BrokerUnavailableError)(message, venue=VENUE)


def _ts(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def parse_order(order: Any) -> OrderResult:
    status = getattr(order.status, "value", order.status)
    filled = decimal_from_venue(order.filled_qty) or Decimal(0)
    average = decimal_from_venue(order.filled_avg_price)
    mapped = STATUS.get(status, "open")
    if mapped == "canceled" and filled:
        mapped = "partially_filled"
    return OrderResult(
        venue_order_id=str(order.id), client_order_id=order.client_order_id, symbol=order.symbol,
        side=getattr(order.side, "value", order.side), status=mapped,
        amount=decimal_from_venue(order.qty) or Decimal(0), filled=filled, average_price=average,
        cost=filled * average if average is not None else None, fee=None, fee_asset=None,
        acknowledged_at=_ts(order.submitted_at or order.created_at),
        raw={"id": str(order.id), "status": status},
    )


class AlpacaClient:
    venue = VENUE

    def __init__(self, *, api_key: str, api_secret: str, paper: bool = False) -> None:
        self._secrets = (api_key, api_secret)
        self.trading = TradingClient(api_key, api_secret, paper=paper)
        # Our callers decide about retries (and must look orders up first); alpaca-py's own
        # sleep-and-retry on 429 would hold the credential lock for seconds.
        self.trading._retry = 0
        self.crypto_data = CryptoHistoricalDataClient(api_key, api_secret)
        self.stock_data = StockHistoricalDataClient(api_key, api_secret)
        for data_client in (self.crypto_data, self.stock_data):
            data_client._retry = 0

    def _call(self, fn, *args: Any, sending_order: bool = False, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (APIError, requests.RequestException) as exc:
            raise map_error(exc, secrets=self._secrets, sending_order=sending_order) from None

    def fetch_balances(self) -> dict[str, AssetBalance]:
        account = self._call(self.trading.get_account)
        positions = self._call(self.trading.get_all_positions)
        cash = decimal_from_venue(account.cash) or Decimal(0)
        buying = decimal_from_venue(getattr(account, "non_marginable_buying_power", None))
        free = min(cash, buying) if buying is not None else cash
        balances = {"USD": AssetBalance(asset="USD", free=free, used=cash - free, total=cash)}
        for position in positions:
            qty = decimal_from_venue(position.qty) or Decimal(0)
            available = decimal_from_venue(getattr(position, "qty_available", None))
            free_qty = available if available is not None else qty
            asset = _symbol_asset(position.symbol)
            balances[asset] = AssetBalance(asset=asset, free=free_qty, used=qty - free_qty, total=qty)
        return balances

    def fetch_markets(self) -> dict[str, MarketRules]:
        assets = self._call(self.trading.get_all_assets,
                            GetAssetsRequest(asset_class=AssetClass.CRYPTO, status=AssetStatus.ACTIVE))
        rules = {}
        for asset in assets:
            if "/" not in asset.symbol:
                continue
            base, quote = asset.symbol.split("/")
            rules[asset.symbol] = MarketRules(
                symbol=asset.symbol, base=base, quote=quote,
                amount_step=decimal_from_venue(asset.min_trade_increment) or Decimal("0.000000001"),
                price_tick=decimal_from_venue(asset.price_increment) or Decimal("0.01"),
                min_amount=decimal_from_venue(asset.min_order_size), min_cost=Decimal("1"),
                active=bool(asset.tradable),
            )
        return rules

    def fetch_price(self, symbol: str) -> Decimal:
        if "/" in symbol:
            trades = self._call(self.crypto_data.get_crypto_latest_trade,
                                CryptoLatestTradeRequest(symbol_or_symbols=symbol))
        else:
            trades = self._call(self.stock_data.get_stock_latest_trade,
                                StockLatestTradeRequest(symbol_or_symbols=symbol))
        trade = trades.get(symbol)
        if trade is None:
            raise BrokerUnavailableError(f"no latest trade for {symbol}", venue=VENUE)
        return decimal_from_venue(trade.price)

    def create_order(self, request: OrderRequest) -> OrderResult:
        crypto = "/" in request.symbol
        common = {"symbol": request.symbol, "qty": float(request.amount), "side": OrderSide(request.side),
                  "client_order_id": request.client_order_id}
        if request.order_type == "market":
            order_request = MarketOrderRequest(time_in_force=TimeInForce.GTC if crypto else TimeInForce.DAY, **common)
        else:
            tif = TimeInForce.IOC if request.order_type == "ioc" else (TimeInForce.GTC if crypto else TimeInForce.DAY)
            order_request = LimitOrderRequest(time_in_force=tif, limit_price=float(request.limit_price), **common)
        return parse_order(self._call(self.trading.submit_order, order_request, sending_order=True))

    def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None:
        try:
            order = self.trading.get_order_by_client_id(client_order_id)
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise map_error(exc, secrets=self._secrets) from None
        except requests.RequestException as exc:
            raise map_error(exc, secrets=self._secrets) from None
        return parse_order(order)

    def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]:
        params: dict[str, Any] = {"direction": "asc", "page_size": 100}
        if since is not None:
            params["after"] = since.astimezone(dt.UTC).isoformat()
        # alpaca-py has no wrapper for account activities; its REST client signs the call.
        rows = self._call(self.trading.get, "/account/activities/FILL", params)
        trades = []
        for row in rows or []:
            if symbol and row.get("symbol") not in (symbol, symbol.replace("/", "")):
                continue
            amount, price = decimal_from_venue(row.get("qty")), decimal_from_venue(row.get("price"))
            trades.append(Trade(
                trade_id=str(row.get("id")), venue_order_id=row.get("order_id"), client_order_id=None,
                symbol=row.get("symbol"), side=row.get("side"), amount=amount, price=price, cost=amount * price,
                fee=None, fee_asset=None, occurred_at=_ts(row.get("transaction_time")),
            ))
        return trades

    def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult:
        self._call(self.trading.cancel_order_by_id, venue_order_id)
        return parse_order(self._call(self.trading.get_order_by_id, venue_order_id))

    def check_permissions(self) -> PermissionReport:
        account = self._call(self.trading.get_account)
        blocked = bool(account.trading_blocked or account.account_blocked)
        return PermissionReport(
            can_trade=not blocked, can_withdraw=False,
            detail={"status": getattr(account.status, "value", str(account.status)), "trading_blocked": blocked,
                    "note": "Alpaca's trading API cannot move funds out"},
        )

    def open_orders(self) -> list[OrderResult]:
        return [parse_order(o) for o in self._call(self.trading.get_orders, GetOrdersRequest(status="open"))]

    def close(self) -> None:
        pass


class AsyncAlpacaClient:
    """alpaca-py is synchronous: each call runs in a worker thread so the event loop keeps going."""

    venue = VENUE

    def __init__(self, *, api_key: str, api_secret: str, paper: bool = False) -> None:
        self.sync = AlpacaClient(api_key=api_key, api_secret=api_secret, paper=paper)

    async def fetch_balances(self) -> dict[str, AssetBalance]:
        return await asyncio.to_thread(self.sync.fetch_balances)

    async def fetch_markets(self) -> dict[str, MarketRules]:
        return await asyncio.to_thread(self.sync.fetch_markets)

    async def fetch_price(self, symbol: str) -> Decimal:
        return await asyncio.to_thread(self.sync.fetch_price, symbol)

    async def create_order(self, request: OrderRequest) -> OrderResult:
        return await asyncio.to_thread(self.sync.create_order, request)

    async def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None:
        return await asyncio.to_thread(self.sync.fetch_order_by_client_id, symbol, client_order_id)

    async def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]:
        return await asyncio.to_thread(self.sync.fetch_my_trades, symbol=symbol, since=since)

    async def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult:
        return await asyncio.to_thread(self.sync.cancel_order, symbol, venue_order_id)

    async def check_permissions(self) -> PermissionReport:
        return await asyncio.to_thread(self.sync.check_permissions)

    async def close(self) -> None:
        pass
