"""PAPER's async client on a bounded thread pool (brokers.clients.paper.paper_db_threads): the copy
engine's fan-out runs PAPER's database work in parallel on PostgreSQL, and must keep the venue's
guarantees (client order id dedup, balances) and leave no connection behind."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from brokers.clients.base import OrderRequest
from brokers.clients.paper import AsyncPaperClient, paper_db_threads
from brokers.models import PaperBalance, PaperOrder, PaperTrade
from brokers.paper import VENUE_OPERATIONS, paper_behaviour_set


def market_buy(amount: str, cid: str) -> OrderRequest:
    return OrderRequest(symbol="BTC/USD", side="buy", order_type="market", amount=Decimal(amount), client_order_id=cid)


def _db_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_the_pool_stays_off_inside_a_transaction(paper_credential):
    # A test's transaction (or any caller's) holds rows other connections cannot see: PAPER's
    # work must then stay on the caller's connection.
    credential = paper_credential(usd="1000")
    with paper_db_threads(4) as on:
        result = async_to_sync(AsyncPaperClient(credential.pk).create_order)(market_buy("0.001", "in-tx"))
    assert on is False
    assert result.status == "filled"
    assert PaperOrder.objects.filter(client_order_id="in-tx").count() == 1


def test_orders_run_on_the_pool_and_leave_no_connection_behind(postgres, transactional_db, paper_credential):
    credentials = [paper_credential(usd="1000") for _ in range(6)]
    for credential in credentials:
        paper_behaviour_set(credential=credential, latency_ms=20)
    threads_seen: set[str] = set()
    create = VENUE_OPERATIONS["create_order"]

    def spy(credential_id, request):
        threads_seen.add(threading.current_thread().name)
        return create(credential_id, request)

    async def fan_out():
        return await asyncio.gather(*(AsyncPaperClient(c.pk).create_order(market_buy("0.001", f"par-{c.pk}"))
                                      for c in credentials))

    sessions_before = _db_sessions()
    VENUE_OPERATIONS["create_order"] = spy
    try:
        with paper_db_threads(3) as on:
            results = async_to_sync(fan_out)()
    finally:
        VENUE_OPERATIONS["create_order"] = create
    assert on is True
    assert all(name.startswith("paper-db") for name in threads_seen) and len(threads_seen) > 1
    assert [r.status for r in results] == ["filled"] * 6
    for credential in credentials:
        assert PaperOrder.objects.filter(credential=credential).count() == 1
        assert PaperTrade.objects.filter(credential=credential).count() == 1
        assert PaperBalance.objects.get(credential=credential, asset="BTC").free == Decimal("0.001")
    # CONN_MAX_AGE is 0 under test: every pool thread closed its connection when the block ended.
    assert _db_sessions() == sessions_before


def test_two_concurrent_sends_of_one_client_order_id_make_one_order(postgres, transactional_db, paper_credential):
    # No credential lock here (the bare client): both calls miss the existing order, the database's
    # unique key stops the second, and the venue answers it with the first order, charging once.
    credential = paper_credential(usd="1000")
    client = AsyncPaperClient(credential.pk)

    async def twice():
        return await asyncio.gather(client.create_order(market_buy("0.002", "dup")),
                                    client.create_order(market_buy("0.002", "dup")))

    with paper_db_threads(2):
        first, second = async_to_sync(twice)()
    assert first.venue_order_id == second.venue_order_id
    assert PaperOrder.objects.filter(credential=credential).count() == 1
    assert PaperTrade.objects.filter(credential=credential).count() == 1
    assert PaperBalance.objects.get(credential=credential, asset="BTC").free == Decimal("0.002")


@pytest.mark.parametrize("threads", [0, 1])
def test_fewer_than_two_threads_is_the_thread_sensitive_default(paper_credential, threads):
    with paper_db_threads(threads) as on:
        assert on is False
