"""Clients of the PAPER venue (brokers.paper). The venue's work is database work; the async client
runs it through asgiref's sync_to_async (thread_sensitive, so under async_to_sync it runs on the
caller's thread and connection) and sleeps the simulated latency with asyncio."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async

from .base import AssetBalance, MarketRules, OrderRequest, OrderResult, PermissionReport, Trade


def _venue():
    from brokers import paper  # the venue imports models; import late so clients stay importable early

    return paper


class PaperClient:
    venue = "paper"

    def __init__(self, credential_id: int) -> None:
        self.credential_id = credential_id

    def _call(self, operation: str, *args: Any) -> Any:
        paper = _venue()
        result, error, latency = paper.paper_call(
            self.credential_id, operation, paper.VENUE_OPERATIONS[operation], *args
        )
        if latency:
            time.sleep(latency)
        if error is not None:
            raise error
        return result

    def fetch_balances(self) -> dict[str, AssetBalance]:
        return self._call("fetch_balances")

    def fetch_markets(self) -> dict[str, MarketRules]:
        return self._call("fetch_markets")

    def fetch_price(self, symbol: str) -> Decimal:
        return self._call("fetch_price", symbol)

    def create_order(self, request: OrderRequest) -> OrderResult:
        return self._call("create_order", request)

    def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None:
        return self._call("fetch_order_by_client_id", symbol, client_order_id)

    def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]:
        return self._call("fetch_my_trades", symbol, since)

    def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult:
        return self._call("cancel_order", symbol, venue_order_id)

    def check_permissions(self) -> PermissionReport:
        return self._call("check_permissions")

    def close(self) -> None:
        pass


class AsyncPaperClient:
    venue = "paper"

    def __init__(self, credential_id: int) -> None:
        self.credential_id = credential_id

    async def _call(self, operation: str, *args: Any) -> Any:
        paper = _venue()
        result, error, latency = await sync_to_async(paper.paper_call, thread_sensitive=True)(
            self.credential_id, operation, paper.VENUE_OPERATIONS[operation], *args
        )
        if latency:
            await asyncio.sleep(latency)
        if error is not None:
            raise error
        return result

    async def fetch_balances(self) -> dict[str, AssetBalance]:
        return await self._call("fetch_balances")

    async def fetch_markets(self) -> dict[str, MarketRules]:
        return await self._call("fetch_markets")

    async def fetch_price(self, symbol: str) -> Decimal:
        return await self._call("fetch_price", symbol)

    async def create_order(self, request: OrderRequest) -> OrderResult:
        return await self._call("create_order", request)

    async def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderResult | None:
        return await self._call("fetch_order_by_client_id", symbol, client_order_id)

    async def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]:
        return await self._call("fetch_my_trades", symbol, since)

    async def cancel_order(self, symbol: str, venue_order_id: str) -> OrderResult:
        return await self._call("cancel_order", symbol, venue_order_id)

    async def check_permissions(self) -> PermissionReport:
        return await self._call("check_permissions")

    async def close(self) -> None:
        pass
