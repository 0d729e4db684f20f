"""Offline ccxt: the exchange instance's `fetch` (the one method that touches the network) is
replaced by a replay of recorded exchange JSON, so ccxt's real signing, parsing and error mapping
run. Payloads: tests/fixtures/ccxt-static (copied from ccxt's static test data, see SOURCE.md)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-static"


@cache
def _load(kind: str, exchange_id: str) -> dict:
    return json.loads((FIXTURES / kind / f"{exchange_id}.json").read_text())


def recorded(exchange_id: str, method: str, description: str) -> dict:
    for case in _load("response", exchange_id)["methods"][method]:
        if case["description"] == description:
            return case
    raise KeyError(f"{exchange_id}.{method}: no case '{description}'")


def markets_load(exchange: Any, exchange_id: str) -> None:
    currencies = FIXTURES / "currencies" / f"{exchange_id}.json"
    exchange.set_markets(_load("markets", exchange_id),
                         _load("currencies", exchange_id) if currencies.exists() else None)


class Replay:
    """routes: [(url fragment, payload)], or (fragment, (http status, body dict)) for an error
    answer, which goes through ccxt's own handle_errors like a real response would."""

    def __init__(self, exchange: Any, routes: list[tuple[str, Any]]) -> None:
        self.exchange = exchange
        self.routes = routes
        self.calls: list[tuple[str, str, Any, Any]] = []

    def answer(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        self.calls.append((method, url, headers, body))
        for fragment, payload in self.routes:
            if fragment in url:
                if isinstance(payload, tuple):
                    status, error_body = payload
                    text = json.dumps(error_body)
                    self.exchange.handle_errors(status, "error", url, method, {}, text, error_body, headers, body)
                    self.exchange.handle_http_status_code(status, "error", url, method, text)
                    raise AssertionError(f"ccxt did not raise for {status} {text}")
                return payload
        raise AssertionError(f"no recorded answer for {method} {url}")

    def install(self) -> Replay:
        self.exchange.fetch = self.answer
        return self

    def install_async(self) -> Replay:
        async def fetch(url, method="GET", headers=None, body=None):
            return self.answer(url, method, headers, body)

        self.exchange.fetch = fetch
        return self
