"""The investor's pages: overview figures (the same computation as track_user_performance),
positions, trades with filters and CSV, missed trades, reports in the portal layout, statements
with the tax CSV, messages; bad input is a 400 page; no page's query count grows with history."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import account_update
from brokers.paper_venue import paper_behaviour_set, paper_price_set
from brokers.services import balance_audit_run
from compliance.services import communication_record
from copytrading.models import CopyOrder, MasterSignal
from core.decimals import format_money
from reporting.reports import pct, signed_money
from reporting.services import fee_schedule_set, fee_statement_generate, ledger_import_csv, report_generate

from .conftest import HEADER

PAGES = ["/portal/", "/portal/?range=30d", "/portal/positions/", "/portal/trades/", "/portal/trades/?pair=BTC/USD",
         "/portal/missed/", "/portal/reports/", "/portal/statements/", "/portal/messages/"]


def _command_json(*args: str) -> dict:
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def _command_text(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_overview_figures_are_track_user_performance_s(client, investor):
    account, user = investor(trades=4)
    client.force_login(user)
    page = client.get("/portal/?range=inception")
    assert page.status_code == 200
    html = page.content.decode()
    today = dt.datetime.now(dt.UTC).date()
    # All of the ledger is this month: since inception and the month agree day for day.
    perf = _command_json("track_user_performance", account.user_id, "--period", "monthly", "--date", str(today))
    metrics = perf["metrics"]
    assert f'data-figure="nav">{format_money(Decimal(metrics["nav_end"]))}<' in html
    assert f'data-figure="total-pnl">{signed_money(Decimal(metrics["total_pnl"]))}<' in html
    assert f'data-figure="range-twr">{pct(Decimal(metrics["twr"]), signed=True, places=2)}<' in html
    assert f'data-figure="win-rate">{pct(Decimal(metrics["trades"]["win_rate"]))}<' in html
    assert metrics["trades"]["count"] == 4 and metrics["trades"]["wins"] == 2
    assert "Copying on" in html or "Copying off" in html
    assert "observe mode" in html  # the default engine mode, in words
    assert "open positions at a time" in html and "Spot only" in html


def test_overview_draws_the_nav_and_drawdown_as_inline_svg(client, investor):
    _, user = investor(day=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=10))
    client.force_login(user)
    html = client.get("/portal/?range=30d").content.decode()
    assert html.count("<svg") == 2 and "NAV (USD) from" in html and "Drawdown from" in html
    assert "http" not in html.split("<svg")[1].split("</svg>")[0].replace("http://www.w3.org", "")


def test_overview_ranges_and_bad_range(client, investor):
    _, user = investor()
    client.force_login(user)
    for key in ("30d", "90d", "ytd", "inception"):
        assert client.get(f"/portal/?range={key}").status_code == 200
    bad = client.get("/portal/?range=forever")
    assert bad.status_code == 400 and b"range must be one of" in bad.content


def test_an_unavailable_venue_says_so_with_its_last_good_figure(client, investor, paper_credential):
    account, user = investor()
    paper_price_set(symbol="BTC/USD", price="50000")
    credential = paper_credential(account, usd="2500")
    balance_audit_run()
    paper_behaviour_set(credential=credential, fault="rate_limited", fault_count=5)
    balance_audit_run()
    client.force_login(user)
    html = client.get("/portal/").content.decode()
    assert "unavailable" in html and "last good $2,500.00" in html and "RateLimitedError" in html
    assert "$0.00" not in html.split("Balances at the venues")[1].split("Copy status")[0]


def test_positions_show_quantity_cost_price_and_pnl(client, investor):
    account, user = investor(trades=1)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ledger_import_csv(actor="test", account=account,
                      text=HEADER + f"{now.isoformat()},trade,paper,BTC,0.02,USD,-1000,USD,1,open-1\n")
    client.force_login(user)
    html = client.get("/portal/positions/").content.decode()
    assert "0.02 BTC" in html and "$50,050.00" in html  # average cost includes the 1 USD fee
    assert "<time" in html and "UTC" in html


def test_trades_filter_paginate_and_csv_is_the_export(client, investor):
    account, user = investor(trades=40)  # 81 entries: two pages of 50
    client.force_login(user)
    first = client.get("/portal/trades/")
    assert first.status_code == 200 and b"Page 1 of 2" in first.content
    assert b"Page 2 of 2" in client.get("/portal/trades/?page=2").content
    only_usd = client.get("/portal/trades/?pair=USD").content.decode()
    assert "deposit" in only_usd and "BTC/USD" not in only_usd.split("<tbody>")[1]
    csv_response = client.get("/portal/trades.csv")
    assert csv_response["Content-Type"].startswith("text/csv")
    assert csv_response.content.decode() == _command_text("export_transactions", account.user_id, "--csv")
    filtered = client.get("/portal/trades.csv?pair=BTC/USD").content.decode().splitlines()
    assert len(filtered) == 1 + 80 and all(",BTC/USD," in line for line in filtered[1:])
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    for bad in ("from=2026-13-01", f"to={tomorrow}", "from=1999-12-31", "pair=BTC%2FUSD%00", "pair=<script>"):
        response = client.get(f"/portal/trades/?{bad}")
        assert response.status_code == 400, bad
        assert client.get(f"/portal/trades.csv?{bad}").status_code == 400, bad


def test_missed_trades_say_why_in_plain_words(client, investor):
    account, user = investor()
    signal = MasterSignal.objects.create(source="manual", source_id="m-1", venue="paper", symbol="BTC/USD",
                                         side="buy", amount=Decimal("0.001"), price=Decimal("50000"),
                                         executed_at=dt.datetime.now(dt.UTC), mode="OBSERVE")
    CopyOrder.objects.create(signal=signal, account=account, venue="paper", symbol="BTC/USD", side="buy",
                             client_order_id="nija-m-1", status="SKIPPED", reason="below_exchange_minimum")
    client.force_login(user)
    html = client.get("/portal/missed/").content.decode()
    assert "Below the venue&#x27;s minimum amount or cost" in html and "BTC/USD" in html


def test_reports_open_inside_the_portal_layout_with_print_css(client, investor):
    account, user = investor()
    today = dt.datetime.now(dt.UTC).date()
    report = report_generate(account=account, period="weekly", day=today)
    client.force_login(user)
    listing = client.get("/portal/reports/").content.decode()
    assert f"/portal/reports/{report.pk}/" in listing
    page = client.get(f"/portal/reports/{report.pk}/").content.decode()
    assert 'nav aria-label="Portal sections"' in page and "Weekly report" in page
    assert "<html" not in page.split('<article class="report-body">')[1]  # the body only, not a nested page
    assert "data:image/png;base64" in page
    stylesheet = finders.find("portal/portal.css")
    assert stylesheet and "@media print" in Path(stylesheet).read_text()


def test_statements_fee_schedule_and_tax_csv_is_the_commands(client, investor):
    account, user = investor(trades=2)
    today = dt.datetime.now(dt.UTC).date()
    fee_schedule_set(actor="test", account=account, performance_fee_rate="0.2", management_fee_rate="0.02",
                     reason="test")
    statement = fee_statement_generate(account=account, start=today.replace(day=1), end=today)
    client.force_login(user)
    html = client.get(f"/portal/statements/?year={today.year}&method=hifo").content.decode()
    assert "performance fee 20.0%" in html and "management fee 2.00%" in html
    assert f"/portal/reports/{statement.pk}/" in html and "HIFO" in html
    tax_csv = client.get(f"/portal/statements/tax.csv?year={today.year}&method=hifo")
    assert tax_csv.content.decode() == _command_text("tax_report", account.user_id, "--year", str(today.year),
                                                    "--method", "hifo", "--csv")
    for bad in ("year=1999", "year=abc", f"year={today.year + 1}", "method=avg"):
        assert client.get(f"/portal/statements/?{bad}").status_code == 400, bad
        assert client.get(f"/portal/statements/tax.csv?{bad}").status_code == 400, bad


def test_messages_newest_first_without_internal_notes(client, investor):
    account, user = investor()
    communication_record(actor="test", account=account, kind="note", channel="internal", subject="internal only",
                         body="staff eyes only")
    communication_record(actor="test", account=account, kind="statement", channel="portal",
                         subject="Your November statement", body="see statements")
    client.force_login(user)
    html = client.get("/portal/messages/").content.decode()
    assert "Your November statement" in html and "Welcome to NIJA" in html and "internal only" not in html
    assert html.index("Your November statement") < html.index("Welcome to NIJA")


def test_times_are_in_the_investors_zone_with_utc_on_hover(client, investor):
    account, user = investor()
    account_update(actor="test", account=account, changes={"time_zone": "Asia/Tokyo"})
    client.force_login(user)
    html = client.get("/portal/trades/").content.decode()
    assert "JST" in html and ' UTC">' in html


@pytest.mark.parametrize("path", PAGES)
def test_no_page_issues_more_queries_with_more_history(client, investor, path, make_account):
    counts = []
    for n, user_id in ((5, "small_history"), (120, "long_history")):
        account, user = investor(user_id, trades=n)
        for i in range(n // 5 + 1):
            communication_record(actor="test", account=account, kind="statement", channel="portal",
                                 subject=f"m{i}", body="b")
        report_generate(account=account, period="daily", day=dt.date.today())
        client.force_login(user)
        client.get(path)  # the first view of a history computes and caches it
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
