from __future__ import annotations

import asyncio
import base64
import datetime as dt
import secrets
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from brokers.clients.base import (
    BrokerAmbiguousError,
    BrokerAuthenticationError,
    BrokerError,
    BrokerInsufficientFundsError,
    BrokerInvalidOrderError,
    BrokerPermissionError,
    BrokerRateLimitedError,
    BrokerUnavailableError,
    OrderRequest,
)
from brokers.clients.ccxt_client import AsyncCcxtClient, CcxtClient

from .ccxt_replay import Replay, markets_load, recorded

API_KEY = "AKEY-1234-abcd-SECRETKEY-9f9f"
# Generated per run: Kraken signs with a base64 secret, and nothing secret-looking lives in the repo.
API_SECRET = base64.b64encode(secrets.token_bytes(27)).decode()
PASSPHRASE = "pass-phrase-never-shown"


def client(exchange_id: str, routes: list) -> tuple[CcxtClient, Replay]:
    c = CcxtClient(exchange_id=exchange_id, api_key=API_KEY, api_secret=API_SECRET, passphrase=PASSPHRASE)
    markets_load(c.exchange, exchange_id)
    c.exchange.enableRateLimit = False  # the throttle would only sleep between replayed answers
    return c, Replay(c.exchange, routes).install()


# --- Kraken ---------------------------------------------------------------------------------
def test_kraken_create_order_sends_client_order_id_and_parses_the_answer():
    case = recorded("kraken", "createOrder", "create order")
    kraken, replay = client("kraken", [("AddOrder", case["httpResponse"])])
    result = kraken.create_order(OrderRequest(symbol="LTC/USDT", side="buy", order_type="market",
                                              amount=Decimal("0.1"), client_order_id="nija-abc-1"))
    assert result.venue_order_id == "OL7LNO-R4SAD-6UINEU"
    assert result.client_order_id == "nija-abc-1"
    method, url, headers, body = replay.calls[0]
    assert "cl_ord_id=nija-abc-1" in body and "ordertype=market" in body and "volume=0.1" in body


def test_kraken_ioc_limit_is_sent_as_immediate_or_cancel():
    case = recorded("kraken", "createOrder", "create order")
    kraken, replay = client("kraken", [("AddOrder", case["httpResponse"])])
    kraken.create_order(OrderRequest(symbol="LTC/USDT", side="buy", order_type="ioc", amount=Decimal("0.1"),
                                     client_order_id="nija-ioc", limit_price=Decimal("70.5")))
    body = replay.calls[0][3]
    assert "timeinforce=IOC" in body and "price=70.5" in body


def test_kraken_ticker_is_a_decimal_price():
    case = recorded("kraken", "fetchTicker", "public spot ticker")
    kraken, _ = client("kraken", [("Ticker", case["httpResponse"])])
    price = kraken.fetch_price("BTC/USDT")
    assert price == Decimal("73380.6") and isinstance(price, Decimal)


def test_kraken_markets_give_steps_and_minimums():
    kraken, _ = client("kraken", [])
    rules = kraken.fetch_markets()["BTC/USD"]
    assert rules.amount_step == Decimal("1E-8")
    assert rules.price_tick == Decimal("0.1")
    assert rules.min_amount == Decimal("0.0001")


def test_kraken_lookup_by_client_order_id_scans_open_and_closed_orders():
    closed = recorded("kraken", "fetchOrder", "closed market order")["httpResponse"]
    order_id, order = next(iter(closed["result"].items()))
    order = {**order, "cl_ord_id": "nija-xyz"}
    kraken, _ = client("kraken", [
        ("OpenOrders", {"error": [], "result": {"open": {}}}),
        ("ClosedOrders", {"error": [], "result": {"closed": {order_id: order}, "count": 1}}),
    ])
    found = kraken.fetch_order_by_client_id("LTC/USDT", "nija-xyz")
    assert found.venue_order_id == order_id and found.status == "filled"
    assert found.filled == Decimal("0.1")
    assert kraken.fetch_order_by_client_id("LTC/USDT", "nope") is None


def test_kraken_withdraw_probe_reports_withdraw_permission():
    methods = {"error": [], "result": [{"asset": "XXBT", "method": "Bitcoin"}]}
    kraken, _ = client("kraken", [("WithdrawMethods", methods)])
    assert kraken.check_permissions().can_withdraw is True
    kraken, _ = client("kraken", [("WithdrawMethods", (200, {"error": ["EGeneral:Permission denied"]}))])
    assert kraken.check_permissions().can_withdraw is False


