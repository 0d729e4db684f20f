"""Public market data: one unauthenticated client per venue, and one markets cache shared with the
credentials' clients (brokers/market_data.py, brokers/clients/markets.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.clients import markets, registry
from brokers.clients.base import BrokerError
from brokers.clients.ccxt_client import CcxtClient
from brokers.market_data import venue_markets, venue_price
from brokers.paper_venue import paper_behaviour_set, paper_price_set

from .ccxt_replay import Replay, recorded
from .test_ccxt_adapter import _markets_from_the_venue


@pytest.fixture
def no_credential_lock(monkeypatch):
    def refuse(credential_id):
        raise AssertionError(f"public market data took the lock of credential {credential_id}")

    monkeypatch.setattr(registry, "credential_lock", refuse)


def test_a_venue_has_one_public_client_per_process():
    assert registry.public_client_for("kraken") is registry.public_client_for("KRAKEN")
    assert registry.public_client_for("okx", sandbox=True) is not registry.public_client_for("okx")
    assert registry.public_client_for("alpaca") is None  # Alpaca serves no market data without a key


def test_kraken_price_is_read_with_no_key_and_no_credential_lock(no_credential_lock):
    public = registry.public_client_for("kraken").inner
    loads: list[str] = []
    _markets_from_the_venue(public.exchange, loads)
    public.exchange.enableRateLimit = False
    ticker = recorded("kraken", "fetchTicker", "public spot ticker")["httpResponse"]
    replay = Replay(public.exchange, [("Ticker", ticker)]).install()
    assert venue_price(venue="kraken", symbol="BTC/USDT") == Decimal("73380.6")
    assert venue_markets(venue="kraken")["BTC/USD"].amount_step == Decimal("1E-8")
    assert loads == ["kraken"]
    for _method, _url, headers, body in replay.calls:
        assert "API-Key" not in (headers or {}) and "nonce" not in (body or "")


def test_public_and_credential_clients_share_one_markets_cache(no_credential_lock):
    loads: list[str] = []
    private = CcxtClient(exchange_id="kraken", api_key="AKEY-1234-abcd", api_secret="c2VjcmV0")
    _markets_from_the_venue(private.exchange, loads)
    private.fetch_markets()
    _markets_from_the_venue(registry.public_client_for("kraken").inner.exchange, loads)
    assert venue_markets(venue="kraken")["BTC/USD"].min_amount == Decimal("0.0001")
    assert venue_markets(venue="kraken") is venue_markets(venue="kraken")  # parsed once, then cached
    assert loads == ["kraken"]  # the public client took the markets the credential's client loaded


def test_expired_markets_are_reloaded_by_the_public_client(monkeypatch, no_credential_lock):
    loads: list[str] = []
    _markets_from_the_venue(registry.public_client_for("kraken").inner.exchange, loads)
    venue_markets(venue="kraken")
    monkeypatch.setattr(markets, "MARKETS_TTL_SECONDS", 0)
    venue_markets(venue="kraken")
    assert loads == ["kraken", "kraken"]


def test_a_keyed_venue_without_a_credential_is_an_error_not_a_guess():
    with pytest.raises(BrokerError, match="only to a key"):
        venue_markets(venue="alpaca")


def test_paper_market_data_ignores_every_keys_faults(paper_credential, no_credential_lock):
    credential = paper_credential()
    behaviour = paper_behaviour_set(credential=credential, fault="auth_failure", fault_count=3)
    paper_price_set(symbol="ETH/USD", price="3100")
    assert venue_price(venue="paper", symbol="ETH/USD") == Decimal("3100")
    assert "SOL/USD" in venue_markets(venue="paper")
    with pytest.raises(BrokerError, match="unknown symbol"):
        venue_price(venue="paper", symbol="DOGE/USD")
    behaviour.refresh_from_db()
    assert behaviour.fault_count == 3  # no call went through the key
