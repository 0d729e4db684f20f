"""The investor overview is never cold: a ledger change queues one background refresh after commit
(none on rollback, one per burst), a view after a change or a price serves the latest figures with
their time and a note while the refresh runs, and only the first view ever computes inline."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal

import pytest
from celery.signals import task_postrun
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.services import account_update
from reporting.overview_store import overview_latest, overview_refresh_claim
from reporting.selectors import account_overview_current
from reporting.services import ledger_entry_manual_record, price_point_record
from reporting.tasks import account_overview_refresh_task

REFRESH = "reporting.tasks.account_overview_refresh_task"
NOTE = 'data-figure="as-of"'


@contextmanager
def tasks_run():
    """Counter of the Celery tasks run meanwhile (eager in tests) by name, and each one's results."""
    runs: Counter = Counter()
    results: list = []

    def seen(sender=None, retval=None, **_):
        runs[sender.name] += 1
        results.append((sender.name, retval))

    task_postrun.connect(seen, weak=False)
    try:
        yield runs, results
    finally:
        task_postrun.disconnect(seen)


def deposit(account, amount: str = "5000", external_id: str = ""):
    return ledger_entry_manual_record(actor="test", account=account, kind="deposit", venue="paper", asset="USD",
                                      amount=amount, reason="top-up", external_id=external_id)


def latest_of(account) -> dict | None:
    return overview_latest(account_id=account.pk, created=account.created_at.timestamp())


def nav_of(html: str) -> Decimal:
    return Decimal(html.split('data-figure="nav">')[1].split("<")[0].replace("$", "").replace(",", ""))


def test_the_first_ever_view_computes_inline_and_queues_nothing(client, investor, django_capture_on_commit_callbacks):
    account, user = investor()
    assert latest_of(account) is None  # the fixture's writes never committed: nothing refreshed
    client.force_login(user)
    with django_capture_on_commit_callbacks() as callbacks:
        html = client.get("/portal/").content.decode()
    assert callbacks == []
    assert NOTE not in html and nav_of(html) == Decimal("100004")  # 100,000 deposited, +10 -10 +10 traded, 6 of fees
    assert latest_of(account)["version"] == account_overview_current(account=account)


def test_a_ledger_change_queues_one_refresh_after_commit(client, investor, django_capture_on_commit_callbacks):
    account, user = investor()
    client.force_login(user)
    client.get("/portal/")
    before = latest_of(account)
    with tasks_run() as (runs, _), django_capture_on_commit_callbacks() as callbacks:
        deposit(account)
        assert runs[REFRESH] == 0 and latest_of(account) == before  # not before the commit
    assert len(callbacks) == 1
    with tasks_run() as (runs, results):
        callbacks[0]()  # the commit
    assert runs[REFRESH] == 1 and results == [(REFRESH, 1)]
    assert latest_of(account)["version"] == account_overview_current(account=account)
    html = client.get("/portal/").content.decode()
    assert NOTE not in html and nav_of(html) == Decimal("105004")


def test_a_rolled_back_ledger_change_queues_nothing(investor, django_capture_on_commit_callbacks):
    account, _ = investor()
    with (tasks_run() as (runs, _), django_capture_on_commit_callbacks(execute=True) as callbacks,
          pytest.raises(RuntimeError), transaction.atomic()):
        deposit(account)
        raise RuntimeError("the caller's next step failed")
    assert callbacks == [] and runs[REFRESH] == 0 and latest_of(account) is None


def test_an_account_without_a_portal_login_is_not_refreshed(make_account, django_capture_on_commit_callbacks):
    account = make_account("no_login")
    with tasks_run() as (runs, _), django_capture_on_commit_callbacks(execute=True) as callbacks:
        deposit(account)
    assert callbacks == [] and runs[REFRESH] == 0


def test_a_view_after_a_change_serves_the_previous_figures_with_the_note_then_the_new_ones(
        client, investor, django_capture_on_commit_callbacks):
    account, user = investor()
    client.force_login(user)
    first = client.get("/portal/").content.decode()
    assert NOTE not in first
    deposit(account)  # committed in a real run; here its refresh is left queued (the test's transaction)
    with tasks_run() as (runs, _), django_capture_on_commit_callbacks(execute=True) as callbacks:
        stale = client.get("/portal/").content.decode()
        assert runs[REFRESH] == 0  # the page did not wait for the computation
    assert nav_of(stale) == nav_of(first) == Decimal("100004")
    note = stale.split(NOTE)[1].split("</p>")[0]
    assert "Figures as of <time" in note and "UTC</time>, updating" in note
    assert len(callbacks) == 1 and runs[REFRESH] == 1  # the view queued the refresh, which ran
    fresh = client.get("/portal/").content.decode()
    assert NOTE not in fresh and nav_of(fresh) == Decimal("105004")


