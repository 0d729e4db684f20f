"""Reporting tasks: a transient database failure is retried for real; the periodic tasks take
bounded batches and queue themselves for the rest, every account exactly once."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from contextlib import contextmanager

import pytest
from celery.signals import task_prerun
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from reporting.models import FeeCharge, Report
from reporting.services import fee_schedule_set, ledger_import_csv
from reporting.tasks import fees_accrue_task, report_generate_task, reports_period_task

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
DAY = "2026-01-08"


@pytest.fixture
def ledger_accounts(make_account):
    accounts = []
    for i in range(5):
        account = make_account(f"investor_{i}")
        ledger_import_csv(actor="test", account=account,
                          text=HEADER + f"2026-01-01T09:00:00Z,deposit,paper,USD,{1000 + i},,,,,d-{i}\n")
        accounts.append(account)
    return accounts


@contextmanager
def database_failing(times: int, table: str):
    """The database drops the connection on the first `times` statements that touch `table`."""
    seen = {"failed": 0}

    def wrapper(execute, sql, params, many, context):
        if table in sql and seen["failed"] < times:
            seen["failed"] += 1
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def run_as_a_worker(task, *args):
    """apply() as a worker runs it: a failure ends up in the result instead of being raised (with
    eager propagation Celery raises its Retry instead of retrying)."""
    conf = task.app.conf
    propagates = conf.task_eager_propagates
    conf.task_eager_propagates = False
    try:
        return task.apply(args=args)
    finally:
        conf.task_eager_propagates = propagates


@contextmanager
def task_runs(name: str):
    """Each run of task `name` (eager runs too), with its args and kwargs."""
    runs: list[tuple[tuple, dict]] = []

    def record(sender=None, args=None, kwargs=None, **_):
        if sender is not None and sender.name == name:
            runs.append((tuple(args or ()), dict(kwargs or {})))

    task_prerun.connect(record, weak=False)
    try:
        yield runs
    finally:
        task_prerun.disconnect(record)


def test_a_transient_database_failure_is_retried_and_the_report_stored(ledger_accounts):
    account = ledger_accounts[0]
    with task_runs("reporting.tasks.report_generate_task") as runs, database_failing(2, "reporting_report") as db:
        result = run_as_a_worker(report_generate_task, account.pk, "daily", DAY)
    assert db["failed"] == 2 and len(runs) == 3  # the first try and two retries
    assert result.successful() and Report.objects.get(pk=result.result).account_id == account.pk


def test_a_failure_that_outlasts_the_retries_is_raised_and_stores_nothing(ledger_accounts):
    account = ledger_accounts[0]
    with task_runs("reporting.tasks.report_generate_task") as runs, database_failing(100, "reporting_report"):
        result = run_as_a_worker(report_generate_task, account.pk, "daily", DAY)
    assert len(runs) == 3
    assert result.failed() and isinstance(result.result, OperationalError)
    assert not Report.objects.exists()


def test_a_bug_is_not_retried(ledger_accounts):
    with task_runs("reporting.tasks.report_generate_task") as runs:
        result = run_as_a_worker(report_generate_task, ledger_accounts[0].pk, "no-such-period", DAY)
    assert len(runs) == 1 and result.failed()
    assert not isinstance(result.result, OperationalError)


def test_period_reports_go_in_batches_every_account_exactly_once(ledger_accounts, settings,
                                                                 django_capture_on_commit_callbacks):
    settings.NIJA_TASK_BATCH_SIZE = 2
    with task_runs("reporting.tasks.report_generate_task") as reports, \
            task_runs("reporting.tasks.reports_period_task") as batches, \
            django_capture_on_commit_callbacks(execute=True):
        assert reports_period_task.delay("weekly", DAY).get() == 2
    assert [kwargs.get("after_id", 0) for _args, kwargs in batches] == [
        0, ledger_accounts[1].pk, ledger_accounts[3].pk]
    assert all(args[1] == DAY for args, _ in batches[1:])  # the day is fixed for the whole run
    assert Counter(args[0] for args, _ in reports) == Counter({a.pk: 1 for a in ledger_accounts})
    assert Report.objects.filter(period="weekly").count() == 5


def test_fee_accrual_goes_in_batches_every_account_exactly_once(ledger_accounts, settings,
                                                                django_capture_on_commit_callbacks):
    settings.NIJA_TASK_BATCH_SIZE = 2
    for account in ledger_accounts:
        fee_schedule_set(actor="staff", account=account, management_fee_rate="0.02", reason="agreement")
    with task_runs("reporting.tasks.fees_accrue_task") as batches, CaptureQueriesContext(connection) as queries, \
            django_capture_on_commit_callbacks(execute=True):
        fees_accrue_task.delay(DAY)
    assert [kwargs.get("after_id", 0) for _args, kwargs in batches] == [
        0, ledger_accounts[1].pk, ledger_accounts[3].pk]
    # fees_accrue reads each account's stored charges once: one read per account means one accrual each.
    reads = Counter(a.pk for a in ledger_accounts for q in queries.captured_queries
                    if 'FROM "reporting_feecharge"' in q["sql"] and f'"account_id" = {a.pk}' in q["sql"])
    assert reads == Counter({a.pk: 1 for a in ledger_accounts})
    days = (dt.date.fromisoformat(DAY) - dt.date(2026, 1, 1)).days + 1
    assert FeeCharge.objects.count() == 5 * days
