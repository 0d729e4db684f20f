"""Issue 10 §1.4: reproducible tax years. A trade is priced by its own counter leg, never by prices recorded
from other accounts' fills; every price used is listed with its source and time; a closed year keeps its
filed figures (command, portal, API) and warns what a recomputation would change; staff enter prices
by hand with record_price (audited, all or nothing)."""

import csv
import datetime as dt
import io
import json
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command

from compliance.models import AuditEvent
from core.errors import ApplicationError
from reporting.models import PricePoint, TaxYearClose
from reporting.selectors import AccountBooks, positions_view, tax_report
from reporting.services import ledger_import_csv, price_point_record, tax_year_close

pytestmark = pytest.mark.django_db

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
# The example: Alice holds 1 BTC (deposited, priced by the venue at 40,000 USD), swaps it for
# 20 ETH on 1 March 2024 (a BTC-for-ETH trade: no USD leg) and sells the ETH for USD in June.
ALICE = HEADER + (
    "2024-01-02T10:00:00Z,deposit,kraken,BTC,1,,,,,d-1\n"
    "2024-03-01T10:00:00Z,trade,kraken,ETH,20,BTC,-1,,,t-1\n"
    "2024-06-01T10:00:00Z,trade,kraken,ETH,-20,USD,70000,USD,70,t-2\n")
# Bob, another account, bought BTC at a very different price just before Alice's swap.
BOB = HEADER + ("2024-02-28T10:00:00Z,deposit,paper,USD,10000,,,,,d-1\n"
                "2024-02-28T12:00:00Z,trade,paper,BTC,0.5,USD,-10000,,,t-1\n")
VENUE_AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def alice(make_account, time_machine):
    time_machine.move_to(dt.datetime(2025, 2, 1, 12, 0, tzinfo=dt.UTC), tick=False)
    price_point_record(asset="BTC", price="40000", observed_at=VENUE_AT, source=PricePoint.Source.VENUE)
    account = make_account("alice")
    ledger_import_csv(actor="test", account=account, text=ALICE)
    return account


def _json(*args: str) -> dict:
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def _figures(report: dict) -> tuple:
    return report["disposals"], report["totals_by_term"], report["prices"]


def test_another_accounts_trade_no_longer_changes_the_first_accounts_tax_report(alice, make_account):
    before = tax_report(account=alice, year=2024)
    # The swap is priced by its counter leg: 1 BTC at the venue's 40,000 USD, so the ETH lot costs 40,000.
    swap, sale = before["disposals"]
    assert (swap["asset"], swap["proceeds"], swap["cost_basis"]) == ("BTC", D("40000"), D("40000"))
    assert (sale["asset"], sale["proceeds"], sale["cost_basis"], sale["fees"]) == (
        "ETH", D("70000"), D("40000"), D("70"))

    ledger_import_csv(actor="test", account=make_account("bob"), text=BOB)  # BTC at 20,000 USD on 28 Feb
    assert PricePoint.objects.filter(source="ledger", asset="BTC").exists()  # still recorded (dashboards)
    assert _figures(tax_report(account=alice, year=2024)) == _figures(before)


