from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.utils import timezone

from brokers.clients.base import (
    AsyncBrokerClient,
    BrokerAmbiguousError,
    BrokerAuthenticationError,
    BrokerClient,
    BrokerInsufficientFundsError,
    BrokerInvalidOrderError,
    BrokerRateLimitedError,
    BrokerUnavailableError,
    OrderRequest,
)
from brokers.clients.registry import async_client_for, async_clients_close, client_for
from brokers.models import BrokerCredential, PaperBalance, PaperOrder
from brokers.paper_venue import TAKER_FEE_RATE, paper_behaviour_set, paper_price_get, paper_price_set, paper_prices_walk
from core.errors import ApplicationError


def market_buy(amount: str, cid: str = "c-1", symbol: str = "BTC/USD") -> OrderRequest:
    return OrderRequest(symbol=symbol, side="buy", order_type="market", amount=Decimal(amount), client_order_id=cid)


def test_market_buy_fills_at_the_current_price_with_the_taker_fee(paper_credential):
    credential = paper_credential(usd="10000")
    paper_price_set(symbol="BTC/USD", price="50000")
    client = client_for(credential)
    assert isinstance(client, BrokerClient)
    result = client.create_order(market_buy("0.1"))
    assert result.status == "filled"
    assert result.filled == Decimal("0.1")
    assert result.average_price == Decimal("50000")
    assert result.cost == Decimal("5000")
    assert result.fee == Decimal("5000") * TAKER_FEE_RATE
    assert result.fee_asset == "USD"
    balances = client.fetch_balances()
    assert balances["BTC"].total == Decimal("0.1")
    assert balances["USD"].free == Decimal("10000") - Decimal("5000") - Decimal("12.5")


def test_market_sell_credits_the_quote_minus_the_fee(paper_credential):
    credential = paper_credential(usd="0", BTC="1")
    paper_price_set(symbol="BTC/USD", price="40000")
    result = client_for(credential).create_order(
        OrderRequest(symbol="BTC/USD", side="sell", order_type="market", amount=Decimal("0.5"), client_order_id="s1")
    )
    assert result.status == "filled"
    balances = client_for(credential).fetch_balances()
    assert balances["USD"].free == Decimal("20000") - Decimal("50")
    assert balances["BTC"].free == Decimal("0.5")


def test_ioc_limit_fills_only_within_the_limit(paper_credential):
    credential = paper_credential(usd="10000")
    paper_price_set(symbol="ETH/USD", price="3000")
    client = client_for(credential)
    outside = client.create_order(OrderRequest(symbol="ETH/USD", side="buy", order_type="ioc", amount=Decimal("1"),
                                               client_order_id="ioc-1", limit_price=Decimal("2990")))
    assert outside.status == "canceled" and outside.filled == 0
    within = client.create_order(OrderRequest(symbol="ETH/USD", side="buy", order_type="ioc", amount=Decimal("1"),
                                              client_order_id="ioc-2", limit_price=Decimal("3010")))
    assert within.status == "filled" and within.average_price == Decimal("3000")
    assert client.fetch_balances()["ETH"].total == Decimal("1")


def test_resting_limit_order_reserves_funds_and_cancel_releases_them(paper_credential):
    credential = paper_credential(usd="10000")
    client = client_for(credential)
    order = client.create_order(OrderRequest(symbol="BTC/USD", side="buy", order_type="limit", amount=Decimal("0.01"),
                                             client_order_id="l-1", limit_price=Decimal("40000")))
    assert order.status == "open"
    assert client.fetch_balances()["USD"].used > 0
    canceled = client.cancel_order("BTC/USD", order.venue_order_id)
    assert canceled.status == "canceled"
    usd = client.fetch_balances()["USD"]
    assert (usd.free, usd.used) == (Decimal("10000"), Decimal("0"))
    with pytest.raises(BrokerInvalidOrderError, match="not open"):
        client.cancel_order("BTC/USD", order.venue_order_id)


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0.000001", "multiple of"), ("0.000015", "multiple of"), ("0.00001", "below the minimum 1")],
)
def test_orders_off_step_or_below_minimum_are_refused(paper_credential, amount, message):
    credential = paper_credential()
    paper_price_set(symbol="BTC/USD", price="50000")
    with pytest.raises(BrokerInvalidOrderError, match=message):
        client_for(credential).create_order(market_buy(amount))
    assert not PaperOrder.objects.exists()


