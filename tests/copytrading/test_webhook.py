"""POST /api/v1/signals: signature, clock skew, body validation, idempotency."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal

import pytest
from celery.app.task import Task
from django.utils import timezone
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from copytrading.api.views import signal_signature
from copytrading.models import CopyOrder, MasterSignal
from copytrading.planning import signals_plan_pending
from copytrading.services import signal_receive
from copytrading.tasks import signal_plan_task, signals_plan_pending_task

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
    assert response.status_code == 202, response.content
    body = response.json()
    signal = MasterSignal.objects.get()
    # tests run tasks eagerly: the queued planning has run by the time the answer is built
    assert body["signal_id"] == signal.pk and body["status"] == "OBSERVED" and body["planning"] == "done"
    assert body["copy_orders"] == {"planned": 0, "observed": 2, "skipped": 0, "by_reason": {}}
    assert signal.source == "webhook" and signal.raw_payload["source_id"] == "m-123"


def test_replayed_signal_returns_the_existing_one_with_200(world):
    world.account("ann")
    first = post(signal_data())
    again = post(signal_data())
    assert (first.status_code, again.status_code) == (202, 200)
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
        "stale": {"ts": now - 360},  # a margin: the request may take seconds on a loaded machine
        "future": {"ts": now + 360},
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


def test_an_amount_with_all_the_integer_digits_the_column_holds_is_stored_exactly(postgres, world):
    # 18 integer digits at 18 places are 36 digits, more than Decimal's default 28 (a 500 before; the fuzz found it).
    # PostgreSQL only: SQLite keeps NUMERIC as an 8-byte float past 15 significant digits.
    world.account("ann")
    response = post(signal_data(amount="148224614917", price="123456789012345.5"))
    assert response.status_code == 202, response.content
    signal = MasterSignal.objects.get()
    assert signal.amount == Decimal("148224614917") and signal.price == Decimal("123456789012345.5")


# --- hostile but validly signed bodies: 400 naming the field, nothing stored ------------------
@pytest.mark.parametrize(("overrides", "field"), [
    ({"amount": "1e20"}, "amount"),  # more integer digits than the column holds
    ({"price": "12345678901234567890"}, "price"),
    ({"amount": "0.0000000000000000001"}, "amount"),  # rounds to 0 at 18 places
    ({"price": "0.0000000000001"}, "price"),  # rounds to 0 at 12 places
    ({"side": "sell", "exit_fraction": "0.000000001"}, "exit_fraction"),  # rounds to 0 at 8 places
    ({"symbol": "BTC/USD\x00"}, "symbol"),
    ({"source_id": "m-\x00-1"}, "source_id"),
    ({"master_order_id": "O\x001"}, "master_order_id"),
    ({"venue": "pa\x00per"}, "venue"),
    ({"symbol": "2LSO89V3KN1FP/IIX25C9F5UPJ2CJ:TGDWV"}, "symbol"),  # found by the schema fuzz: 35 > 32
    ({"venue": "v" * 33}, "venue"),
    ({"executed_at": "0001-01-01T00:00:00+00:00"}, "executed_at"),
    ({"executed_at": "0001-01-01T00:00:00+05:00"}, "executed_at"),  # before year 1 in UTC
    ({"executed_at": "9999-12-31T23:59:59-05:00"}, "executed_at"),  # after year 9999 in UTC
    ({"executed_at": "9999-12-31T00:00:00Z"}, "executed_at"),
])
def test_values_the_database_cannot_hold_get_400_naming_the_field(world, overrides, field):
    world.account("ann")
    response = post(signal_data(**overrides))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"], error
    assert MasterSignal.objects.count() == 0


def test_a_nul_anywhere_in_the_body_is_refused(world):
    world.account("ann")
    response = post(signal_data(note={"deep": ["ok", "bad\x00"]}))
    assert response.status_code == 400 and "NUL" in response.json()["error"]["message"]
    assert MasterSignal.objects.count() == 0


def test_deeply_nested_json_gets_400(world):
    body = b'{"source_id": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = post(body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert MasterSignal.objects.count() == 0


def test_a_signal_dated_in_the_future_beyond_the_clock_tolerance_is_refused(world, settings):
    settings.NIJA_SIGNAL_CLOCK_TOLERANCE_SECONDS = 30
    world.account("ann")
    ahead = (timezone.now() + dt.timedelta(seconds=120)).isoformat()
    response = post(signal_data(executed_at=ahead))
    assert response.status_code == 400 and "future" in response.json()["error"]["fields"]["executed_at"]
    within = (timezone.now() + dt.timedelta(seconds=10)).isoformat()
    assert post(signal_data(source_id="m-2", executed_at=within)).status_code == 202


# --- freshness and the queue ---------------------------------------------------------------
def test_an_old_signal_is_stored_expired_with_its_reason_and_never_copied(world, settings):
    settings.NIJA_SIGNAL_MAX_AGE_SECONDS = 300
    world.account("ann")
    old = (timezone.now() - dt.timedelta(minutes=10)).isoformat()
    response = post(signal_data(executed_at=old))
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "EXPIRED" and body["planning"] == "not planned: expired"
    assert "older than 300 s" in body["reason"]
    signal = MasterSignal.objects.get()
    assert signal.status == "EXPIRED" and "older than 300 s" in signal.status_reason
    assert CopyOrder.objects.count() == 0
    signals_plan_pending(now=timezone.now() + dt.timedelta(hours=1))  # the sweep leaves it alone
    assert CopyOrder.objects.count() == 0 and MasterSignal.objects.get().status == "EXPIRED"
    assert post(signal_data(executed_at=old)).status_code == 200  # a replay is still a replay


def test_with_the_broker_down_the_signal_is_accepted_and_the_sweep_plans_it(world, monkeypatch):
    world.account("ann")

    def broker_refuses(self, *args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", broker_refuses)  # the network boundary: the broker
    response = post(signal_data())
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["planning"]) == ("RECEIVED", "accepted, planning queued")
    assert CopyOrder.objects.count() == 0
    monkeypatch.undo()  # the broker is back; beat's next sweep plans what waited
    assert signals_plan_pending().planned == 0  # too recent: its queued task may still come
    report = signals_plan_pending(now=timezone.now() + dt.timedelta(seconds=30))
    assert report.planned == 1 and not report.errors
    assert MasterSignal.objects.get().status == "OBSERVED" and CopyOrder.objects.count() == 1
    assert signals_plan_pending(now=timezone.now() + dt.timedelta(seconds=60)).planned == 0  # planned once


def test_the_pending_signal_task_and_the_planning_task_plan_once(world):
    world.account("ann")
    signal, created = signal_receive(source="manual", data=signal_data(), plan=False)
    assert created and signal.status == "RECEIVED"
    first = signal_plan_task.apply(args=[signal.pk]).get()
    again = signal_plan_task.apply(args=[signal.pk]).get()  # a redelivery
    assert first["planned"] and not again["planned"] and again["status"] == "OBSERVED"
    assert signals_plan_pending_task.apply().get() == {"planned": 0, "errors": []}
    assert CopyOrder.objects.count() == 1
