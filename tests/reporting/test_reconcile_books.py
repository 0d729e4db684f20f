"""Issue 10 §2: the books (ledger) reconciled against the venues' latest good balances."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from brokers.models import BalanceSnapshot
from brokers.paper_venue import paper_behaviour_set, paper_fund, paper_price_set
from brokers.services import balance_audit_run, credential_add
from compliance.models import AuditEvent
from core.assets import asset_canonical
from reporting.models import ReconciliationBreak
from reporting.selectors import reconciliation_breaks_current, reconciliation_breaks_summary
from reporting.services import (
    books_reconcile,
    ledger_entry_manual_record,
    ledger_import_csv,
    reconciliation_break_explain,
    reconciliation_break_resolve,
)
from reporting.tasks import books_reconcile_task

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-static"

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
# 10,000 USD in, 0.1 BTC bought for 5,000 USD + 5 USD fee: the books say 4,995 USD and 0.1 BTC.
LEDGER = HEADER + ("2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n"
                   "2026-01-05T10:00:00Z,trade,paper,BTC,0.1,USD,-5000,USD,5,t-1\n")


@pytest.fixture
def books(make_account, time_machine):
    """An account whose ledger and PAPER balances agree (4,995 USD and 0.1 BTC)."""
    time_machine.move_to(dt.datetime(2026, 2, 1, 1, 0, tzinfo=dt.UTC), tick=False)
    paper_price_set(symbol="BTC/USD", price="50000")
    account = make_account("alice")
    ledger_import_csv(actor="test", account=account, text=LEDGER)
    credential = credential_add(actor="test", account=account, venue="paper", label="default",
                                api_key=f"paper-{secrets.token_hex(8)}", api_secret=secrets.token_hex(16))
    paper_fund(credential=credential, asset="USD", amount=D("4995"))
    paper_fund(credential=credential, asset="BTC", amount=D("0.1"))
    balance_audit_run(account_ids=[account.pk])
    return account, credential


def _rerun_next_day(time_machine, account, days: int = 1):
    time_machine.move_to(dt.datetime(2026, 2, 1 + days, 1, 0, tzinfo=dt.UTC), tick=False)
    balance_audit_run(account_ids=[account.pk])
    return books_reconcile(account_ids=[account.pk])


def test_books_that_agree_have_no_break(books):
    account, _ = books
    result = books_reconcile(account_ids=[account.pk])
    assert {(r["asset"], r["ledger"], r["venue_quantity"]) for r in result.compared} == {
        ("USD", D("4995"), D("4995")), ("BTC", D("0.1"), D("0.1"))}
    assert result.breaks == [] and ReconciliationBreak.objects.count() == 0


def test_a_planted_difference_is_exactly_one_break_and_the_next_day_the_same_one(books, time_machine):
    account, credential = books
    paper_fund(credential=credential, asset="BTC", amount=D("0.02"))  # the venue got BTC the ledger never saw
    balance_audit_run(account_ids=[account.pk])
    result = books_reconcile(account_ids=[account.pk])
    assert result.new == 1 and len(result.breaks) == 1
    brk = ReconciliationBreak.objects.get()
    assert (brk.venue, brk.asset, brk.status) == ("paper", "BTC", "open")
    assert (brk.ledger_quantity, brk.venue_quantity, brk.difference) == (D("0.1"), D("0.12"), D("0.02"))
    assert brk.difference_usd == D("1000")  # 0.02 BTC at the 50,000 USD price of the trade
    first_seen = brk.first_seen_at
    assert AuditEvent.objects.filter(action="reporting.reconciliation_break_found").count() == 1

    again = _rerun_next_day(time_machine, account)
    assert again.new == 0 and len(again.breaks) == 1
    brk = ReconciliationBreak.objects.get()  # still one row: the same break
    assert brk.first_seen_at == first_seen and brk.last_seen_at == dt.datetime(2026, 2, 2, 1, 0, tzinfo=dt.UTC)
    assert brk.status == "open"


def test_explained_break_stays_explained_then_resolves_when_the_books_agree(books, time_machine):
    account, credential = books
    paper_fund(credential=credential, asset="USD", amount=D("250"))  # a deposit not in the ledger yet
    balance_audit_run(account_ids=[account.pk])
    books_reconcile(account_ids=[account.pk])
    brk = ReconciliationBreak.objects.get()
    assert brk.difference == D("250") and brk.difference_usd == D("250")
    with pytest.raises(Exception, match="reason"):
        reconciliation_break_explain(actor="test", reconciliation_break=brk, reason=" ")
    reconciliation_break_explain(actor="test", reconciliation_break=brk, reason="wire of 250 USD, import pending")
    assert _rerun_next_day(time_machine, account).breaks[0].status == "explained"
    assert reconciliation_breaks_summary()["explained"] == 1

    ledger_entry_manual_record(actor="test", account=account, kind="deposit", venue="paper", asset="USD",
                               amount="250", reason="wire received 2026-02-01",
                               occurred_at="2026-02-01T00:30:00Z")
    result = _rerun_next_day(time_machine, account, days=2)
    assert result.breaks == [] and len(result.resolved) == 1
    brk.refresh_from_db()
    assert brk.status == "resolved" and brk.resolved_at is not None and "agree" in brk.reason
    assert reconciliation_breaks_current(account=account) == []


def test_a_break_found_after_staff_resolved_the_last_one_is_a_new_break(books):
    account, credential = books
    paper_fund(credential=credential, asset="USD", amount=D("-100"))
    balance_audit_run(account_ids=[account.pk])
    books_reconcile(account_ids=[account.pk])
    reconciliation_break_resolve(actor="test", reconciliation_break=ReconciliationBreak.objects.get(),
                                 reason="venue fee, booked by hand")
    result = books_reconcile(account_ids=[account.pk])
    assert result.new == 1
    assert sorted(ReconciliationBreak.objects.values_list("status", flat=True)) == ["open", "resolved"]


def test_differences_within_the_assets_tolerance_are_not_breaks(books, settings):
    account, credential = books
    paper_fund(credential=credential, asset="USD", amount=D("0.01"))  # a cent: rounding
    balance_audit_run(account_ids=[account.pk])
    assert books_reconcile(account_ids=[account.pk]).breaks == []
    settings.NIJA_RECONCILE_TOLERANCES = {"USD": "0.001"}
    assert [b.asset for b in books_reconcile(account_ids=[account.pk]).breaks] == ["USD"]


def test_the_ledger_is_read_up_to_the_snapshots_time(books, time_machine):
    """An entry booked after the venue was read is not a break: the venue could not have known it."""
    account, _ = books
    time_machine.move_to(dt.datetime(2026, 2, 1, 3, 0, tzinfo=dt.UTC), tick=False)
    ledger_entry_manual_record(actor="test", account=account, kind="withdrawal", venue="paper", asset="USD",
                               amount="-500", reason="payout", occurred_at="2026-02-01T02:00:00Z")
    assert books_reconcile(account_ids=[account.pk]).breaks == []


def test_an_unavailable_venue_is_listed_with_its_reason_and_its_breaks_are_kept(books, time_machine):
    account, credential = books
    paper_fund(credential=credential, asset="USD", amount=D("40"))
    balance_audit_run(account_ids=[account.pk])
    books_reconcile(account_ids=[account.pk])
    time_machine.move_to(dt.datetime(2026, 2, 2, 1, 0, tzinfo=dt.UTC), tick=False)
    paper_behaviour_set(credential=credential, fault="rate_limited", fault_count=5)
    balance_audit_run(account_ids=[account.pk])
    result = books_reconcile(account_ids=[account.pk])
    # compared against the last good reading, and said so
    assert [b.asset for b in result.breaks] == ["USD"]
    assert all(r["stale_reason"] for r in result.compared)
    assert ReconciliationBreak.objects.get().status == "open"


def test_a_ledger_venue_without_a_credential_is_not_compared_and_says_why(make_account):
    account = make_account("bob")
    ledger_import_csv(actor="test", account=account, text=HEADER + "2026-01-05T09:00:00Z,deposit,kraken,USD,10,,,,,d\n")
    result = books_reconcile(account_ids=[account.pk])
    assert result.breaks == []
    assert result.unavailable == [{"account": "bob", "venue": "kraken",
                                   "reason": "no active credential: the venue's balance is not fetched"}]


def test_reconcile_books_command_json_and_text(books, capsys):
    account, credential = books
    paper_fund(credential=credential, asset="BTC", amount=D("-0.05"))
    balance_audit_run(account_ids=[account.pk])
    # An open break: the full report first, then exit status 2 with one line (not 1, which is bad input).
    with pytest.raises(CommandError, match="^1 open reconciliation break") as failed:
        call_command("reconcile_books", "--json")
    assert failed.value.returncode == 2
    data = json.loads(capsys.readouterr().out)
    assert data["accounts"] == 1 and data["compared"] == 2 and data["new"] == 1 and data["open"] == 1
    (brk,) = data["breaks"]
    assert (brk["account"], brk["asset"], brk["ledger_quantity"], brk["venue_quantity"], brk["difference"],
            brk["difference_usd"], brk["status"]) == ("alice", "BTC", "0.1", "0.05", "-0.05", "-2500.00", "open")
    with pytest.raises(CommandError) as failed:
        call_command("reconcile_books", "--user", "alice")
    assert failed.value.returncode == 2
    out = capsys.readouterr().out
    assert "-$2,500.00" in out and "1 break(s) (0 new)" in out
    assert ReconciliationBreak.objects.count() == 1


def test_reconcile_books_exits_zero_when_every_break_is_explained_or_the_books_agree(books, capsys):
    account, credential = books
    call_command("reconcile_books", "--json")  # agree: no exception, exit status 0
    assert json.loads(capsys.readouterr().out)["open"] == 0
    paper_fund(credential=credential, asset="USD", amount=D("7"))
    balance_audit_run(account_ids=[account.pk])
    with pytest.raises(CommandError):
        call_command("reconcile_books")
    assert "1 break(s) (1 new)" in capsys.readouterr().out
    reconciliation_break_explain(actor="test", reconciliation_break=ReconciliationBreak.objects.get(),
                                 reason="card refund, booked tomorrow")
    call_command("reconcile_books", "--json")  # explained: still listed, but nothing open
    data = json.loads(capsys.readouterr().out)
    assert data["open"] == 0 and [b["status"] for b in data["breaks"]] == ["explained"]


def _kraken_snapshot(account, assets: dict[str, str], at: dt.datetime) -> None:
    """A Kraken balance reading as the audit stores it (latest and latest good), in Kraken's own codes."""
    credential = credential_add(actor="test", account=account, venue="kraken", label="default", verify=False,
                                api_key=f"kr-{secrets.token_hex(8)}", api_secret=secrets.token_hex(16))
    BalanceSnapshot.objects.bulk_create([
        BalanceSnapshot(account=account, credential=credential, venue="kraken", asset=asset, free=D(total),
                        used=D(0), total=D(total), fetched_at=at, is_latest=True, is_latest_ok=True)
        for asset, total in assets.items()])


