"""alpaca-py runs for real; only its HTTP is mocked (requests-mock) with Alpaca's documented shapes."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest

from brokers.clients.alpaca import AlpacaClient
from brokers.clients.base import (
    BrokerAmbiguousError,
    BrokerAuthenticationError,
    BrokerInsufficientFundsError,
    BrokerInvalidOrderError,
    BrokerRateLimitedError,
    OrderRequest,
)

PAPER = "https://paper-api.alpaca.markets/v2"
KEY, SECRET = "PKTESTKEY1234567890", "alpaca-secret-never-shown-0123456789"

ACCOUNT = {
    "id": "904837e3-3b76-47ec-b432-046db621571b", "account_number": "PA1234", "status": "ACTIVE",
    "currency": "USD", "cash": "1000.50", "portfolio_value": "6000.50", "non_marginable_buying_power": "900.50",
    "buying_power": "900.50", "trading_blocked": False, "transfers_blocked": False, "account_blocked": False,
    "pattern_day_trader": False, "shorting_enabled": False, "multiplier": "1", "equity": "6000.50",
    "last_equity": "6000.50", "long_market_value": "5000", "short_market_value": "0", "initial_margin": "0",
    "maintenance_margin": "0", "daytrade_count": 0, "sma": "0", "created_at": "2024-01-01T00:00:00Z",
    "crypto_status": "ACTIVE",
}
POSITION = {
    "asset_id": "276e2673-764b-4ab6-a611-caf665ca6340", "symbol": "BTCUSD", "exchange": "CRYPTO",
    "asset_class": "crypto", "avg_entry_price": "50000", "qty": "0.1", "qty_available": "0.1", "side": "long",
    "market_value": "5000", "cost_basis": "5000", "unrealized_pl": "0", "unrealized_plpc": "0",
    "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0", "current_price": "50000",
    "lastday_price": "50000", "change_today": "0", "asset_marginable": False,
}


def order_json(**overrides) -> dict:
    base = {
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d", "client_order_id": "nija-1",
        "created_at": "2024-04-24T10:00:00.1Z", "updated_at": "2024-04-24T10:00:00.2Z",
        "submitted_at": "2024-04-24T10:00:00.1Z", "filled_at": "2024-04-24T10:00:00.2Z", "expired_at": None,
        "canceled_at": None, "failed_at": None, "replaced_at": None, "replaced_by": None, "replaces": None,
        "asset_id": "276e2673-764b-4ab6-a611-caf665ca6340", "symbol": "BTC/USD", "asset_class": "crypto",
        "notional": None, "qty": "0.01", "filled_qty": "0.01", "filled_avg_price": "64000.5", "order_class": "",
        "order_type": "market", "type": "market", "side": "buy", "time_in_force": "gtc", "limit_price": None,
        "stop_price": None, "status": "filled", "extended_hours": False, "legs": None, "trail_percent": None,
        "trail_price": None, "hwm": None,
    }
    return {**base, **overrides}


@pytest.fixture
def alpaca():
    return AlpacaClient(api_key=KEY, api_secret=SECRET, paper=True)


def test_balances_are_cash_and_positions_in_decimal(alpaca, requests_mock):
    requests_mock.get(f"{PAPER}/account", json=ACCOUNT)
    requests_mock.get(f"{PAPER}/positions", json=[POSITION])
    balances = alpaca.fetch_balances()
    assert balances["USD"].total == Decimal("1000.50") and balances["USD"].free == Decimal("900.50")
    assert balances["BTC"].total == Decimal("0.1")
    assert requests_mock.request_history[0].headers["APCA-API-KEY-ID"] == KEY


def test_market_order_carries_the_client_order_id(alpaca, requests_mock):
    requests_mock.post(f"{PAPER}/orders", json=order_json())
    result = alpaca.create_order(OrderRequest(symbol="BTC/USD", side="buy", order_type="market",
                                              amount=Decimal("0.01"), client_order_id="nija-1"))
    sent = json.loads(requests_mock.last_request.body)
    assert sent["client_order_id"] == "nija-1" and sent["time_in_force"] == "gtc" and sent["type"] == "market"
    assert result.status == "filled" and result.average_price == Decimal("64000.5")
    assert result.cost == Decimal("0.01") * Decimal("64000.5")


def test_ioc_limit_order(alpaca, requests_mock):
    requests_mock.post(f"{PAPER}/orders", json=order_json(type="limit", order_type="limit", time_in_force="ioc",
                                                          limit_price="64100", status="canceled", filled_qty="0",
                                                          filled_avg_price=None))
    result = alpaca.create_order(OrderRequest(symbol="BTC/USD", side="buy", order_type="ioc", amount=Decimal("0.01"),
                                              client_order_id="nija-1", limit_price=Decimal("64100")))
    sent = json.loads(requests_mock.last_request.body)
    assert sent["time_in_force"] == "ioc" and sent["limit_price"] == 64100
    assert result.status == "canceled" and result.filled == 0


def test_lookup_by_client_order_id_and_not_found(alpaca, requests_mock):
    requests_mock.get(re.compile(r".*/orders:by_client_order_id\?client_order_id=nija-1"), json=order_json())
    assert alpaca.fetch_order_by_client_id("BTC/USD", "nija-1").venue_order_id.startswith("61e69015")
    requests_mock.get(re.compile(r".*/orders:by_client_order_id\?client_order_id=nope"), status_code=404,
                      json={"code": 40410000, "message": "order not found"})
    assert alpaca.fetch_order_by_client_id("BTC/USD", "nope") is None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"code": 40110000, "message": "request is not authorized"}, BrokerAuthenticationError),
        (403, {"code": 40310000, "message": "insufficient balance for USD (requested: 640, available: 10)"},
         BrokerInsufficientFundsError),
        (422, {"code": 42210000, "message": "qty must be > 0"}, BrokerInvalidOrderError),
        (429, {"code": 42910000, "message": "rate limit exceeded"}, BrokerRateLimitedError),
        (500, {"code": 50010000, "message": "internal server error"}, BrokerAmbiguousError),
    ],
)
def test_errors_map_to_our_classes_without_secrets(alpaca, requests_mock, status, body, error):
    requests_mock.post(f"{PAPER}/orders", status_code=status, json=body)
    with pytest.raises(error) as caught:
        alpaca.create_order(OrderRequest(symbol="BTC/USD", side="buy", order_type="market", amount=Decimal("0.01"),
                                         client_order_id="nija-1"))
    assert body["message"] in caught.value.venue_message
    assert KEY not in str(caught.value) and SECRET not in str(caught.value)


def test_fills_since_a_cursor(alpaca, requests_mock):
    requests_mock.get(f"{PAPER}/account/activities/FILL", json=[
        {"id": "20240424100000000::abc", "activity_type": "FILL", "transaction_time": "2024-04-24T10:00:00.2Z",
         "type": "fill", "price": "64000.5", "qty": "0.01", "side": "buy", "symbol": "BTC/USD", "leaves_qty": "0",
         "order_id": "61e69015-8549-4bfd-b9c3-01e75843f47d", "cum_qty": "0.01", "order_status": "filled"},
    ])
    trades = alpaca.fetch_my_trades(since=dt.datetime(2024, 4, 24, tzinfo=dt.UTC))
    assert "after=2024-04-24" in requests_mock.last_request.url
    assert trades[0].price == Decimal("64000.5") and trades[0].occurred_at.year == 2024


def test_latest_crypto_price(alpaca, requests_mock):
    requests_mock.get(re.compile(r"https://data\.alpaca\.markets/v1beta3/crypto/us/latest/trades.*"), json={
        "trades": {"BTC/USD": {"t": "2024-04-24T10:00:00Z", "p": 64001.25, "s": 0.01, "tks": "B", "i": 1}}
    })
    assert alpaca.fetch_price("BTC/USD") == Decimal("64001.25")


def test_alpaca_keys_cannot_withdraw(alpaca, requests_mock):
    requests_mock.get(f"{PAPER}/account", json=ACCOUNT)
    report = alpaca.check_permissions()
    assert (report.can_trade, report.can_withdraw) == (True, False)
