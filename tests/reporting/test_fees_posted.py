"""Issue 10 §3: investor fee charges are posted once to the ledger (kind fee), so NAV after fees,
the fee statement and the transaction export agree, and a re-run of accrual creates nothing new."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal as D

import pytest
from django.conf import settings

from reporting.models import INVESTOR_FEE_VENUE, FeeCharge, LedgerEntry
from reporting.selectors import AccountBooks, fee_report, fee_statement, transactions_export
from reporting.services import books_reconcile, fee_schedule_set, fees_accrue, ledger_import_csv
from tests.conftest import subprocess_env

pytestmark = pytest.mark.django_db

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
LEDGER = HEADER + (
    "2026-01-01T09:00:00Z,deposit,paper,USD,36500,,,,,d-1\n"
    "2026-01-10T09:00:00Z,trade,paper,BTC,0.1,USD,-10000,USD,10,t-1\n"
    "2026-01-20T09:00:00Z,trade,paper,BTC,-0.1,USD,12000,USD,12,t-2\n")
JAN_31 = dt.date(2026, 1, 31)


@pytest.fixture
def investor(make_account):
    account = make_account("tania_gilbert")
    ledger_import_csv(actor="test", account=account, text=LEDGER)
    fee_schedule_set(actor="staff", account=account, performance_fee_rate="0.2", management_fee_rate="0.02",
                     reason="investor agreement")
    return account


def _fee_entries(account):
    return list(LedgerEntry.objects.filter(account=account, source=LedgerEntry.Source.FEE_CHARGE))


def test_each_charge_is_posted_once_as_a_fee_entry(investor):
    assert fees_accrue(account=investor, through=JAN_31) == 32
    charges = list(FeeCharge.objects.filter(account=investor))
    entries = _fee_entries(investor)
    assert len(entries) == len(charges) == 32
    assert {(e.kind, e.venue, e.asset) for e in entries} == {("fee", INVESTOR_FEE_VENUE, "USD")}
    assert sum(-e.amount for e in entries) == sum(c.amount_usd for c in charges)
    perf = next(e for e in entries if e.external_id == "fee-performance-2026-01-31")
    assert perf.amount == -D("0.2") * (D("38478") - D("36500"))
    assert perf.occurred_at == dt.datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
    # a re-run computes the same charges (on the NAV gross of the posted fees) and writes nothing
    assert fees_accrue(account=investor, through=JAN_31) == 0
    assert len(_fee_entries(investor)) == 32
    # the next day's accrual adds that day's management fee only, at the gross NAV
    assert fees_accrue(account=investor, through=dt.date(2026, 2, 1)) == 1
    feb_1 = FeeCharge.objects.get(account=investor, day=dt.date(2026, 2, 1))
    assert feb_1.basis_usd == D("38478")
    assert len(_fee_entries(investor)) == 33


def test_nav_after_fees_statement_and_export_agree(investor):
    gross = AccountBooks(account=investor, end_day=JAN_31).series[-1].nav
    fees_accrue(account=investor, through=JAN_31)
    statement = fee_statement(account=investor, start=dt.date(2026, 1, 1), end=JAN_31)
    net = AccountBooks(account=investor, end_day=JAN_31).series[-1].nav
    assert gross == D("38478")
    assert net == gross - statement["total"]
    exported = [t for t in transactions_export(account=investor)["transactions"] if t["type"] == "fee"]
    assert len(exported) == 32 and -sum(t["amount"] for t in exported) == statement["total"]
    assert exported[-1]["balance_after"] == D("38478") - statement["total"]  # USD cash after every fee


def test_posted_fees_are_counted_once_in_the_fee_report_and_not_reconciled(investor):
    fees_accrue(account=investor, through=JAN_31)
    report = fee_report(account=investor, start=dt.date(2026, 1, 1), end=JAN_31)
    total = sum(FeeCharge.objects.filter(account=investor).values_list("amount_usd", flat=True), D(0))
    assert set(report["by_kind"]) == {"trading", "management", "performance"}
    assert report["by_kind"]["management"] + report["by_kind"]["performance"] == total
    assert INVESTOR_FEE_VENUE not in report["by_venue"]
    result = books_reconcile(account_ids=[investor.pk])
    assert result.unavailable == [{"account": "tania_gilbert", "venue": "paper",
                                   "reason": "no active credential: the venue's balance is not fetched"}]


def test_charges_stored_before_fees_were_posted_are_posted_by_the_next_accrual(investor):
    FeeCharge.objects.create(account=investor, kind="management", day=dt.date(2026, 1, 1), basis_usd=D("36500"),
                             rate=D("0.02"), amount_usd=D("2"), trigger="daily")
    assert _fee_entries(investor) == []
    fees_accrue(account=investor, through=dt.date(2026, 1, 1))
    (entry,) = _fee_entries(investor)
    assert (entry.external_id, entry.amount) == ("fee-management-2026-01-01", D("-2"))


# A child process accrues fees and stops (sleeps) after writing the charges and before posting them:
# it is killed there with SIGKILL, as a worker dying mid-task.
ACCRUE_AND_HANG = """
import sys, time, datetime as dt
from pathlib import Path
import django
django.setup()
import reporting.services as services
from accounts.selectors import account_get

def hang(**kwargs):
    Path(sys.argv[1]).write_text("charges written")
    time.sleep(120)

services.ledger_entries_write = hang
services.fees_accrue(account=account_get(user_id="tania_gilbert"), through=dt.date(2026, 1, 31))
"""


def test_a_worker_killed_between_charge_and_entry_leaves_neither_and_the_retry_posts_once(
        transactional_db, investor, tmp_path):
    flag = tmp_path / "reached"
    child = subprocess.Popen([sys.executable, "-c", ACCRUE_AND_HANG, str(flag)], cwd=settings.BASE_DIR,
                             env=subprocess_env(), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert child.poll() is None, "the child exited before reaching the posting"
            assert time.monotonic() < deadline, "the child never reached the posting"
            time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert FeeCharge.objects.count() == 0 and _fee_entries(investor) == []  # rolled back with the process
    assert fees_accrue(account=investor, through=JAN_31) == 32
    assert fees_accrue(account=investor, through=JAN_31) == 0
    assert len(_fee_entries(investor)) == 32