def test_insufficient_funds_changes_nothing(paper_credential):
    credential = paper_credential(usd="100")
    with pytest.raises(BrokerInsufficientFundsError):
        client_for(credential).create_order(market_buy("0.01"))
    assert not PaperOrder.objects.exists()
    assert PaperBalance.objects.get(credential=credential, asset="USD").free == Decimal("100")


def test_resending_a_client_order_id_returns_the_existing_order(paper_credential):
    credential = paper_credential()
    client = client_for(credential)
    first = client.create_order(market_buy("0.01", cid="same"))
    again = client.create_order(market_buy("0.01", cid="same"))
    assert again.venue_order_id == first.venue_order_id
    assert PaperOrder.objects.count() == 1
    assert client.fetch_balances()["BTC"].total == Decimal("0.01")


def test_timeout_after_accept_records_the_order_then_raises_ambiguous(paper_credential):
    credential = paper_credential()
    paper_behaviour_set(credential=credential, fault="timeout_after_accept")
    client = client_for(credential)
    assert client.fetch_price("BTC/USD") > 0  # order-only fault: other calls are untouched
    with pytest.raises(BrokerAmbiguousError):
        client.create_order(market_buy("0.01", cid="amb-1"))
    found = client.fetch_order_by_client_id("BTC/USD", "amb-1")
    assert found is not None and found.status == "filled"
    resent = client.create_order(market_buy("0.01", cid="amb-1"))
    assert resent.venue_order_id == found.venue_order_id
    assert PaperOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [("rate_limited", BrokerRateLimitedError), ("server_error", BrokerUnavailableError),
     ("auth_failure", BrokerAuthenticationError)],
)
def test_injected_faults_fire_exactly_fault_count_times(paper_credential, fault, error):
    credential = paper_credential()
    paper_behaviour_set(credential=credential, fault=fault, fault_count=2)
    client = client_for(credential)
    for _ in range(2):
        with pytest.raises(error):
            client.fetch_balances()
    assert client.fetch_balances()["USD"].total == Decimal("10000")


def test_server_error_on_an_order_is_ambiguous_and_records_nothing(paper_credential):
    credential = paper_credential()
    paper_behaviour_set(credential=credential, fault="server_error", operations=["create_order"])
    client = client_for(credential)
    with pytest.raises(BrokerAmbiguousError):
        client.create_order(market_buy("0.01", cid="x"))
    assert client.fetch_order_by_client_id("BTC/USD", "x") is None


def test_injected_insufficient_funds(paper_credential):
    credential = paper_credential()
    paper_behaviour_set(credential=credential, fault="insufficient_funds")
    with pytest.raises(BrokerInsufficientFundsError):
        client_for(credential).create_order(market_buy("0.01"))


def test_unknown_fault_is_refused(paper_credential):
    with pytest.raises(ApplicationError, match="fault must be one of"):
        paper_behaviour_set(credential=paper_credential(), fault="meteor")


def test_fetch_my_trades_returns_fills_since_a_cursor(paper_credential, time_machine):
    credential = paper_credential()
    client = client_for(credential)
    time_machine.move_to(dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC), tick=False)
    client.create_order(market_buy("0.01", cid="t1"))
    time_machine.move_to(dt.datetime(2026, 1, 1, 13, tzinfo=dt.UTC), tick=False)
    client.create_order(market_buy("0.02", cid="t2", symbol="ETH/USD".replace("ETH", "BTC")))
    trades = client.fetch_my_trades()
    assert [t.client_order_id for t in trades] == ["t1", "t2"]
    since = client.fetch_my_trades(since=dt.datetime(2026, 1, 1, 12, 30, tzinfo=dt.UTC))
    assert [t.client_order_id for t in since] == ["t2"]
    assert since[0].amount == Decimal("0.02") and since[0].fee_asset == "USD"
    assert client.fetch_my_trades(symbol="ETH/USD") == []


def test_markets_have_steps_and_minimums(paper_credential):
    markets = client_for(paper_credential()).fetch_markets()
    assert set(markets) == {"BTC/USD", "ETH/USD", "SOL/USD", "BTC/USDT"}
    assert markets["BTC/USD"].amount_step == Decimal("0.00001")
    assert markets["BTC/USD"].min_cost == Decimal("1")


