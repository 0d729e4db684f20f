"""POST /api/v1/signals: signature, clock skew, body validation, idempotency."""

from __future__ import annotations

import json
import time

import pytest
from rest_framework.test import APIClient

from copytrading.api.views import signal_signature
from copytrading.models import CopyOrder, MasterSignal

from .conftest import SECRET, signal_data

pytestmark = pytest.mark.django_db
URL = "/api/v1/signals"


def post(body: bytes | dict, *, secret: str = SECRET, ts: int | None = None, signature: str | None = None,
         headers: bool = True):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(time.time()) if ts is None else ts)
    sig = signature if signature is not None else signal_signature(secret=secret, timestamp=stamp, body=raw)
    extra = {"HTTP_X_NIJA_TIMESTAMP": stamp, "HTTP_X_NIJA_SIGNATURE": sig} if headers else {}
    return APIClient().post(URL, data=raw, content_type="application/json", **extra)


def test_signed_signal_is_stored_and_planned(world):
    world.account("nija_master", master=True, USD="50000")
    world.account("ann")
    world.account("bob", USD="5000")
    response = post(signal_data())
    assert response.status_code == 201, response.content
    body = response.json()
    signal = MasterSignal.objects.get()
    assert body["signal_id"] == signal.pk and body["status"] == "OBSERVED"
    assert body["copy_orders"] == {"planned": 0, "observed": 2, "skipped": 0, "by_reason": {}}
    assert signal.source == "webhook" and signal.raw_payload["source_id"] == "m-123"


def test_replayed_signal_returns_the_existing_one_with_200(world):
    world.account("ann")
    first = post(signal_data())
    again = post(signal_data())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["signal_id"] == first.json()["signal_id"]
    assert MasterSignal.objects.count() == 1 and CopyOrder.objects.count() == 1


@pytest.mark.parametrize("case", ["bad_signature", "wrong_secret", "missing_headers", "stale", "future", "not_digits"])
def test_unauthentic_or_stale_requests_get_401_and_store_nothing(world, case):
    world.account("ann")
    now = int(time.time())
    kwargs = {
        "bad_signature": {"signature": "0" * 64},
        "wrong_secret": {"secret": "other-secret"},
        "missing_headers": {"headers": False},
        "stale": {"ts": now - 301},
        "future": {"ts": now + 301},
        "not_digits": {"signature": "x"},
    }[case]
    response = post(signal_data(), **kwargs)
    assert response.status_code == 401
    assert MasterSignal.objects.count() == 0 and CopyOrder.objects.count() == 0


def test_body_tampered_after_signing_is_refused(world):
    stamp = str(int(time.time()))
    signed = json.dumps(signal_data()).encode()
    sig = signal_signature(secret=SECRET, timestamp=stamp, body=signed)
    tampered = json.dumps(signal_data(amount="10")).encode()
    response = APIClient().post(URL, data=tampered, content_type="application/json",
                                HTTP_X_NIJA_TIMESTAMP=stamp, HTTP_X_NIJA_SIGNATURE=sig)
    assert response.status_code == 401 and MasterSignal.objects.count() == 0


def test_webhook_refuses_everything_without_a_secret(world, settings):
    settings.NIJA_SIGNAL_SECRET = ""
    response = post(signal_data(), secret="")
    assert response.status_code == 401 and "disabled" in response.json()["error"]["message"]
    assert MasterSignal.objects.count() == 0


def test_malformed_json_is_400_and_stores_nothing(world):
    response = post(b'{"source_id": "m-1", ')
    assert response.status_code == 400 and MasterSignal.objects.count() == 0


def test_invalid_fields_get_an_error_each_and_store_nothing(world):
    body = signal_data(side="hold", amount=0.1, price="-5", symbol="btcusd", executed_at="yesterday")
    del body["venue"]
    response = post(body)
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"side", "amount", "price", "symbol", "executed_at", "venue"}
    assert MasterSignal.objects.count() == 0


def test_a_json_array_is_refused(world):
    response = post(b"[1, 2]")
    assert response.status_code == 400 and MasterSignal.objects.count() == 0
