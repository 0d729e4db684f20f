from __future__ import annotations

import secrets
from decimal import Decimal

import ccxt
import pytest

from brokers.clients.markets import markets_cache_clear
from brokers.clients.registry import client_cache_clear
from brokers.models import BrokerCredential
from brokers.paper_venue import paper_fund
from brokers.services import credential_add

from .ccxt_replay import markets_load, recorded


@pytest.fixture(autouse=True)
def _fresh_client_cache():
    # Credential ids repeat across test databases; a cached client (or shared markets) must not
    # outlive its test.
    client_cache_clear()
    markets_cache_clear()
    yield
    client_cache_clear()
    markets_cache_clear()


@pytest.fixture
def paper_credential(db, make_account):
    """A funded PAPER credential: paper_credential(account=None, usd="10000", **assets)."""

    def make(account=None, *, usd: str = "10000", label: str = "default", **assets: str) -> BrokerCredential:
        account = account or make_account()
        credential = credential_add(
            actor="test", account=account, venue="paper", label=label,
            api_key=f"paper-{secrets.token_hex(8)}", api_secret=secrets.token_hex(16),
        )
        if usd and Decimal(usd):
            paper_fund(credential=credential, asset="USD", amount=Decimal(usd))
        for asset, amount in assets.items():
            paper_fund(credential=credential, asset=asset, amount=Decimal(amount))
        return credential

    return make


@pytest.fixture
def okx_venue(monkeypatch):
    """Every ccxt.okx instance answers from recorded payloads; `perm` sets the key's rights."""
    state = {"perm": "read_only,trade"}
    balance = recorded("okx", "fetchBalance", "spot balance")["httpResponse"]

    def fetch(self, url, method="GET", headers=None, body=None):
        if "account/balance" in url:
            return balance
        if "account/config" in url:
            return {"code": "0", "msg": "", "data": [{"perm": state["perm"], "uid": "42"}]}
        raise AssertionError(url)

    def load_markets(self, reload=False, params=None):
        markets_load(self, "okx")
        return self.markets

    monkeypatch.setattr(ccxt.okx, "fetch", fetch)
    monkeypatch.setattr(ccxt.okx, "load_markets", load_markets)
    return state