def test_client_is_one_instance_per_credential(paper_credential):
    credential = paper_credential()
    again = BrokerCredential.objects.get(pk=credential.pk)
    assert client_for(credential) is client_for(again)
    other = paper_credential()
    assert client_for(other) is not client_for(credential)


def test_async_client_does_the_same_work(paper_credential):
    credential = paper_credential(usd="5000")
    paper_behaviour_set(credential=credential, latency_ms=5)

    async def run():
        client = async_client_for(credential)
        assert isinstance(client, AsyncBrokerClient)
        assert async_client_for(credential) is client
        result = await client.create_order(market_buy("0.01", cid="a1"))
        balances = await client.fetch_balances()
        found = await client.fetch_order_by_client_id("BTC/USD", "a1")
        trades = await client.fetch_my_trades(since=timezone.now() - dt.timedelta(minutes=1))
        await async_clients_close()
        return result, balances, found, trades

    result, balances, found, trades = async_to_sync(run)()
    assert result.status == "filled"
    assert balances["BTC"].total == Decimal("0.01")
    assert found.venue_order_id == result.venue_order_id
    assert [t.venue_order_id for t in trades] == [result.venue_order_id]


def test_prices_random_walk_is_seeded(db):
    first = paper_prices_walk(seed=7, steps=3)
    paper_price_set(symbol="BTC/USD", price="50000")
    for symbol in ("ETH/USD", "SOL/USD", "BTC/USDT"):
        paper_price_set(symbol=symbol, price={"ETH/USD": "3000", "SOL/USD": "150", "BTC/USDT": "50000"}[symbol])
    assert paper_prices_walk(seed=7, steps=3) == first
    assert paper_price_get(symbol="BTC/USD") != Decimal("50000")


def test_paper_commands_fund_and_set_price(make_account, capsys):
    make_account("nija_master", master=True)
    call_command("paper_fund", "master", "--asset", "USD", "--amount", "1000")
    call_command("paper_fund", "master", "--asset", "usd", "--amount", "250.5")
    call_command("paper_set_price", "btc/usd", "61000.25")
    out = capsys.readouterr().out
    assert "created PAPER credential default for nija_master" in out
    assert "nija_master paper/default: 1250.5 USD free" in out
    assert "PAPER BTC/USD = 61000.2" in out
    assert paper_price_get(symbol="BTC/USD") == Decimal("61000.2")


def test_paper_fund_refuses_overdraw(paper_credential):
    from brokers.paper_venue import paper_fund

    with pytest.raises(ApplicationError, match="cannot withdraw"):
        paper_fund(credential=paper_credential(usd="10"), asset="USD", amount="-11")


def test_a_resting_limit_order_fills_when_the_price_reaches_it(paper_credential):
    credential = paper_credential(usd="10000", BTC="1")
    paper_price_set(symbol="BTC/USD", price="50000")
    client = client_for(credential)
    buy = client.create_order(OrderRequest(symbol="BTC/USD", side="buy", order_type="limit", amount=Decimal("0.1"),
                                           client_order_id="rb", limit_price=Decimal("49000")))
    sell = client.create_order(OrderRequest(symbol="BTC/USD", side="sell", order_type="limit", amount=Decimal("0.5"),
                                            client_order_id="rs", limit_price=Decimal("52000")))
    paper_price_set(symbol="BTC/USD", price="48999.9")
    assert client.fetch_order_by_client_id("BTC/USD", "rb").status == "filled"
    assert client.fetch_order_by_client_id("BTC/USD", "rs").status == "open"
    paper_price_set(symbol="BTC/USD", price="52000")
    done = client.fetch_order_by_client_id("BTC/USD", "rs")
    assert done.status == "filled" and done.average_price == Decimal("52000")
    balances = client.fetch_balances()
    buy_cost, sell_proceeds = Decimal("4900"), Decimal("26000")
    fees = (buy_cost + sell_proceeds) * TAKER_FEE_RATE
    assert balances["USD"].used == 0 and balances["BTC"].used == 0
    assert balances["USD"].total == Decimal("10000") - buy_cost + sell_proceeds - fees
    assert balances["BTC"].total == Decimal("0.6")
    assert [t.client_order_id for t in client.fetch_my_trades()] == ["rb", "rs"]
    assert buy.status == sell.status == "open"