def test_kraken_asset_codes_match_the_ledgers_codes(make_account):
    # The ledger in BTC, ETH and USD; Kraken's balance in its own codes XXBT, XETH and ZUSD.
    account = make_account("carol")
    ledger_import_csv(actor="test", account=account, text=HEADER + (
        "2026-01-05T09:00:00Z,deposit,kraken,USD,10000,,,,,d-1\n"
        "2026-01-05T10:00:00Z,trade,kraken,BTC,0.1,USD,-5000,USD,5,t-1\n"
        "2026-01-05T11:00:00Z,trade,kraken,ETH,1,USD,-2000,ETH,0.001,t-2\n"))
    _kraken_snapshot(account, {"XXBT": "0.1", "XETH": "0.999", "ZUSD": "2995"},
                     at=dt.datetime(2026, 1, 6, tzinfo=dt.UTC))
    result = books_reconcile(account_ids=[account.pk])
    assert {(r["asset"], r["ledger"], r["venue_quantity"]) for r in result.compared} == {
        ("BTC", D("0.1"), D("0.1")), ("ETH", D("0.999"), D("0.999")), ("USD", D("2995"), D("2995"))}
    assert result.breaks == []


def test_a_ledger_imported_in_kraken_codes_matches_a_venue_in_common_codes(make_account):
    account = make_account("dave")
    ledger_import_csv(actor="test", account=account, text=HEADER + (
        "2026-01-05T09:00:00Z,deposit,kraken,ZUSD,1000,,,,,L-1\n"
        "2026-01-05T10:00:00Z,trade,kraken,XXBT,0.01,ZUSD,-500,ZUSD,1,L-2\n"
        "2026-01-05T10:30:00Z,deposit,kraken,XBT,0.002,,,,,L-3\n"))
    _kraken_snapshot(account, {"BTC": "0.0125", "USD": "499"}, at=dt.datetime(2026, 1, 6, tzinfo=dt.UTC))
    result = books_reconcile(account_ids=[account.pk])
    (brk,) = result.breaks  # one real difference, in BTC: the two Kraken spellings were summed first
    assert (brk.asset, brk.ledger_quantity, brk.venue_quantity, brk.difference) == (
        "BTC", D("0.012"), D("0.0125"), D("0.0005"))
    assert [r["asset"] for r in result.compared] == ["BTC", "USD"]


