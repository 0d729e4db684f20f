"""Tax report terms, periodic reports (daily text format, stored Report rows, charts), commands."""

import datetime as dt
import json
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reporting.models import DailyNav, LedgerEntry, Report
from reporting.selectors import holding_term, tax_report
from reporting.services import daily_nav_refresh, ledger_import_csv, report_generate

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"


def csv(*rows: str) -> str:
    return HEADER + "\n".join(rows) + "\n"


@pytest.mark.parametrize(("acquired", "disposed", "term"), [
    (dt.date(2024, 3, 10), dt.date(2025, 3, 10), "short"),  # exactly one year
    (dt.date(2024, 3, 10), dt.date(2025, 3, 11), "long"),  # one year and one day
    (dt.date(2023, 3, 1), dt.date(2024, 3, 1), "short"),  # 366 days across 29 Feb, still exactly one year
    (dt.date(2024, 2, 29), dt.date(2025, 2, 28), "short"),  # bought on a leap day: anniversary is 28 Feb
    (dt.date(2024, 2, 29), dt.date(2025, 3, 1), "long"),
    (dt.date(2024, 1, 1), dt.date(2024, 12, 31), "short"),
    (None, dt.date(2024, 12, 31), "unknown"),
])
def test_holding_term_counts_from_the_day_after_acquisition(acquired, disposed, term):
    assert holding_term(acquired=acquired, disposed=disposed) == term


