"""Issue 11 §2: hypothesis fuzz of the signal webhook's body, validly signed so every request reaches
the body's validation: never a 5xx, every refusal a 4xx in the API's error shape, and a refused
request writes nothing (every table's checksum equal before and after)."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copytrading.api.views import SIGNATURE_HEADER, TIMESTAMP_HEADER, signal_signature
from tests.checksums import changed_tables, table_checksums

pytestmark = pytest.mark.django_db
SECRET = "webhook-fuzz-secret"
WEBHOOK = "/api/v1/signals"

# What a hostile or broken sender puts in a field: beyond the columns, rounding to zero, not numbers,
# NUL bytes, lone surrogates (undecodable text), far dates, other JSON types.
HOSTILE_TEXT = ["", " ", "\x00", "BTC\x00/USD", "x" * 300, "caf\udce9", "\ud800", "１２", "Ⅻ", "null", "-",
                "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --"]
HOSTILE_NUMBERS = ["0", "-0", "-1", "1e30", "1E-30", "0.000000000000000000001", "NaN", "-Infinity", "Infinity",
                   "9" * 40, "1" * 20 + "." + "1" * 20, "0x10", " 1 ", "1_000", "1,5", "1e", ".", "+5",
                   "0.1" + "0" * 60 + "1"]
HOSTILE_TIMES = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-30T10:00:00Z", "2026-13-01T00:00:00Z",
                 "1999-12-31T23:59:59Z", "2026-11-20T25:61:00Z", "2026-11-20", "yesterday", "1700000000",
                 "2026-11-20T10:00:00+99:00"]
OTHER_JSON = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                       st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(),
                                                                            max_size=2))


def _field(valid: st.SearchStrategy, *hostile: list[str]) -> st.SearchStrategy:
    pool = [value for values in hostile for value in values]
    # Mostly valid, so a body usually gets far into the validation with one or two bad fields.
    return st.one_of(valid, valid, valid, st.sampled_from(pool), st.text(max_size=30), OTHER_JSON)


def _now_iso() -> st.SearchStrategy:
    return st.builds(lambda seconds: (timezone.now() - timezone.timedelta(seconds=seconds)).isoformat(),
                     st.integers(min_value=-120, max_value=900))


FIELDS = {
    "source_id": _field(st.uuids().map(lambda u: f"fz-{u.hex[:20]}"), HOSTILE_TEXT),
    "venue": _field(st.sampled_from(["paper", "kraken", "okx"]), HOSTILE_TEXT),
    "symbol": _field(st.sampled_from(["BTC/USD", "ETH/USD", "btc-usd"]), HOSTILE_TEXT),
    "side": _field(st.sampled_from(["buy", "sell"]), HOSTILE_TEXT),
    "amount": _field(st.sampled_from(["0.1", "0.00001", "2"]), HOSTILE_NUMBERS, HOSTILE_TEXT),
    "price": _field(st.sampled_from(["50000", "0.5", "123456.78"]), HOSTILE_NUMBERS, HOSTILE_TEXT),
    "order_type": _field(st.sampled_from(["market", "limit"]), HOSTILE_TEXT),
    "master_order_id": _field(st.sampled_from(["O-1", "O-2"]), HOSTILE_TEXT),
    "executed_at": _field(_now_iso(), HOSTILE_TIMES, HOSTILE_TEXT),
    "exit_fraction": _field(st.sampled_from(["0.5", "1"]), HOSTILE_NUMBERS),
}
REQUIRED = {name: FIELDS[name] for name in ("source_id", "venue", "symbol", "side", "amount", "price")}
OPTIONAL = {name: strategy for name, strategy in FIELDS.items() if name not in REQUIRED}


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


BODIES = st.one_of(
    st.fixed_dictionaries(REQUIRED, optional={**OPTIONAL, "extra": OTHER_JSON}).map(
        lambda body: json.dumps(body).encode()),
    # a field missing, or the body not an object at all
    st.fixed_dictionaries({}, optional=FIELDS).map(lambda body: json.dumps(body).encode()),
    st.recursive(OTHER_JSON, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                          max_size=3),
                 max_leaves=10).map(lambda body: json.dumps(body).encode()),
    # not JSON, not UTF-8, nested past any parser's patience, over the size limit
    st.binary(max_size=64),
    st.sampled_from([b"\xff\xfe{}", b'{"amount": "1"', b"", b"[]" * 3, _deep(5000), _deep(60),
                     b'{"source_id": "' + b"x" * 20000 + b'"}', b'{"amount": 1e999}', b'{"a": NaN}']),
)


def _post(client: Client, body: bytes):
    timestamp = str(int(time.time()))
    return client.post(WEBHOOK, data=body, content_type="application/json", headers={
        TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signal_signature(secret=SECRET, timestamp=timestamp, body=body)})


@pytest.fixture
def webhook(settings, make_account):
    settings.NIJA_SIGNAL_SECRET = SECRET
    make_account("nija_master", master=True)
    make_account("daivon_frazier")
    return Client()


@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=BODIES)
def test_a_signed_body_never_gets_a_server_error_and_a_refused_one_writes_nothing(webhook, body):
    before = table_checksums()
    response = _post(webhook, body)
    assert response.status_code < 500, (body[:300], response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    answer = response.json()
    if response.status_code >= 400:
        error = answer["error"]
        assert error["code"] and error["message"], answer
        assert changed_tables(before, table_checksums()) == [], (body[:300], answer)
    else:
        assert response.status_code in (200, 202) and answer["signal_id"], answer