@pytest.mark.parametrize(
    ("venue_error", "ours"),
    [
        ("EAPI:Invalid key", BrokerAuthenticationError),
        ("EAPI:Invalid nonce", BrokerUnavailableError),
        ("EOrder:Insufficient funds", BrokerInsufficientFundsError),
        ("EOrder:Order minimum not met", BrokerInvalidOrderError),
        ("EAPI:Rate limit exceeded", BrokerRateLimitedError),
        ("EGeneral:Permission denied", BrokerPermissionError),
        ("EService:Unavailable", BrokerAmbiguousError),  # while sending an order: outcome unknown
    ],
)
def test_kraken_errors_map_to_our_classes_keep_the_message_and_no_secret(venue_error, ours):
    kraken, _ = client("kraken", [("AddOrder", (200, {"error": [venue_error]}))])
    with pytest.raises(ours) as caught:
        kraken.create_order(OrderRequest(symbol="LTC/USDT", side="buy", order_type="market", amount=Decimal("0.1"),
                                         client_order_id="c1"))
    assert venue_error in caught.value.venue_message
    for secret in (API_KEY, API_SECRET, PASSPHRASE):
        assert secret not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_venue_message_echoing_our_key_is_scrubbed():
    kraken, _ = client("kraken", [("Balance", (200, {"error": [f"EGeneral:Invalid arguments:key {API_KEY}"]}))])
    with pytest.raises(BrokerError) as caught:
        kraken.fetch_balances()
    assert API_KEY not in str(caught.value) and "****" in caught.value.venue_message


def test_timeout_while_sending_an_order_is_ambiguous():
    import ccxt

    kraken, _ = client("kraken", [])

    def timeout(*args, **kwargs):
        raise ccxt.RequestTimeout("kraken POST https://api.kraken.com/0/private/AddOrder request timeout")

    kraken.exchange.fetch = timeout
    with pytest.raises(BrokerAmbiguousError):
        kraken.create_order(OrderRequest(symbol="LTC/USDT", side="buy", order_type="market", amount=Decimal("0.1"),
                                         client_order_id="c1"))


# --- OKX ------------------------------------------------------------------------------------
def test_okx_balance_parses_to_decimals():
    case = recorded("okx", "fetchBalance", "spot balance")
    okx, _ = client("okx", [("account/balance", case["httpResponse"])])
    balances = okx.fetch_balances()
    assert balances
    for balance in balances.values():
        assert isinstance(balance.total, Decimal) and balance.total == balance.free + balance.used


