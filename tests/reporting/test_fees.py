"""Investor fees (management accrued daily on NAV, performance with a high-water mark), fee report."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command

from compliance.models import AuditEvent
from core.errors import ApplicationError
from reporting.models import FeeCharge, Report
from reporting.performance import NavDay
from reporting.selectors import fee_report
from reporting.services import fee_schedule_set, fees_accrue, fees_compute, ledger_import_csv

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"


def day(n: int) -> dt.date:
    return dt.date(2026, 1, 30) + dt.timedelta(days=n)


def nav_day(n, nav, flow="0"):
    return NavDay(day=day(n), nav=D(nav), units=D("0"), unit_nav=None, net_flow=D(flow))


def test_performance_fee_charges_only_gains_above_high_water_mark():
    series = [
        nav_day(0, "1000", flow="1000"),  # 2026-01-30: HWM 1000
        nav_day(1, "1100"),  # 31 Jan, month end: 100 above HWM -> fee 20, HWM 1100
        nav_day(29, "1050"),  # 28 Feb: below HWM, no fee
        nav_day(60, "1200"),  # 31 Mar: 100 above HWM
    ]
    perf = [c for c in fees_compute(series=series, performance_rate=D("0.2"), management_rate=D("0"))
            if c["kind"] == "performance"]
    assert [(c["day"], c["amount"], c["hwm_after"]) for c in perf] == [
        (day(1), D("20.0"), D("1100")), (day(60), D("20.0"), D("1200"))]


def test_high_water_mark_moves_with_deposits_and_pro_rata_with_withdrawals():
    series = [
        nav_day(0, "1000", flow="1000"),
        nav_day(2, "2500", flow="1500"),  # deposit 1500: HWM 2500, no gain
        nav_day(5, "1500", flow="-1000"),  # withdrew 1000 of 2500 (40%): no gain, HWM 1500
        nav_day(29, "1800"),  # 28 Feb month end: 300 above 1500
    ]
    charges = fees_compute(series=series, performance_rate=D("0.1"), management_rate=D("0"))
    assert [(c["day"], c["basis"], c["amount"], c["hwm_before"]) for c in charges] == [
        (day(29), D("300"), D("30.0"), D("1500.0"))]


def test_withdrawal_crystallizes_the_withdrawn_share_of_the_gain():
    series = [nav_day(0, "1000", flow="1000"), nav_day(3, "600", flow="-600")]  # NAV 1200 before, half out
    [c] = fees_compute(series=series, performance_rate=D("0.2"), management_rate=D("0"))
    assert (c["trigger"], c["basis"], c["amount"], c["hwm_after"]) == ("withdrawal", D("100"), D("20.0"), D("500"))


def test_management_fee_accrues_daily_on_nav():
    series = [nav_day(0, "36500", flow="36500"), nav_day(1, "73000")]
    charges = fees_compute(series=series, performance_rate=D("0"), management_rate=D("0.02"))
    assert [c["amount"] for c in charges] == [D("2"), D("4")]


def test_fees_accrue_stores_once_and_statement_is_generated(make_account):
    account = make_account("tania_gilbert")
    ledger_import_csv(actor="test", account=account, text=HEADER + (
        "2026-01-01T09:00:00Z,deposit,paper,USD,36500,,,,,d-1\n"
        "2026-01-10T09:00:00Z,trade,paper,BTC,0.1,USD,-10000,USD,10,t-1\n"
        "2026-01-20T09:00:00Z,trade,paper,BTC,-0.1,USD,12000,USD,12,t-2\n"))
    with pytest.raises(ApplicationError):
        fee_schedule_set(actor="staff", account=account, performance_fee_rate="1.5", reason="typo")
    fee_schedule_set(actor="staff", account=account, performance_fee_rate="0.2", management_fee_rate="0.02",
                     reason="investor agreement")
    assert AuditEvent.objects.filter(action="reporting.fee_schedule_set").count() == 1
    created = fees_accrue(account=account, through=dt.date(2026, 1, 31))
    assert created == 31 + 1  # 31 management days + the month-end crystallization
    assert fees_accrue(account=account, through=dt.date(2026, 1, 31)) == 0
    perf = FeeCharge.objects.get(account=account, kind="performance")
    assert perf.day == dt.date(2026, 1, 31) and perf.amount_usd == D("0.2") * (D("38478") - D("36500"))
    out = StringIO()
    call_command("fee_statement", "tania_gilbert", "--from", "2026-01-01", "--to", "2026-01-31", stdout=out)
    assert "Performance fee" in out.getvalue() and "Management fee" in out.getvalue()
    assert Report.objects.filter(account=account, period="fee_statement").count() == 1


def test_fee_report_by_kind_and_venue_with_percent_of_volume(make_account):
    account = make_account()
    ledger_import_csv(actor="test", account=account, text=HEADER + (
        "2026-02-01T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n"
        "2026-02-02T09:00:00Z,trade,paper,BTC,0.1,USD,-5000,USD,5,t-1\n"
        "2026-02-03T09:00:00Z,trade,kraken,BTC,-0.05,USD,3000,BTC,0.0001,t-2\n"
        "2026-02-04T09:00:00Z,fee,paper,USD,-1.5,,,,,f-1\n"))
    report = fee_report(account=account, start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28))
    assert report["by_kind"] == {"trading": D("5") + D("6"), "venue": D("1.5")}
    assert report["volume"] == D("8000")
    assert report["by_venue"]["kraken"]["fees"] == D("6")  # 0.0001 BTC at the fill's 60000
    assert report["pct_of_volume"] == D("12.5") / D("8000") * 100
    out = StringIO()
    call_command("fee_report", str(account.user_id), "--from", "2026-02-01", "--to", "2026-02-28", stdout=out)
    assert "kraken" in out.getvalue() and "% of" in out.getvalue()