def test_the_tax_report_lists_every_price_it_used_with_source_and_time(alice):
    data = _json("tax_report", "alice", "--year", "2024")
    assert data["prices"] == [{"asset": "BTC", "quote": "USD", "price": "40000.00",
                               "observed_at": "2024-01-01T00:00:00+00:00", "source": "venue"}]
    out = io.StringIO()
    call_command("tax_report", "alice", "--year", "2024", "--csv", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    at = rows.index(["prices used (USD)"])
    assert rows[at - 1] == [] and rows[at + 1] == ["asset", "quote", "price", "observed_at", "source"]
    assert rows[at + 2:] == [["BTC", "USD", "40000.00", "2024-01-01T00:00:00+00:00", "venue"]]
    text = io.StringIO()
    call_command("tax_report", "alice", "--year", "2024", stdout=text)
    assert "Prices used (USD):" in text.getvalue() and "venue" in text.getvalue()


def test_a_closed_year_keeps_its_filed_figures_and_warns_what_would_differ(alice, time_machine):
    filed = tax_report(account=alice, year=2024, method="hifo")
    out = io.StringIO()
    call_command("tax_year_close", "alice", "--year", "2024", "--method", "hifo", "--reason", "filed 2024 return",
                 stdout=out)
    assert "closed" in out.getvalue()
    closed = TaxYearClose.objects.get()
    assert (closed.year, closed.method, closed.reason) == (2024, "hifo", "filed 2024 return")
    event = AuditEvent.objects.get(action="reporting.tax_year_closed")
    assert event.target_id == "alice" and event.after["year"] == 2024

    # Later: a late-found fill in 2024 and a manual price that reprices the swap.
    ledger_import_csv(actor="test", account=alice, text=HEADER + "2024-11-01T10:00:00Z,deposit,kraken,USD,5,,,,,d-9\n"
                      "2024-11-02T10:00:00Z,trade,kraken,SOL,1,USD,-5,,,t-9\n2024-11-03T10:00:00Z,trade,kraken,"
                      "SOL,-1,USD,6,,,t-10\n")
    call_command("record_price", "BTC", "41000", "--at", "2024-02-29T00:00:00Z", "--reason", "venue gap")
    now = tax_report(account=alice, year=2024, method="hifo")
    assert _figures(now) == _figures(filed)  # as filed
    assert now["closed"]["closed_by"].startswith("cli:")
    what = {d["what"] for d in now["differences"]}
    assert {"short-term count", "short-term proceeds", "disposal rows", "prices used"} <= what
    (warning,) = now["warnings"]
    assert warning.startswith("2024 (HIFO) was closed on 2025-02-01") and "short-term gain" in warning
    # Another method for the same year is computed now, and says the year was filed with HIFO.
    fifo = tax_report(account=alice, year=2024, method="fifo")
    assert fifo["closed"] is None and "filed) with HIFO" in fifo["warnings"][0]
    assert len(fifo["disposals"]) == 3

    data = _json("tax_report", "alice", "--year", "2024", "--method", "hifo")
    assert data["closed"]["reason"] == "filed 2024 return" and data["warnings"] == [warning]
    differences = {d["what"]: (d["filed"], d["recomputed"]) for d in data["differences"]}
    # Money at the edge in cents (a SOL round trip of +1 USD was found later); counts stay counts.
    assert differences["short-term gain"] == ("29930.00", "29931.00")
    assert differences["short-term count"] == (2, 3)
    assert [d["proceeds"] for d in data["disposals"]] == ["40000.00", "70000.00"]
    err = io.StringIO()
    call_command("tax_report", "alice", "--year", "2024", "--method", "hifo", "--csv", stdout=io.StringIO(),
                 stderr=err)
    assert err.getvalue().startswith("warning: 2024 (HIFO) was closed")


def test_the_portal_and_the_api_show_a_closed_years_filed_figures(alice, client):
    tax_year_close(actor="staff", account=alice, year=2024, method="fifo")
    call_command("record_price", "BTC", "10", "--at", "2024-02-29T00:00:00Z", "--reason", "test reprice")
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename="view_report"))
    client.force_login(staff)
    api = client.get("/api/v1/accounts/alice/tax?year=2024&method=fifo").json()
    assert [d["cost_basis"] for d in api["disposals"]] == ["40000.00", "40000.00"]
    assert api["closed"]["closed_by"] == "staff" and "would differ" in api["warnings"][0]

    investor = User.objects.create_user("alice_login", password="pw")
    alice.portal_user = investor
    alice.save(update_fields=["portal_user"])
    client.force_login(investor)
    page = client.get("/portal/statements/?year=2024&method=fifo").content.decode()
    assert "closed on 2025-02-01 and these are the figures as filed" in page and "would differ" in page
    assert "29,930.00" in page  # the filed gain (70,000 - 40,000 - 70 fees), not the repriced one
    tax_csv = client.get("/portal/statements/tax.csv?year=2024&method=fifo").content.decode()
    assert "ETH,20,2024-03-01,2024-06-01,70000.00,40000.00,70.00,29930.00" in tax_csv