def test_okx_my_trades_since_cursor():
    case = recorded("okx", "fetchMyTrades", "Fetch spot trade")
    okx, replay = client("okx", [("trade/fills", case["httpResponse"])])
    trades = okx.fetch_my_trades(since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert trades[0].symbol == "LTC/USDT" and trades[0].side == "buy"
    assert trades[0].amount == Decimal("0.1") and trades[0].price == Decimal("67.84")
    assert trades[0].fee == Decimal("0.0001")
    assert trades[0].client_order_id == "e847386590ce4dBCff0cf9a74b5f3bcf"
    assert "begin=" in replay.calls[0][1]


def test_okx_lookup_by_client_order_id_uses_clordid():
    case = recorded("okx", "fetchOrder", "fetch spot order")
    okx, replay = client("okx", [("trade/order", case["httpResponse"])])
    found = okx.fetch_order_by_client_id("LTC/USDT", "e847386590ce4dBC6f7ae74854f6a617")
    assert found.venue_order_id == "1339107111507525632"
    assert found.status == "filled" and found.average_price == Decimal("101.58")
    assert "clOrdId=e847386590ce4dBC6f7ae74854f6a617" in replay.calls[0][1]


def test_okx_order_not_found_means_none():
    okx, _ = client("okx", [("trade/order", (200, {"code": "51603", "msg": "Order does not exist", "data": []}))])
    assert okx.fetch_order_by_client_id("LTC/USDT", "missing") is None


@pytest.mark.parametrize(("perm", "withdraw"), [("read_only,trade", False), ("read_only,trade,withdraw", True)])
def test_okx_permissions_from_account_config(perm, withdraw):
    okx, _ = client("okx", [("account/config", {"code": "0", "msg": "", "data": [{"perm": perm, "uid": "1"}]})])
    report = okx.check_permissions()
    assert report.can_trade is True and report.can_withdraw is withdraw


def test_okx_ticker():
    case = recorded("okx", "fetchTicker", "public spot ticker")
    okx, _ = client("okx", [("market/ticker", case["httpResponse"])])
    assert okx.fetch_price("BTC/USDT") == Decimal("73384.8")


# --- Coinbase -------------------------------------------------------------------------------
def test_coinbase_balance_v3():
    case = recorded("coinbase", "fetchBalance", "v3 balance")
    coinbase, _ = client("coinbase", [("/accounts", case["httpResponse"])])
    balances = coinbase.fetch_balances()
    assert all(isinstance(b.total, Decimal) for b in balances.values())


def test_coinbase_my_trades():
    case = recorded("coinbase", "fetchMyTrades", "Spot trade")
    coinbase, _ = client("coinbase", [("orders/historical/fills", case["httpResponse"])])
    trades = coinbase.fetch_my_trades(symbol="ADA/USDT")
    assert trades[0].trade_id == "19fc7eee-f4b4-40a7-8104-033da1db5311"
    assert trades[0].price == Decimal("0.392") and trades[0].amount == Decimal("10")
    assert trades[0].fee == Decimal("0.03136")


@pytest.mark.parametrize(("can_transfer", "withdraw"), [(False, False), (True, True)])
def test_coinbase_permissions_from_key_permissions(can_transfer, withdraw):
    payload = {"can_view": True, "can_trade": True, "can_transfer": can_transfer, "portfolio_uuid": "p",
               "portfolio_type": "DEFAULT"}
    coinbase, _ = client("coinbase", [("key_permissions", payload)])
    assert coinbase.check_permissions().can_withdraw is withdraw


def test_coinbase_ticker():
    case = recorded("coinbase", "fetchTicker", "fetchTicker")
    coinbase, _ = client("coinbase", [("ticker", case["httpResponse"])])
    assert coinbase.fetch_price("BTC/USDC") > Decimal("66000")


# --- async ----------------------------------------------------------------------------------
def test_async_client_replays_the_same_payloads():
    ticker = recorded("okx", "fetchTicker", "public spot ticker")["httpResponse"]
    fills = recorded("okx", "fetchMyTrades", "Fetch spot trade")["httpResponse"]

    async def run():
        okx = AsyncCcxtClient(exchange_id="okx", api_key=API_KEY, api_secret=API_SECRET, passphrase=PASSPHRASE)
        markets_load(okx.exchange, "okx")
        okx.exchange.enableRateLimit = False
        Replay(okx.exchange, [("market/ticker", ticker), ("trade/fills", fills),
                              ("trade/", (200, {"code": "1", "msg": "",
                                                     "data": [{"sCode": "51008", "sMsg": "Insufficient balance"}]}))]
               ).install_async()
        try:
            price = await okx.fetch_price("BTC/USDT")
            trades = await okx.fetch_my_trades()
            with pytest.raises(BrokerInsufficientFundsError):
                await okx.create_order(OrderRequest(symbol="BTC/USDT", side="buy", order_type="market",
                                                    amount=Decimal("1"), client_order_id="abc"))
            return price, trades
        finally:
            await okx.close()

    price, trades = async_to_sync(run)()
    assert price == Decimal("73384.8") and trades[0].amount == Decimal("0.1")


def test_any_ccxt_exchange_id_gets_a_client():
    binance = CcxtClient(exchange_id="binance", api_key="k" * 8, api_secret="s" * 8)
    assert binance.venue == "binance"
    assert binance.check_permissions().can_withdraw is None


# --- markets: loaded once per exchange and process, shared by every instance ---------------------
def _markets_from_the_venue(exchange, loads: list[str], *, asynchronous: bool = False) -> None:
    """The venue's two public market requests, answered from the recorded Kraken markets; ccxt's
    own load_markets / set_markets run on them. Each load is counted."""
    from .ccxt_replay import _load

    def markets(params=None):
        loads.append(exchange.id)
        return list(_load("markets", "kraken").values())

    def currencies(params=None):
        return _load("currencies", "kraken")

    if asynchronous:
        async def markets_async(params=None):
            await asyncio.sleep(0.01)  # a real request takes time: others arrive meanwhile
            return markets(params)

        async def currencies_async(params=None):
            return currencies(params)

        exchange.fetch_markets, exchange.fetch_currencies = markets_async, currencies_async
    else:
        exchange.fetch_markets, exchange.fetch_currencies = markets, currencies


def _bare(cls=CcxtClient):
    return cls(exchange_id="kraken", api_key=API_KEY, api_secret=API_SECRET)


def test_a_second_instance_takes_the_markets_the_first_loaded(monkeypatch):
    loads: list[str] = []
    first, second = _bare(), _bare()
    _markets_from_the_venue(first.exchange, loads)
    _markets_from_the_venue(second.exchange, loads)
    assert first.fetch_markets()["BTC/USD"].amount_step == Decimal("1E-8")
    assert second.fetch_markets()["BTC/USD"].amount_step == Decimal("1E-8")
    assert loads == ["kraken"]  # the second instance asked the venue nothing
    assert second.exchange.markets is first.exchange.markets
    for helper in first.exchange.options.get("marketHelperProps", []):  # e.g. Kraken's marketsByAltname
        assert second.exchange.options.get(helper) is first.exchange.options.get(helper)

    from brokers.clients import markets

    monkeypatch.setattr(markets, "MARKETS_TTL_SECONDS", 0)  # stale: the next instance reloads
    third = _bare()
    _markets_from_the_venue(third.exchange, loads)
    third.fetch_markets()
    assert loads == ["kraken", "kraken"]


def test_async_instances_needing_markets_at_once_share_one_load():
    loads: list[str] = []

    async def fan_out():
        clients = [_bare(AsyncCcxtClient) for _ in range(5)]
        for c in clients:
            _markets_from_the_venue(c.exchange, loads, asynchronous=True)
        try:
            return await asyncio.gather(*(c.fetch_markets() for c in clients))
        finally:
            for c in clients:
                await c.close()

    results = async_to_sync(fan_out)()
    assert loads == ["kraken"]
    assert all(r["BTC/USD"] == results[0]["BTC/USD"] for r in results)
