"""The book's NAV per day (BookDailyNav) always equals the sum over accounts of the stored DailyNav,
through single-account refreshes that add days, change figures, shorten a series or leave a day with
no account; book_nav_daily reads it; the data migration fills it with the same code."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext

from reporting.models import BookDailyNav, DailyNav
from reporting.selectors import book_nav_daily
from reporting.services import daily_nav_refresh, ledger_import_csv
from tests.concurrency import run_at_once

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
DAY = dt.date(2026, 1, 1)


def _ledger(account, *rows: str) -> None:
    ledger_import_csv(actor="test", account=account, text=HEADER + "\n".join(rows) + "\n")


def _sums() -> dict[dt.date, tuple[Decimal, int]]:
    return {r["day"]: (r["nav"], r["n"]) for r in DailyNav.objects.order_by().values("day")
            .annotate(nav=Sum("nav_usd"), n=Count("id"))}


def _book() -> dict[dt.date, tuple[Decimal, int]]:
    return {row.day: (row.nav_usd, row.accounts) for row in BookDailyNav.objects.all()}


@pytest.fixture
def two_accounts(make_account):
    alice, bob = make_account("alice"), make_account("bob")
    _ledger(alice, "2026-01-01T09:00:00Z,deposit,paper,USD,1000,,,,,a-1")
    _ledger(bob, "2026-01-03T09:00:00Z,deposit,paper,USD,500,,,,,b-1")
    return alice, bob


def test_the_book_nav_equals_the_sum_after_single_account_refreshes(two_accounts):
    alice, bob = two_accounts
    daily_nav_refresh(account=alice, through=DAY + dt.timedelta(days=4))
    assert _book() == _sums() and _book()[DAY] == (Decimal(1000), 1)
    daily_nav_refresh(account=bob, through=DAY + dt.timedelta(days=4))
    assert _book() == _sums() and _book()[DAY + dt.timedelta(days=4)] == (Decimal(1500), 2)
    # a deposit on the 4th changes alice's NAV from that day on
    _ledger(alice, "2026-01-04T09:00:00Z,deposit,paper,USD,250,,,,,a-2")
    daily_nav_refresh(account=alice, through=DAY + dt.timedelta(days=4))
    assert _book() == _sums() and _book()[DAY + dt.timedelta(days=3)] == (Decimal(1750), 2)
    # bob's series extended by three days, then alice's cut back to two: days only bob has
    daily_nav_refresh(account=bob, through=DAY + dt.timedelta(days=7))
    daily_nav_refresh(account=alice, through=DAY + dt.timedelta(days=1))
    assert _book() == _sums()
    assert _book()[DAY + dt.timedelta(days=7)] == (Decimal(500), 1) and _book()[DAY + dt.timedelta(days=1)][1] == 1


def test_a_day_no_account_has_any_more_has_no_book_row(two_accounts):
    alice, _ = two_accounts
    daily_nav_refresh(account=alice, through=DAY + dt.timedelta(days=4))
    daily_nav_refresh(account=alice, through=DAY + dt.timedelta(days=1))
    assert sorted(_book()) == [DAY, DAY + dt.timedelta(days=1)] == sorted(_sums())


def test_a_refresh_that_changes_nothing_sums_no_day_again(two_accounts):
    alice, _ = two_accounts
    daily_nav_refresh(account=alice, through=DAY + dt.timedelta(days=4))
    stamps = {row.day: row.updated_at for row in BookDailyNav.objects.all()}
    with CaptureQueriesContext(connection) as ctx:
        daily_nav_refresh(account=alice, through=DAY + dt.timedelta(days=4))
    assert {row.day: row.updated_at for row in BookDailyNav.objects.all()} == stamps
    assert not any("reporting_bookdailynav" in q["sql"] for q in ctx.captured_queries)


def test_book_nav_daily_reads_the_stored_book(two_accounts):
    for account in two_accounts:
        daily_nav_refresh(account=account, through=DAY + dt.timedelta(days=4))
    points = book_nav_daily(start=DAY + dt.timedelta(days=1), end=DAY + dt.timedelta(days=3))
    assert points == [(DAY + dt.timedelta(days=1), Decimal(1000), 1), (DAY + dt.timedelta(days=2), Decimal(1500), 2),
                      (DAY + dt.timedelta(days=3), Decimal(1500), 2)]


def test_the_data_migration_fills_the_book_from_the_daily_navs(two_accounts):
    for account in two_accounts:
        daily_nav_refresh(account=account, through=DAY + dt.timedelta(days=4))
    expected = _book()
    BookDailyNav.objects.all().delete()
    importlib.import_module("reporting.migrations.0007_book_daily_nav_fill").book_fill(django_apps, None)
    assert _book() == expected == _sums()


def _refresh_at_once(accounts, *, through: dt.date) -> list:
    """Refresh these accounts' NAV on one thread each, released together; the errors raised."""
    return run_at_once([lambda account=account: daily_nav_refresh(account=account, through=through)
                        for account in accounts])


def test_two_accounts_refreshed_at_once_leave_the_right_sums(postgres, transactional_db, make_account):
    # Two report workers refreshing two accounts' NAV at the same moment, each changing the same
    # existing days (a new deposit): the book rows' locks make the later one sum what the earlier
    # committed, so neither overwrites the other's figure with a sum that missed it.
    accounts = [make_account(f"racer_{n}") for n in range(2)]
    last = DAY + dt.timedelta(days=5)
    for n, account in enumerate(accounts):
        _ledger(account, f"2026-01-01T09:00:00Z,deposit,paper,USD,{100 * (n + 1)},,,,,r-{n}")
        daily_nav_refresh(account=account, through=last)
    for extra in range(1, 6):
        for n, account in enumerate(accounts):
            _ledger(account, f"2026-01-02T09:00:00Z,deposit,paper,USD,10,,,,,r-{n}-{extra}")
        assert _refresh_at_once(accounts, through=last) == []
        assert _book() == _sums() and _book()[last] == (Decimal(300 + 20 * extra), 2)