def test_closing_a_year_twice_or_an_unfinished_year_is_refused_and_writes_nothing(alice):
    tax_year_close(actor="staff", account=alice, year=2024, method="fifo")
    with pytest.raises(CommandError, match="already closed on 2025-02-01 by staff"):
        call_command("tax_year_close", "alice", "--year", "2024", "--method", "fifo")
    with pytest.raises(CommandError, match="2025 has not ended yet"):
        call_command("tax_year_close", "alice", "--year", "2025", "--method", "fifo")
    for bad in (["nobody", "--year", "2024", "--method", "fifo"], ["alice", "--year", "24", "--method", "fifo"],
                ["alice", "--year", "2024", "--method", "avg"]):
        with pytest.raises(CommandError):
            call_command("tax_year_close", *bad, stderr=io.StringIO())
    assert TaxYearClose.objects.count() == 1
    assert AuditEvent.objects.filter(action="reporting.tax_year_closed").count() == 1


def test_a_closed_year_is_final(alice):
    closed = tax_year_close(actor="staff", account=alice, year=2024, method="fifo")
    closed.reason = "edited"
    with pytest.raises(ApplicationError, match="final"):
        closed.save()
    with pytest.raises(ApplicationError, match="final"):
        TaxYearClose.objects.all().delete()
    with pytest.raises(ApplicationError, match="final"):
        TaxYearClose.objects.update(reason="x")


# --- record_price -------------------------------------------------------------------------------
def test_record_price_stores_a_manual_price_used_like_any_other(make_account, time_machine):
    time_machine.move_to(dt.datetime(2025, 2, 1, tzinfo=dt.UTC), tick=False)
    account = make_account("carol")
    ledger_import_csv(actor="test", account=account, text=HEADER + (
        "2024-01-05T10:00:00Z,deposit,paper,LUNC,1000000,,,,,d-1\n"))  # a token no venue prices any more
    assert tax_report(account=account, year=2024)["prices"] == []
    data = _json("record_price", "lunc", "0.0001234", "--at", "2024-01-05T00:00:00", "--reason",
                 "delisted: CoinGecko close")
    assert data["created"] == [{"id": data["created"][0]["id"], "asset": "LUNC", "quote": "USD",
                                "price": "0.0001234", "observed_at": "2024-01-05T00:00:00+00:00",
                                "source": "manual"}]
    event = AuditEvent.objects.get(action="reporting.manual_prices_recorded")
    assert event.reason == "delisted: CoinGecko close" and event.after["count"] == 1
    used = tax_report(account=account, year=2024)["prices"]  # the deposit in kind is now priced by it
    assert [(p["asset"], p["price"], p["source"]) for p in used] == [("LUNC", D("0.0001234"), "manual")]
    (position,) = positions_view(books=AccountBooks(account=account))
    assert position["cost_basis"] == D("123.4") and not position["unpriced"]
    # The same price again changes nothing; a different one at the same moment is refused.
    assert _json("record_price", "LUNC", "0.0001234", "--at", "2024-01-05T00:00:00Z", "--reason", "again")[
        "unchanged"] == 1
    with pytest.raises(CommandError, match="already has the manual price"):
        call_command("record_price", "LUNC", "0.0002", "--at", "2024-01-05T00:00:00Z", "--reason", "typo")
    assert PricePoint.objects.filter(source="manual").count() == 1


