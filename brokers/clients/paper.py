"""Clients of the PAPER venue (brokers.paper_venue). The venue's work is database work; the async client
runs it through asgiref's sync_to_async (thread_sensitive: under async_to_sync it runs on the
caller's thread, connection and transaction) and sleeps the simulated latency with asyncio.

Its create_order calls are batched per event loop (_OrderBatcher): a fan-out's orders reach the
venue together and are written in one transaction, instead of queueing one by one on that thread."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import weakref
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async

from brokers import paper_venue

from .base import AssetBalance, MarketRules, OrderRequest, OrderResult, PermissionReport, Trade


def _answer(result: Any, error: BaseException | None) -> Any:
    if error is not None:
        raise error
    return result


class PaperClient:
    venue = "paper"

    def __init__(self, credential_id: int) -> None:
        self.credential_id = credential_id

    def _call(self, operation: str, *args: Any) -> Any:
        result, error, latency = paper_venue.paper_call(
            self.credential_id, operation, paper_venue.VENUE_OPERATIONS[operation], *args
        )
        if latency:
            time.sleep(latency)
        return _answer(result, error)

    def fetch_balances(self) -> dict[str, AssetBalance]:
        return self._call("fetch_balances")

    def fetch_markets(self) -> dict[str, MarketRules]:
        return self._call("fetch_markets")

    def fetch_price(self, symbol: str) -> Decimal:
        return self._call("fetch_price", symbol)

    def create_order(self, request: OrderRequest) -> OrderResult:
        result, error, latency = paper_venue.paper_orders_create([(self.credential_id, request)])[0]
        if latency:
            time.sleep(latency)
        return _answer(result, error)

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


class PaperPublicClient:
    """PAPER's public market data (markets and prices), read with no credential: no key's
    latency, faults or lock apply."""

    venue = "paper"

    def fetch_markets(self) -> dict[str, MarketRules]:
        return paper_venue.paper_markets()

    def fetch_price(self, symbol: str) -> Decimal:
        return paper_venue.paper_quote(symbol)


async def _db_run(fn: Any, *args: Any) -> Any:
    return await sync_to_async(fn, thread_sensitive=True)(*args)


class _OrderBatcher:
    """Group commit for one event loop: create_order calls that arrive while a batch is in the
    database wait and go together in the next one, one batch at a time (two at once on two threads
    measured slower: they contend for the GIL). A fan-out of 500 orders then costs one or two
    transactions, not 500; a lone order still goes at once, as a batch of one."""

    def __init__(self) -> None:
        self.running: asyncio.Task | None = None  # referenced, so the loop cannot drop it mid-batch
        self.waiting: list[tuple[int, OrderRequest, asyncio.Future]] = []
        self.scheduled = False

    def submit(self, credential_id: int, request: OrderRequest) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((credential_id, request, future))
        self._schedule()
        return future

    def _schedule(self) -> None:
        if self.waiting and not self.running and not self.scheduled:
            self.scheduled = True
            # After the current loop iteration: calls started together join one batch.
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self.scheduled = False
        limit = paper_venue.MAX_ORDER_BATCH
        batch, self.waiting = self.waiting[:limit], self.waiting[limit:]
        self.running = asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: list[tuple[int, OrderRequest, asyncio.Future]]) -> None:
        try:
            answers = await _db_run(paper_venue.paper_orders_create, [(cid, request) for cid, request, _ in batch])
        except BaseException as exc:  # the batch failed as a whole (database down): every caller sees it
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for (*_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
        finally:
            self.running = None
            self._schedule()


# One batcher per event loop: its futures belong to that loop.
_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _order_batcher() -> _OrderBatcher:
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = _OrderBatcher()
    return batcher


class AsyncPaperClient:
    venue = "paper"

    def __init__(self, credential_id: int) -> None:
        self.credential_id = credential_id

    async def _call(self, operation: str, *args: Any) -> Any:
        result, error, latency = await _db_run(
            paper_venue.paper_call, self.credential_id, operation, paper_venue.VENUE_OPERATIONS[operation], *args)
        if latency:
            await asyncio.sleep(latency)
        return _answer(result, error)

    async def fetch_balances(self) -> dict[str, AssetBalance]:
        return await self._call("fetch_balances")

    async def fetch_markets(self) -> dict[str, MarketRules]:
        return await self._call("fetch_markets")

    async def fetch_price(self, symbol: str) -> Decimal:
        return await self._call("fetch_price", symbol)

    async def create_order(self, request: OrderRequest) -> OrderResult:
        result, error, latency = await _order_batcher().submit(self.credential_id, request)
        if latency:
            await asyncio.sleep(latency)
        return _answer(result, error)

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
