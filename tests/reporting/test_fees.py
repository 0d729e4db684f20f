"""Investor fees (management accrued daily on NAV, performance with a high-water mark), fee report."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command

from compliance.models import AuditEvent
from core.errors import ApplicationError
from reporting.lots import EntryRow, PriceBook
from reporting.models import FeeCharge, Report
from reporting.performance import Flow, NavDay, day_end, nav_series
from reporting.selectors import fee_report
from reporting.services import fee_schedule_set, fees_accrue, fees_compute, ledger_import_csv

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"


def day(n: int) -> dt.date:
    return dt.date(2026, 1, 30) + dt.timedelta(days=n)


def nav_day(n, nav, flow="0"):
    """A day whose one flow (if any) came at its end: the value just before it is the NAV less the flow."""
    flows = [Flow(day_end(day(n)), D(flow), D(nav) - D(flow))] if D(flow) else []
    return NavDay(day=day(n), nav=D(nav), units=D("0"), unit_nav=None, net_flow=D(flow), flows=flows)


def flow_rows(*rows):
    """Ledger rows (EntryRow) from (when, kind, asset, amount[, counter_asset, counter_amount])."""
    out = []
    for i, (when, kind, asset, amount, *counter) in enumerate(rows, 1):
        counter_asset, counter_amount = (counter[0], D(counter[1])) if counter else ("", None)
        side = ("buy" if D(amount) > 0 else "sell") if kind == "trade" else ""
        out.append(EntryRow(i, when, kind, "paper", asset, D(amount), counter_asset, counter_amount, side, "", None))
    return out


def perf_charges(rows, prices, rate="0.2"):
    series = nav_series(rows, prices, end_day=rows[-1].occurred_at.date())
    return [c for c in fees_compute(series=series, performance_rate=D(rate), management_rate=D("0"))
            if c["kind"] == "performance"]


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


def at(days, hour):
    return dt.datetime(2026, 3, 2, tzinfo=dt.UTC) + dt.timedelta(days=days, hours=hour)


def btc_prices(*points):
    prices = PriceBook()
    for when, price in points:
        prices.add("BTC", when, D(price))
    return prices


def test_a_withdrawal_and_a_deposit_on_one_day_move_the_mark_one_after_the_other():
    # 1,000 deposited, all in 0.1 BTC at 10,000. Day 3, BTC at 12,000 (NAV 1,200, 200 above the mark):
    # at 10:00 half the BTC leaves (600): it crystallizes half the gain, 100 -> fee 20, mark 500; at
    # 15:00 600 come back: mark 1,100. Netted over the day the flows were 0 and nothing was charged.
    rows = flow_rows((at(0, 9), "deposit", "USD", "1000"), (at(0, 10), "trade", "BTC", "0.1", "USD", "-1000"),
                     (at(3, 10), "withdrawal", "BTC", "-0.05"), (at(3, 15), "deposit", "USD", "600"))
    prices = btc_prices((at(0, 0), "10000"), (at(3, 8), "12000"))
    [c] = perf_charges(rows, prices)
    assert (c["day"], c["trigger"], c["basis"], c["amount"]) == (at(3, 0).date(), "withdrawal", D("100"), D("20"))
    assert (c["hwm_before"], c["hwm_after"]) == (D("1000"), D("1100"))


def test_a_withdrawal_is_valued_at_its_own_moment_not_at_the_days_close():
    # 2,000 deposited, 0.1 BTC bought for 1,000. Day 3 at 09:00 BTC is 20,000: NAV 3,000, 1,000 above
    # the mark. At 10:00 1,000 USD leave (a third): a third of the gain crystallizes, 333.33... -> fee
    # 66.66... At 12:00 BTC falls back to 10,000, so the day closes at 1,000: "close + withdrawal" said
    # 2,000, no gain, no fee.
    rows = flow_rows((at(0, 9), "deposit", "USD", "2000"), (at(0, 10), "trade", "BTC", "0.1", "USD", "-1000"),
                     (at(3, 10), "withdrawal", "USD", "-1000"))
    prices = btc_prices((at(0, 0), "10000"), (at(3, 9), "20000"), (at(3, 12), "10000"))
    [c] = perf_charges(rows, prices)
    assert c["trigger"] == "withdrawal"
    assert abs(c["basis"] - D(1000) / 3) < D("1e-20") and abs(c["amount"] - D(200) / 3) < D("1e-20")
    assert abs(c["hwm_after"] - D(4000) / 3) < D("1e-20")  # 2,000 less a third


def test_fees_accrue_applies_same_day_flows_in_time_order(make_account):
    account = make_account()
    ledger_import_csv(actor="test", account=account, text=HEADER + (
        "2026-03-02T09:00:00Z,deposit,paper,USD,1000,,,,,d-1\n"
        "2026-03-02T10:00:00Z,trade,paper,BTC,0.1,USD,-1000,,,t-1\n"
        "2026-03-05T08:00:00Z,trade,paper,BTC,-0.001,USD,12,,,t-2\n"  # BTC at 12,000 (the day's first price)
        "2026-03-05T10:00:00Z,withdrawal,paper,BTC,-0.05,,,,,w-1\n"
        "2026-03-05T15:00:00Z,deposit,paper,USD,600,,,,,d-2\n"))
    fee_schedule_set(actor="staff", account=account, performance_fee_rate="0.2", reason="agreement")
    fees_accrue(account=account, through=dt.date(2026, 3, 5))
    # Before the withdrawal: 12 USD + 0.099 BTC at 12,000 = 1,200 against a mark of 1,000: gain 200; half
    # of it (0.05 BTC, 600 USD) leaves, then 600 come back.
    perf = FeeCharge.objects.get(account=account, kind="performance")
    assert (perf.day, perf.trigger, perf.basis_usd, perf.amount_usd) == (dt.date(2026, 3, 5), "withdrawal",
                                                                         D("100"), D("20"))
    assert perf.hwm_after == D("500") + D("600")


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
    # One unit with the performance metrics: a fraction (0.0015625 = 0.15625%), named so.
    assert report["fees_fraction_of_volume"] == D("12.5") / D("8000")
    assert report["by_venue"]["kraken"]["fees_fraction_of_volume"] == D("6") / D("3000")
    assert "pct_of_volume" not in report
    out = StringIO()
    call_command("fee_report", str(account.user_id), "--from", "2026-02-01", "--to", "2026-02-28", stdout=out)
    assert "kraken" in out.getvalue() and "venue fees are 0.1562% of" in out.getvalue()
