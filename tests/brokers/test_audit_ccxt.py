"""The balance audit through the real async ccxt code: OKX answers from recorded payloads, Kraken
refuses the key. Unpriced assets keep their quantity with no USD value (never a zero value), and the
failing venue is unavailable while the other still counts."""

from __future__ import annotations

import copy
from decimal import Decimal

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from brokers.models import BalanceSnapshot
from brokers.selectors import balance_report, balance_user_by_venue
from brokers.services import balance_audit_run, credential_add

from .ccxt_replay import markets_load, recorded

PRICES = {"BTC-USDT": "73384.8", "ETH-USDT": "3500.5", "LTC-USDT": "85.1", "ADA-USDT": "0.5", "TRX-USDT": "0.12"}


@pytest.fixture
def venues(monkeypatch):
    balance = next(c for c in recorded_cases("okx", "fetchBalance") if c["input"] == [])["httpResponse"]
    ticker = recorded("okx", "fetchTicker", "public spot ticker")["httpResponse"]
    calls: list[str] = []

    async def okx_fetch(self, url, method="GET", headers=None, body=None):
        calls.append(url)
        if "account/balance" in url:
            return balance
        if "market/ticker" in url:
            inst = url.split("instId=")[1].split("&")[0]
            answer = copy.deepcopy(ticker)
            answer["data"][0].update(instId=inst, last=PRICES[inst])
            return answer
        raise AssertionError(url)

    async def okx_markets(self, reload=False, params=None):
        markets_load(self, "okx")
        return self.markets

    async def kraken_fetch(self, url, method="GET", headers=None, body=None):
        error = {"error": ["EAPI:Invalid key"]}
        self.handle_errors(200, "OK", url, method, {}, '{"error":["EAPI:Invalid key"]}', error, headers, body)

    async def kraken_markets(self, reload=False, params=None):
        markets_load(self, "kraken")
        return self.markets

    # Keys stored with verify=False are UNVERIFIED: the audit verifies them first, through the
    # synchronous client (OKX: a trade-only key; Kraken: refused like its balance call).
    def okx_verify_fetch(self, url, method="GET", headers=None, body=None):
        if "account/balance" in url:
            return balance
        if "account/config" in url:
            return {"code": "0", "msg": "", "data": [{"perm": "read_only,trade", "uid": "42"}]}
        raise AssertionError(url)

    def kraken_verify_fetch(self, url, method="GET", headers=None, body=None):
        error = {"error": ["EAPI:Invalid key"]}
        self.handle_errors(200, "OK", url, method, {}, '{"error":["EAPI:Invalid key"]}', error, headers, body)

    monkeypatch.setattr(ccxt.okx, "fetch", okx_verify_fetch)
    monkeypatch.setattr(ccxt.okx, "load_markets", lambda self, reload=False, params=None: markets_load(self, "okx"))
    monkeypatch.setattr(ccxt.kraken, "fetch", kraken_verify_fetch)
    monkeypatch.setattr(ccxt_async.okx, "fetch", okx_fetch)
    monkeypatch.setattr(ccxt_async.okx, "load_markets", okx_markets)
    monkeypatch.setattr(ccxt_async.kraken, "fetch", kraken_fetch)
    monkeypatch.setattr(ccxt_async.kraken, "load_markets", kraken_markets)
    return calls


def recorded_cases(exchange_id: str, method: str) -> list[dict]:
    from .ccxt_replay import _load

    return _load("response", exchange_id)["methods"][method]


def test_audit_values_okx_through_its_prices_and_marks_kraken_unavailable(make_account, venues):
    account = make_account("alice")
    for venue in ("okx", "kraken"):
        credential_add(actor="test", account=account, venue=venue, api_key=f"{venue}-key-00001234",
                       api_secret=f"{venue}-secret", passphrase="pp", verify=False)
    summary = balance_audit_run()
    assert (summary.ok, summary.failed) == (1, 1)
    rows = {r.asset: r for r in BalanceSnapshot.objects.filter(venue="okx")}
    btc = rows["BTC"]
    assert btc.usd_value.quantize(Decimal("0.01")) == (Decimal("1.06126645222") * Decimal("73384.8")).quantize(
        Decimal("0.01"))
    assert rows["TUSD"].usd_value == Decimal("3000")  # a stablecoin without a USD market counts at par
    assert rows["JFI"].usd_value is None and rows["JFI"].error == "no USD price for JFI"
    assert rows["JFI"].total == Decimal("100")
    # each price asked once for the whole audit
    assert sum("instId=BTC-USDT" in url for url in venues) == 1
    failed = BalanceSnapshot.objects.get(venue="kraken")
    assert failed.status == "failed" and "EAPI:Invalid key" in failed.error
    venues_view = balance_user_by_venue(account=account).venues
    assert venues_view["okx"].available and not venues_view["kraken"].available
    report = balance_report()
    assert list(report["balances"]["users"]["alice"]) == ["okx"]
    assert report["unavailable"][0]["venue"] == "kraken" and report["unavailable"][0]["last_good"] is None
