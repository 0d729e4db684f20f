"""PAPER takes orders in batches (brokers.paper_venue.paper_orders_create; the async client groups the
calls of one event loop): one transaction per batch, while every order keeps its own outcome,
balances move exactly as they would one order at a time, and a client order id is never filled twice."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from brokers import paper_venue
from brokers.clients.base import (
    BrokerAmbiguousError,
    BrokerAuthenticationError,
    BrokerInsufficientFundsError,
    BrokerInvalidOrderError,
    OrderRequest,
)
from brokers.clients.paper import AsyncPaperClient
from brokers.models import PaperBalance, PaperOrder, PaperTrade
from brokers.paper_venue import paper_behaviour_set, paper_orders_create, paper_price_set
from brokers.services import credential_status_set


def market_buy(amount: str, cid: str, symbol: str = "BTC/USD") -> OrderRequest:
    return OrderRequest(symbol=symbol, side="buy", order_type="market", amount=Decimal(amount), client_order_id=cid)


def usd(credential) -> Decimal:
    return PaperBalance.objects.get(credential=credential, asset="USD").free


def btc(credential) -> Decimal:
    return PaperBalance.objects.filter(credential=credential, asset="BTC").values_list("free", flat=True).first()


def test_orders_started_together_reach_the_venue_as_one_batch(paper_credential, monkeypatch):
    credentials = [paper_credential(usd="1000") for _ in range(6)]
    for credential in credentials:
        paper_behaviour_set(credential=credential, latency_ms=20)
    batch_sizes: list[int] = []
    create = paper_venue.paper_orders_create

    def spy(calls):
        batch_sizes.append(len(calls))
        return create(calls)

    async def fan_out():
        return await asyncio.gather(*(AsyncPaperClient(c.pk).create_order(market_buy("0.001", f"b-{c.pk}"))
                                      for c in credentials))

    monkeypatch.setattr(paper_venue, "paper_orders_create", spy)
    results = async_to_sync(fan_out)()
    assert batch_sizes == [6]  # one transaction for six orders, not six
    assert [r.status for r in results] == ["filled"] * 6
    for credential in credentials:
        assert PaperOrder.objects.filter(credential=credential).count() == 1
        assert PaperTrade.objects.filter(credential=credential).count() == 1
        assert btc(credential) == Decimal("0.001")
        assert usd(credential) == Decimal("1000") - Decimal("50") - Decimal("0.125")


def test_every_order_of_a_batch_keeps_its_own_outcome(paper_credential):
    paper_price_set(symbol="BTC/USD", price="50000")
    good, off_step, poor, twice, dup, known, revoked = (paper_credential(usd="1000") for _ in range(7))
    poor_usd = paper_credential(usd="10")
    earlier = paper_orders_create([(known.pk, market_buy("0.001", "known-1"))])[0][0]
    credential_status_set(actor="test", credential=revoked, status="disabled", reason="test")
    answers = paper_orders_create([
        (good.pk, market_buy("0.01", "g-1")),
        (off_step.pk, market_buy("0.000015", "o-1")),  # not a multiple of the 0.00001 step
        (poor_usd.pk, market_buy("0.01", "p-1")),
        (twice.pk, market_buy("0.015", "t-1")),  # 750 + 1.875 fee of 1000
        (twice.pk, market_buy("0.005", "t-2")),  # 250 + 0.625 of the 248.125 left: refused
        (twice.pk, market_buy("0.004", "t-3")),  # 200 + 0.5 fits what is left
        (dup.pk, market_buy("0.002", "d-1")),
        (dup.pk, market_buy("0.002", "d-1")),  # same client order id in the same batch
        (known.pk, market_buy("0.001", "known-1")),  # stored by an earlier batch
        (revoked.pk, market_buy("0.001", "r-1")),
    ])
    (g, _, _), (o, o_err, _), (p, p_err, _), (t1, _, _), (t2, t2_err, _), (t3, _, _), (d1, _, _), (d2, _, _), \
        (k, _, _), (r, r_err, _) = answers
    assert g.status == "filled" and btc(good) == Decimal("0.01") and usd(good) == Decimal("498.75")
    assert o is None and isinstance(o_err, BrokerInvalidOrderError) and "multiple of" in o_err.venue_message
    assert p is None and isinstance(p_err, BrokerInsufficientFundsError)
    assert not PaperOrder.objects.filter(credential__in=[off_step, poor_usd]).exists()
    assert usd(poor_usd) == Decimal("10") and usd(off_step) == Decimal("1000")
    assert t1.status == t3.status == "filled" and t2 is None and isinstance(t2_err, BrokerInsufficientFundsError)
    assert btc(twice) == Decimal("0.019") and usd(twice) == Decimal("1000") - Decimal("751.875") - Decimal("200.5")
    assert sorted(PaperOrder.objects.filter(credential=twice).values_list("client_order_id", flat=True)) == [
        "t-1", "t-3"]
    assert d1.venue_order_id == d2.venue_order_id and PaperOrder.objects.filter(credential=dup).count() == 1
    assert btc(dup) == Decimal("0.002")
    assert k.venue_order_id == earlier.venue_order_id and btc(known) == Decimal("0.001")
    assert r is None and isinstance(r_err, BrokerAuthenticationError)


def test_injected_faults_hit_only_their_own_orders_in_a_batch(paper_credential):
    fine, five_hundred, accepted_then_timeout = (paper_credential(usd="1000") for _ in range(3))
    paper_behaviour_set(credential=five_hundred, fault="server_error", operations=["create_order"])
    paper_behaviour_set(credential=accepted_then_timeout, fault="timeout_after_accept")
    (ok, _, _), (lost, lost_err, _), (late, late_err, _) = paper_orders_create([
        (fine.pk, market_buy("0.001", "f-1")),
        (five_hundred.pk, market_buy("0.001", "5-1")),
        (accepted_then_timeout.pk, market_buy("0.001", "a-1")),
    ])
    assert ok.status == "filled"
    assert lost is None and isinstance(lost_err, BrokerAmbiguousError)
    assert not PaperOrder.objects.filter(credential=five_hundred).exists()  # a 5xx: nothing reached the book
    assert late is None and isinstance(late_err, BrokerAmbiguousError)
    assert PaperOrder.objects.filter(credential=accepted_then_timeout, client_order_id="a-1").count() == 1


def test_two_processes_sending_one_client_order_id_fill_it_once(postgres, transactional_db, paper_credential):
    # Two batches on two connections at the same moment (a redelivered task racing the original):
    # the balance row lock orders them, and the second finds the first's order.
    credential = paper_credential(usd="1000")
    start = threading.Barrier(2)
    answers: list = []

    def send() -> None:
        try:
            start.wait(5)
            answers.append(paper_orders_create([(credential.pk, market_buy("0.002", "race"))])[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [error for _, error, _ in answers] == [None, None]
    assert answers[0][0].venue_order_id == answers[1][0].venue_order_id
    assert PaperOrder.objects.filter(credential=credential).count() == 1
    assert PaperTrade.objects.filter(credential=credential).count() == 1
    assert btc(credential) == Decimal("0.002")


@pytest.mark.parametrize("size", [1, 1200])
def test_a_batch_of_any_size_is_written_whole(paper_credential, size):
    # 1,200 is past MAX_ORDER_BATCH: the venue splits it into several transactions.
    credentials = [paper_credential(usd="10000") for _ in range(min(size, 3))]
    calls = [(credentials[i % len(credentials)].pk, market_buy("0.0001", f"n-{i}")) for i in range(size)]
    answers = paper_orders_create(calls)
    assert [(error, result.status if result else None) for result, error, _ in answers] == [(None, "filled")] * size
    assert PaperOrder.objects.count() == size
    assert sum(btc(c) for c in credentials) == Decimal("0.0001") * size
