"""The periodic balance audit takes a bounded batch of accounts and queues itself for the rest."""

from __future__ import annotations

from collections import Counter

from celery.signals import task_prerun

from brokers.models import BalanceSnapshot
from brokers.tasks import balance_audit_task


def test_the_audit_goes_in_batches_every_credential_fetched_exactly_once(paper_credential, make_account, settings,
                                                                         django_capture_on_commit_callbacks):
    settings.NIJA_TASK_BATCH_SIZE = 2
    credentials = [paper_credential(make_account(f"investor_{i}"), usd="1000") for i in range(5)]
    before = Counter(BalanceSnapshot.objects.values_list("credential_id", flat=True))
    batches: list[int] = []

    def record(sender=None, kwargs=None, **_):
        if sender is not None and sender.name == balance_audit_task.name:
            batches.append((kwargs or {}).get("after_id", 0))

    task_prerun.connect(record, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            balance_audit_task.delay()
    finally:
        task_prerun.disconnect(record)
    accounts = [c.account_id for c in credentials]
    assert batches == [0, accounts[1], accounts[3]]
    new = Counter(BalanceSnapshot.objects.values_list("credential_id", flat=True)) - before
    assert new == Counter({c.pk: 1 for c in credentials})  # one USD row per fetch: one fetch each
    assert BalanceSnapshot.objects.filter(is_latest_ok=True).count() == 5


def test_an_audit_of_named_accounts_is_not_batched(paper_credential, make_account, settings):
    settings.NIJA_TASK_BATCH_SIZE = 1
    credentials = [paper_credential(make_account(f"investor_{i}"), usd="1000") for i in range(3)]
    summary = balance_audit_task.delay(account_ids=[c.account_id for c in credentials]).get()
    assert summary["credentials"] == 3 and summary["ok"] == 3