def test_after_a_price_refresh_the_note_shows_the_time_in_the_investors_zone(
        client, investor, django_capture_on_commit_callbacks):
    account, user = investor()
    account = account_update(actor="test", account=account, changes={"time_zone": "Asia/Tokyo"})
    client.force_login(user)
    client.get("/portal/positions/")
    computed_at = latest_of(account)["computed_at"]
    price_point_record(asset="BTC", price="51000")
    with django_capture_on_commit_callbacks(execute=True):
        html = client.get("/portal/positions/").content.decode()
    local = computed_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert NOTE in html and f"{local:%H:%M} JST</time>, updating" in html
    assert NOTE not in client.get("/portal/positions/").content.decode()


def test_the_marker_keeps_a_burst_of_writes_to_one_computation(investor, django_capture_on_commit_callbacks):
    account, _ = investor()
    assert overview_refresh_claim(account_id=account.pk)  # a refresh is queued, not yet run
    with tasks_run() as (runs, _), django_capture_on_commit_callbacks(execute=True) as callbacks:
        for i in range(5):
            with transaction.atomic():
                deposit(account, "100", external_id=f"burst-{i}")
    assert len(callbacks) == 5 and runs[REFRESH] == 0  # each write found the refresh queued
    with tasks_run() as (runs, results):
        account_overview_refresh_task.delay(account.pk)  # the queued refresh, as a worker takes it
    assert results == [(REFRESH, 1)]  # one computation for the five writes
    assert latest_of(account)["version"] == account_overview_current(account=account)
    assert overview_refresh_claim(account_id=account.pk)  # and the marker is free again


def test_a_refresh_of_current_figures_computes_nothing(investor):
    account, _ = investor()
    with tasks_run() as (_, results):
        account_overview_refresh_task.delay(account.pk)
        account_overview_refresh_task.delay(account.pk)
    assert results == [(REFRESH, 1), (REFRESH, 0)]


def test_with_eager_tasks_a_stale_view_computes_once_and_serves_the_new_figures(transactional_db, client, investor):
    # Outside a test transaction the view's refresh runs at once (eager): the page must then show
    # what it computed, not compute again nor serve the older figures.
    account, user = investor()
    client.force_login(user)
    client.get("/portal/")  # the fixture's writes committed: their refresh ran; this view is warm
    price_point_record(asset="BTC", price="52000")
    with tasks_run() as (runs, results):
        html = client.get("/portal/").content.decode()
    assert runs[REFRESH] == 1 and results == [(REFRESH, 1)]
    assert NOTE not in html


def test_the_stale_view_issues_as_many_queries_as_the_warm_one(client, investor):
    account, user = investor(trades=20)
    client.force_login(user)
    client.get("/portal/")
    counts = []
    for change in (lambda: None, lambda: price_point_record(asset="BTC", price="50500")):
        change()
        with CaptureQueriesContext(connection) as queries:
            html = client.get("/portal/").content.decode()
        counts.append((len(queries), NOTE in html))
    assert counts[0][0] == counts[1][0] and [c[1] for c in counts] == [False, True], counts


def test_a_write_during_the_computation_is_caught_by_a_second_pass(investor):
    account, _ = investor()
    written = []

    def write_while_the_books_are_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not written and '"reporting_ledgerentry"' in sql and "ORDER BY" in sql and "COUNT" not in sql:
            written.append(deposit(account, "100", external_id="meanwhile"))  # another process's write
        return result

    assert overview_refresh_claim(account_id=account.pk)  # as when the refresh was queued
    with tasks_run() as (_, results), connection.execute_wrapper(write_while_the_books_are_read):
        account_overview_refresh_task.delay(account.pk)
    assert written and results == [(REFRESH, 2)]  # the books moved while it computed: computed again
    assert latest_of(account)["version"] == account_overview_current(account=account)


def test_a_price_recorded_from_another_accounts_fill_leaves_the_figures_current(client, investor):
    # The books never read ledger-fill points (price_book_for), so they must not make figures stale.
    account, user = investor()
    client.force_login(user)
    client.get("/portal/")
    version = account_overview_current(account=account)
    price_point_record(asset="BTC", price="49000", source="ledger")
    assert account_overview_current(account=account) == version
    assert NOTE not in client.get("/portal/").content.decode()
    price_point_record(asset="BTC", price="49500", source="venue")
    assert account_overview_current(account=account) != version