def test_every_kraken_currency_id_in_the_recorded_payloads_maps_to_its_ccxt_code():
    currencies = json.loads((FIXTURES / "currencies" / "kraken.json").read_text())
    assert {c["id"]: asset_canonical(c["id"]) for c in currencies.values()} == {
        c["id"]: c["code"] for c in currencies.values()}
    assert asset_canonical(" xbt ") == "BTC" and asset_canonical("SOL") == "SOL"


def test_reconcile_books_unknown_user_fails_with_one_line_and_writes_nothing(books):
    with pytest.raises(CommandError):
        call_command("reconcile_books", "--user", "nobody")
    assert ReconciliationBreak.objects.count() == 0


def test_daily_task_batches_accounts_and_finds_the_same_break_again(books, settings, make_account,
                                                                    django_capture_on_commit_callbacks):
    account, credential = books
    paper_fund(credential=credential, asset="USD", amount=D("5"))
    balance_audit_run(account_ids=[account.pk])
    settings.NIJA_TASK_BATCH_SIZE = 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert books_reconcile_task()["breaks"] == 1
    assert len(callbacks) == 1  # a full batch queues the next one
    books_reconcile_task()
    assert ReconciliationBreak.objects.count() == 1
    assert "reporting-reconcile-books" in settings.CELERY_BEAT_SCHEDULE


