"""Reconciliation sends a batch's venue calls at once, one at a time per credential, and stops
at its time budget leaving the rest for the next batch."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Count

from brokers.clients.paper import AsyncPaperClient
from brokers.paper_venue import paper_behaviour_set
from copytrading.models import CopyFill, CopyOrder
from copytrading.reconciliation import copy_orders_reconcile
from copytrading.services import signal_receive

from .conftest import signal_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_signals_filled(world, live, django_capture_on_commit_callbacks):
    """Three followers, two LIVE signals: six FILLED copies, two per credential, fills not stored."""
    world.account("nija_master", master=True, USD="50000")
    creds = [world.account(f"f{i}")[1] for i in range(3)]
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            signal_receive(source="manual", data=signal_data(source_id=f"m-{n}", master_order_id=f"O-{n}"))
    assert CopyOrder.objects.filter(status="FILLED", fills_synced=False).count() == 6
    return creds


@pytest.fixture
def in_flight(monkeypatch):
    """Counts trade fetches in flight at the venue client, overall and per credential."""
    seen = {"now": Counter(), "most": Counter(), "calls": Counter()}
    fetch = AsyncPaperClient.fetch_my_trades

    async def counted(self, **kwargs):
        key = self.credential_id
        seen["now"][key] += 1
        seen["now"]["all"] += 1
        seen["calls"][key] += 1
        seen["most"][key] = max(seen["most"][key], seen["now"][key])
        seen["most"]["all"] = max(seen["most"]["all"], seen["now"]["all"])
        try:
            return await fetch(self, **kwargs)
        finally:
            seen["now"][key] -= 1
            seen["now"]["all"] -= 1

    monkeypatch.setattr(AsyncPaperClient, "fetch_my_trades", counted)
    return seen


def test_a_batch_calls_many_credentials_at_once_and_each_credential_one_call_at_a_time(two_signals_filled,
                                                                                     in_flight):
    for cred in two_signals_filled:
        paper_behaviour_set(credential=cred, latency_ms=100)
    report = copy_orders_reconcile()
    assert report.fills_stored == 6 and not report.errors
    assert in_flight["most"]["all"] > 1  # several credentials at once
    assert all(in_flight["most"][c.pk] == 1 for c in two_signals_filled)  # never two calls on one key
    assert in_flight["calls"] == Counter({c.pk: 2 for c in two_signals_filled})
    per_order = CopyFill.objects.values("copy_order").annotate(n=Count("id")).values_list("n", flat=True)
    assert list(per_order) == [1] * 6


def test_the_sequential_baseline_makes_one_call_at_a_time(two_signals_filled, in_flight):
    assert copy_orders_reconcile(max_concurrency=1).fills_stored == 6
    assert in_flight["most"]["all"] == 1


def test_orders_not_answered_within_the_time_budget_are_left_for_the_next_batch(two_signals_filled):
    slow = two_signals_filled[2]
    paper_behaviour_set(credential=slow, latency_ms=30_000)
    report = copy_orders_reconcile(time_budget=3)
    slow_orders = list(CopyOrder.objects.filter(credential_id=slow.pk).order_by("pk"))
    assert report.fills_stored == 4
    assert report.next_after_id == slow_orders[0].pk - 1  # the next batch starts at the first one left
    assert any("time budget" in e for e in report.errors)
    assert not CopyFill.objects.filter(copy_order__credential_id=slow.pk).exists()
    assert [o.fills_synced for o in slow_orders] == [False, False]
    paper_behaviour_set(credential=slow, latency_ms=0)
    assert copy_orders_reconcile(after_id=report.next_after_id).fills_stored == 2