def test_record_price_csv_stores_every_row_in_one_transaction(tmp_path, time_machine):
    time_machine.move_to(dt.datetime(2025, 2, 1, tzinfo=dt.UTC), tick=False)
    good = tmp_path / "prices.csv"
    good.write_text("asset,price,observed_at\nLUNC,0.0001,2024-01-01T00:00:00Z\nLUNC,0.00011,2024-01-02\n"
                    "FTT,1.5,2024-01-01 12:00:00\n")
    out = io.StringIO()
    call_command("record_price", "--csv", str(good), "--reason", "delisted tokens, exchange archive", stdout=out)
    assert "3 manual price(s) recorded" in out.getvalue()
    assert sorted(PricePoint.objects.filter(source="manual").values_list("asset", "price")) == [
        ("FTT", D("1.5")), ("LUNC", D("0.0001")), ("LUNC", D("0.00011"))]
    (event,) = AuditEvent.objects.filter(action="reporting.manual_prices_recorded")
    assert event.after["count"] == 3 and event.after["source"] == str(good)


@pytest.mark.parametrize(("body", "problems"), [
    ("asset,price,observed_at\nLUNC,0.0001,2024-01-01\nLUNC,-1,2024-01-02\nUSD,1,2024-01-02\n"
     "LUNC,abc,2024-01-03\nLUNC,1,yesterday\nLUNC,1,2030-01-01\nLUNC,0.0002,2024-01-01T00:00:00Z\n,1,2024-01-04\n"
     "LUNC,1,2024-01-05,extra\n",
     [":3: price must be positive", ":4: asset USD is valued at 1 USD", ":5: price: 'abc' is not a number",
      ":6: observed_at 'yesterday' is not an ISO 8601", ":7: observed_at 2030-01-01T00:00:00+00:00 is in the future",
      ":8: LUNC at 2024-01-01T00:00:00+00:00 repeats line 2", ":9: asset is required", ":10: 4 fields, expected 3"]),
    ("asset,price\nLUNC,1\n", [":1: missing column(s) observed_at"]),
    ("asset,price,observed_at\n", [": no prices in the file"]),
])
def test_record_price_csv_names_each_bad_row_by_file_and_line_and_stores_nothing(tmp_path, time_machine, body,
                                                                                   problems):
    time_machine.move_to(dt.datetime(2025, 2, 1, tzinfo=dt.UTC), tick=False)
    path = tmp_path / "bad.csv"
    path.write_text(body)
    err = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("record_price", "--csv", str(path), "--reason", "r", stderr=err)
    said = err.getvalue() + str(failed.value)
    for problem in problems:
        assert f"{path}{problem}" in said, (problem, said)
    assert "Traceback" not in said
    assert PricePoint.objects.count() == 0 and not AuditEvent.objects.filter(
        action="reporting.manual_prices_recorded").exists()


@pytest.mark.parametrize("args", [
    ["BTC", "50000", "--reason", "r"],  # no --at
    ["BTC", "--at", "2024-01-01", "--reason", "r"],  # no price
    ["BTC", "0", "--at", "2024-01-01", "--reason", "r"],
    ["BTC", "1e400", "--at", "2024-01-01", "--reason", "r"],
    ["BTC", "50000", "--at", "2024-01-01", "--reason", " "],
    ["BTC", "50000", "--at", "2024-01-01", "--csv", "x.csv", "--reason", "r"],
    ["--csv", "/nonexistent/prices.csv", "--reason", "r"],
    ["BTC/USD", "50000", "--at", "2024-01-01", "--reason", "r"],
])
def test_record_price_bad_input_is_one_line_and_writes_nothing(args):
    with pytest.raises(CommandError) as failed:
        call_command("record_price", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert "\n" not in str(failed.value)
    assert PricePoint.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_record_price_refuses_a_file_that_is_not_text(tmp_path):
    path = tmp_path / "prices.xlsx"
    path.write_bytes(b"PK\x03\x04\xff\xfe\x00binary")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("record_price", "--csv", str(path), "--reason", "r")
    assert PricePoint.objects.count() == 0