def test_tax_report_csv_with_terms_totals_and_flags(make_account, tmp_path):
    account = make_account("daivon_frazier")
    ledger_import_csv(actor="test", account=account, text=csv(
        "2023-03-01T10:00:00Z,deposit,paper,USD,100000,,,,,d-1",
        "2023-03-01T10:00:00Z,trade,paper,BTC,1,USD,-20000,USD,20,t-1",
        "2024-03-10T10:00:00Z,trade,paper,BTC,1,USD,-60000,USD,60,t-2",
        "2024-03-01T10:00:00Z,trade,paper,BTC,-0.5,USD,30000,USD,30,t-3",  # 366 days, exactly a year: short
        "2024-03-02T10:00:00Z,trade,paper,BTC,-0.5,USD,31000,USD,31,t-4",  # a year and a day: long
        "2024-06-01T10:00:00Z,trade,paper,ETH,-2,USD,7000,USD,7,t-5",  # never bought: flagged
    ))
    report = tax_report(account=account, year=2024)
    terms = [(r["asset"], r["term"], r["holding_days"], r["flag"]) for r in report["disposals"]]
    assert terms == [("BTC", "short", 366, ""), ("BTC", "long", 367, ""), ("ETH", "unknown", None,
                                                                         "missing_acquisition")]
    assert report["totals_by_term"]["short"]["gain"] == D("30000") - D("10010") - D("30")
    assert report["flagged"] == 1
    out = StringIO()
    call_command("tax_report", "daivon_frazier", "--year", "2024", "--csv", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "asset,quantity,acquired,disposed,proceeds,cost_basis,fees,gain,holding_days,term,flag"
    assert lines[1] == "BTC,0.5,2023-03-01,2024-03-01,30000.00,10010.00,30.00,19960.00,366,short,"
    assert lines[3] == "ETH,2,,2024-06-01,7000.00,0.00,7.00,6993.00,,unknown,missing_acquisition"
    out = StringIO()
    call_command("tax_report", "daivon_frazier", "--year", "2024", "--method", "hifo", stdout=out)
    assert "flagged" in out.getvalue() and "HIFO" in out.getvalue()


DEMO_DAY = dt.date(2026, 1, 8)


@pytest.fixture
def traded_account(make_account):
    account = make_account("daivon_frazier", full_name="Daivon Frazier")
    ledger_import_csv(actor="test", account=account, text=csv(
        "2026-01-01T09:00:00Z,deposit,paper,USD,3800,,,,,d-1",
        "2026-01-07T10:00:00Z,trade,paper,BTC,0.03,USD,-3000,USD,0,b-1",
        "2026-01-07T11:00:00Z,trade,paper,ETH,1,USD,-500,USD,0,b-2",
        "2026-01-08T10:00:00Z,trade,paper,BTC,-0.01,USD,1020,USD,0,s-1",  # +20
        "2026-01-08T11:00:00Z,trade,paper,BTC,-0.01,USD,1030.5,USD,0,s-2",  # +30.5
        "2026-01-08T12:00:00Z,trade,paper,ETH,-1,USD,495,USD,0,s-3",  # -5
    ))
    return account


def test_daily_report_text_format(traded_account):
    report = report_generate(account=traded_account, period="daily", day=DEMO_DAY)
    # NAV 3800 on the 7th (no price move yet); on the 8th +45.50 realized, the last BTC at 103050.
    assert report.text == (
        "User: Daivon Frazier\n"
        "Date: 2026-01-08\n"
        "Trades: 3 (2 wins, 1 loss)\n"
        "P&L: +$76.00 (+2.0%)\n"
        "Win Rate: 66.7%\n"
        "Status: Active\n"
    )
    assert report.period_start == report.period_end == DEMO_DAY
    assert report.data["metrics"]["trades"]["wins"] == 2
    assert "data:image/png;base64," in report.html


def test_weekly_and_monthly_reports_are_stored_with_charts_and_sections(traded_account):
    weekly = report_generate(account=traded_account, period="weekly", day=DEMO_DAY)
    assert (weekly.period_start, weekly.period_end) == (dt.date(2026, 1, 2), DEMO_DAY)
    assert {"trade_breakdown", "best_trades", "worst_trades", "risk"} <= set(weekly.data)
    assert weekly.html.count("data:image/png;base64,") == 2
    assert "Risk analysis" in weekly.html and "Trade breakdown" in weekly.html
    monthly = report_generate(account=traded_account, period="monthly", day=DEMO_DAY)
    assert (monthly.period_start, monthly.period_end) == (dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert len(monthly.data["journal"]) == 5
    assert [p["asset"] for p in monthly.data["positions"]] == ["BTC"]
    assert "Trade journal" in monthly.html and "Positions" in monthly.html
    # generating again replaces, not duplicates
    report_generate(account=traded_account, period="monthly", day=DEMO_DAY)
    assert Report.objects.filter(account=traded_account, period="monthly").count() == 1


def test_generate_reports_command_shows_progress(traded_account, make_account):
    out = StringIO()
    call_command("generate_reports", "--period", "daily", "--date", "2026-01-08", stdout=out)
    assert "[1/1] daivon_frazier: ok" in out.getvalue()
    assert Report.objects.filter(period="daily", period_start=DEMO_DAY).count() == 1
    # As the scheduled task does, the stored daily NAV is refreshed first (through the report's day).
    assert DailyNav.objects.filter(account=traded_account).count() == 8
    assert DailyNav.objects.filter(account=traded_account).latest("day").day == DEMO_DAY
    with pytest.raises(CommandError, match="not YYYY-MM-DD"):
        call_command("generate_reports", "--period", "daily", "--date", "08/01/2026", stdout=StringIO())


def test_track_user_performance_json(traded_account):
    out = StringIO()
    call_command("track_user_performance", "daivon_frazier", "--period", "weekly", "--date", "2026-01-08",
                 "--json", stdout=out)
    data = json.loads(out.getvalue())
    m = data["metrics"]
    assert m["trades"]["count"] == 3 and m["trades"]["losses"] == 1
    assert D(m["total_pnl"]) == D("76")
    assert m["cagr"] is None  # under a year
    out = StringIO()
    call_command("track_user_performance", "daivon_frazier", "--period", "daily", "--date", "2026-01-08", stdout=out)
    assert out.getvalue().startswith("User: Daivon Frazier\nDate: 2026-01-08\n")


def test_daily_report_with_no_trades_says_na(make_account):
    account = make_account("tania_gilbert", full_name="Tania Gilbert")
    ledger_import_csv(actor="test", account=account, text=csv("2026-01-08T09:00:00Z,deposit,paper,USD,500,,,,,d-1"))
    report = report_generate(account=account, period="daily", day=DEMO_DAY)
    assert "Trades: 0 (0 wins, 0 losses)\n" in report.text
    assert "Win Rate: n/a\n" in report.text
    assert "P&L: +$0.00 (+0.0%)" in report.text


def test_daily_nav_is_stored(traded_account):
    assert daily_nav_refresh(account=traded_account, through=DEMO_DAY) == 8
    last = DailyNav.objects.get(account=traded_account, day=DEMO_DAY)
    assert last.nav_usd == D("3876") and last.units == D("3800")
    assert LedgerEntry.objects.filter(account=traded_account).count() == 6


def test_show_positions_command(traded_account):
    out = StringIO()
    call_command("show_positions", "daivon_frazier", "--json", stdout=out)
    [pos] = json.loads(out.getvalue())["positions"]
    assert pos["asset"] == "BTC" and D(pos["quantity"]) == D("0.01")
    assert D(pos["avg_cost"]) == D("100000") and D(pos["current_price"]) == D("103050")
    assert D(pos["unrealized_pnl"]) == D("30.5")


def test_beat_schedules_the_periodic_reports():
    from django.conf import settings

    schedule = settings.CELERY_BEAT_SCHEDULE
    daily, weekly, monthly = (schedule[f"reporting-{p}-reports"] for p in ("daily", "weekly", "monthly"))
    assert daily["task"] == "reporting.tasks.reports_period_task" and daily["args"] == ("daily",)
    assert (daily["schedule"].hour, daily["schedule"].minute) == ({0}, {10})
    assert weekly["schedule"].day_of_week == {1}
    assert monthly["schedule"].day_of_month == {1}


def test_report_generate_task_stores_report_and_nav(traded_account):
    from reporting.tasks import report_generate_task

    report_id = report_generate_task.run(traded_account.pk, "daily", "2026-01-08")
    assert Report.objects.get(pk=report_id).period == "daily"
    assert DailyNav.objects.filter(account=traded_account).count() == 8


def test_reports_period_task_queues_one_report_per_account_with_a_ledger(traded_account, make_account,
                                                                         django_capture_on_commit_callbacks):
    from reporting.tasks import reports_period_task

    make_account("no_ledger")
    with django_capture_on_commit_callbacks(execute=True):
        assert reports_period_task.run("weekly", "2026-01-08") == 1
    assert list(Report.objects.values_list("account__user_id", "period", "period_start")) == [
        ("daivon_frazier", "weekly", dt.date(2026, 1, 2))]