def test_demo_books_agree_with_the_paper_venue(capsys):
    from reporting.demo import demo_seed

    demo_seed()
    call_command("reconcile_books", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["accounts"] == 4 and data["compared"] >= 8
    assert data["breaks"] == [] and data["unavailable"] == []


def _staff(client, group: str):
    user = User.objects.create_user(f"{group}-1", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


def _plant_breaks(make_account, n: int):
    now = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    accounts = [make_account(f"acct_{i}") for i in range(n)]
    ReconciliationBreak.objects.bulk_create([
        ReconciliationBreak(account=a, venue="paper", asset="BTC", ledger_quantity=D("1"), venue_quantity=D("2"),
                            difference=D("1"), difference_usd=D("50000"), snapshot_at=now, first_seen_at=now,
                            last_seen_at=now) for a in accounts])
    return accounts


def test_admin_lists_breaks_with_a_filter_and_constant_queries(client, make_account):
    _staff(client, "viewer")
    _plant_breaks(make_account, 10)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/admin/reporting/reconciliationbreak/?status__exact=open").status_code == 200
    more = [make_account(f"more_{i}") for i in range(190)]
    now = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    ReconciliationBreak.objects.bulk_create([
        ReconciliationBreak(account=a, venue="paper", asset="ETH", ledger_quantity=D("1"), venue_quantity=D("0"),
                            difference=D("-1"), snapshot_at=now, first_seen_at=now, last_seen_at=now) for a in more])
    with CaptureQueriesContext(connection) as many:
        response = client.get("/admin/reporting/reconciliationbreak/?status__exact=open")
    assert response.status_code == 200 and b"200 reconciliation breaks" in response.content
    assert len(many) == len(few)
    assert client.get("/admin/reporting/reconciliationbreak/?status__exact=resolved").content.count(b"acct_") == 0


def test_operator_explains_a_break_in_the_admin_and_the_account_page_shows_it(client, make_account):
    (account,) = _plant_breaks(make_account, 1)
    brk = ReconciliationBreak.objects.get()
    _staff(client, "viewer")
    page = client.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    assert "Books vs venues" in page and "open since 2026-02-01" in page and "$50,000.00" in page
    # a viewer cannot run the action
    client.post("/admin/reporting/reconciliationbreak/", {"action": "explain_breaks", "_selected_action": [brk.pk],
                                                         "apply": "1", "reason": "x"})
    brk.refresh_from_db()
    assert brk.status == "open"
    _staff(client, "operator")
    response = client.post("/admin/reporting/reconciliationbreak/", {
        "action": "explain_breaks", "_selected_action": [brk.pk], "apply": "1", "reason": ""})
    assert response.status_code == 200 and b"reason is required" in response.content
    client.post("/admin/reporting/reconciliationbreak/", {
        "action": "explain_breaks", "_selected_action": [brk.pk], "apply": "1", "reason": "venue airdrop"})
    brk.refresh_from_db()
    assert (brk.status, brk.reason) == ("explained", "venue airdrop")
    assert AuditEvent.objects.filter(action="reporting.reconciliation_break_explained").count() == 1
    clean = make_account("clean")
    assert "No open reconciliation breaks" in client.get(f"/admin/accounts/account/{clean.pk}/change/").content.decode()
