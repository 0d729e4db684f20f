"""Clients of the PAPER venue (brokers.paper). The venue's work is database work; the async client
runs it through asgiref's sync_to_async (thread_sensitive, so under async_to_sync it runs on the
caller's thread and connection) and sleeps the simulated latency with asyncio.

Thread-sensitive means every call of one event loop queues on one thread. A caller that fans out
many calls (the copy engine) and is not inside a transaction can open `paper_db_threads(n)`: within
it the async client runs the venue's DB work on n threads, each with its own connection, closed when
the block ends. Only where the database takes concurrent writers (not SQLite)."""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async

from .base import AssetBalance, MarketRules, OrderRequest, OrderResult, PermissionReport, Trade


def _venue():
    from brokers import paper  # the venue imports models; import late so clients stay importable early

    return paper


_db_pool: contextvars.ContextVar[ThreadPoolExecutor | None] = contextvars.ContextVar("nija_paper_db_pool",
                                                                                     default=None)
# Idle pools of this process, by size. A pool serves one block at a time and is kept for the next
# one, so its threads keep their DB connections (Django's CONN_MAX_AGE decides for how long).
_idle_pools: dict[int, list[ThreadPoolExecutor]] = {}
_idle_pools_pid = 0
_idle_guard = threading.Lock()


def paper_db_threads_usable() -> bool:
    """Parallel PAPER work needs a database with concurrent writers, and a caller outside any
    transaction (other threads' connections would not see its uncommitted rows)."""
    from django.db import connection

    return connection.vendor != "sqlite" and not connection.in_atomic_block


@contextmanager
def paper_db_threads(threads: int) -> Iterator[bool]:
    """Within this block (and the async_to_sync loops it starts, which copy the context), the async
    client runs PAPER's DB work on `threads` threads. Yields whether it is on: it stays off (the
    thread-sensitive default) when `paper_db_threads_usable()` is false or threads < 2.
    When the block ends, each thread's connection is closed if unusable or older than
    CONN_MAX_AGE (always, with CONN_MAX_AGE=0), as Django does at the end of a request."""
    if threads < 2 or not paper_db_threads_usable():
        yield False
        return
    pool = _pool_take(threads)
    token = _db_pool.set(pool)
    try:
        yield True
    finally:
        _db_pool.reset(token)
        _on_every_thread(pool, threads, _connections_tidy)
        with _idle_guard:
            _idle_pools.setdefault(threads, []).append(pool)


def _pool_take(threads: int) -> ThreadPoolExecutor:
    global _idle_pools_pid
    with _idle_guard:
        if _idle_pools_pid != os.getpid():  # forked (prefork worker): the parent's threads do not exist here
            _idle_pools.clear()
            _idle_pools_pid = os.getpid()
        idle = _idle_pools.get(threads)
        if idle:
            return idle.pop()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="paper-db")
    _on_every_thread(pool, threads, lambda: None)  # start all threads now: see _on_every_thread
    return pool


def _on_every_thread(pool: ThreadPoolExecutor, threads: int, fn: Any) -> None:
    """Run fn once on each thread of an idle pool. Each job waits at a barrier until all have
    started, so no thread takes two; when the pool has fewer threads, the jobs that cannot start
    make it spawn the missing ones (it spawns while it has fewer than max_workers)."""
    barrier = threading.Barrier(threads, timeout=10)

    def job() -> None:
        with suppress(threading.BrokenBarrierError):  # never hang: still run fn on this thread
            barrier.wait()
        fn()

    for future in [pool.submit(job) for _ in range(threads)]:
        future.result()


def _connections_tidy() -> None:
    from django.db import close_old_connections

    close_old_connections()


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
        pool = _db_pool.get()
        if pool is not None:
            result, error, latency = await asyncio.get_running_loop().run_in_executor(
                pool, paper.paper_call, self.credential_id, operation, paper.VENUE_OPERATIONS[operation], *args
            )
        else:
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
