"""The stored balance summaries (AccountBalanceTotal, kept by the audit and by every change to the
set of active keys) and the readers built on them (balance_totals, balance_users_summary, the
dashboard's ranking) give exactly what the row-by-row reading (balances_all, balance_summary) gives,
on a book with every case: a failed key next to a good one at one venue, a venue failed before any
good reading, a second venue, an asset without a price, an unverified key, an inactive account, a
MASTER, a key disabled, archived, erased, verified, and an audit that lands after a newer one.
Unavailable venues stay unavailable (listed, never counted, never zero); no figure ranks last."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.paginator import Paginator
from django.utils import timezone

from accounts.choices import AccountKind, AccountStatus
from accounts.models import Account
from accounts.selectors import accounts_filtered
from brokers.api.serializers import UserBalanceListField, UserBalanceSerializer
from brokers.models import AccountBalanceTotal, BalanceSnapshot, BrokerCredential
from brokers.paper_venue import paper_behaviour_set, paper_fund, paper_price_set
from brokers.selectors import (
    accounts_ranked_by_total,
    balance_summary,
    balance_totals,
    balance_user_by_venue,
    balance_users_summary,
    balances_all,
    balances_unavailable,
)
from brokers.services import (
    account_balance_totals_refresh,
    balance_audit_run,
    credential_add,
    credential_status_set,
    credential_verify,
    credentials_archive,
    credentials_archived_erase,
)
from tests.concurrency import run_at_once


def _second_venue(credential: BrokerCredential, *, venue: str, rows: list[tuple[str, str, str | None]],
                  failed: str = "") -> None:
    """A key of the same account at another venue, with its latest fetch stored as the audit stores it."""
    other = BrokerCredential.objects.create(
        account=credential.account, venue=venue, label="default", api_key_encrypted="x", api_secret_encrypted="x",
        hint="WXYZ", status=BrokerCredential.Status.ACTIVE)
    at = timezone.now()
    for asset, total, usd in rows:
        BalanceSnapshot.objects.create(account=credential.account, credential=other, venue=venue, asset=asset,
                                       total=Decimal(total), usd_value=Decimal(usd) if usd else None,
                                       fetched_at=at, is_latest=not failed, is_latest_ok=True)
    if failed:
        BalanceSnapshot.objects.create(account=credential.account, credential=other, venue=venue, fetched_at=at,
                                       status=BalanceSnapshot.Status.FAILED, error=failed, is_latest=True)
    account_balance_totals_refresh(account_ids=[credential.account_id])


@pytest.fixture
def book(make_account, paper_credential):
    paper_price_set(symbol="BTC/USD", price="50000")
    master = paper_credential(make_account("nija_master", master=True), usd="100000")
    paper_credential(make_account("alice"), usd="1000.005", BTC="0.1")
    bob = paper_credential(make_account("bob"), usd="2500")
    carol = paper_credential(make_account("carol"), usd="300")  # good once, then failing
    dave = make_account("dave")  # one paper key good, one failing: paper is unavailable; kraken counts
    paper_credential(dave, usd="700")
    dave_flaky = paper_credential(dave, usd="5", label="second")
    erin = paper_credential(make_account("erin"), usd="900")  # kraken failed before any good reading
    gone = paper_credential(make_account("gone"), usd="5000")
    balance_audit_run()
    for credential in (carol, dave_flaky):
        paper_behaviour_set(credential=credential, fault="rate_limited", fault_count=5)
    balance_audit_run(account_ids=[carol.account.pk, dave.pk])
    # keys at a second venue, with their latest fetch stored as the audit stores it
    _second_venue(master, venue="kraken", rows=[("USD", "2500.5", "2500.5")])
    _second_venue(bob, venue="kraken", rows=[("USD", "10", "10"), ("DOGE", "50", None)])
    _second_venue(dave_flaky, venue="kraken", rows=[("USD", "40", "40")])
    _second_venue(erin, venue="kraken", rows=[], failed="AuthenticationError: bad key")
    paper_credential(make_account("frank"), usd="50")  # not audited yet: listed last, no figure
    Account.objects.filter(pk=gone.account.pk).update(status=AccountStatus.INACTIVE, trading_enabled=False)
    return bob


def test_the_totals_summed_in_the_database_equal_the_row_by_row_totals(book):
    expected = balance_summary(balances=balances_all())
    expected.pop("user_totals")
    assert balance_totals() == expected
    assert expected["user_count"] == 4 and expected["master_total"] == Decimal("102500.50")
    assert expected["total_user_capital"] == Decimal("9450.00")  # alice 6000, bob 2510, dave 40, erin 900


def test_the_users_summary_lists_what_the_row_by_row_reading_shows(book):
    balances = [b for b in balances_all() if not b.account.is_master]
    balances.sort(key=lambda b: (not b.has_figures, -b.total_usd, b.account.user_id))
    expected = [{
        "user_id": b.account.user_id,
        "total": b.total_usd if b.has_figures else None,
        "brokers": {v.venue: v.usd for v in b.venues.values() if v.available},
        "unavailable": [{"venue": v.venue, "error": v.error, "last_good": v.last_good, "last_good_at": v.last_good_at}
                        for v in b.unavailable],
    } for b in balances]
    summary = balance_users_summary()
    assert summary["users"] == expected
    assert [u["user_id"] for u in summary["users"]] == ["alice", "bob", "erin", "dave", "carol", "frank"]
    totals = balance_summary(balances=balances_all())
    assert (summary["user_count"], summary["total_capital"], summary["average_balance"], summary["master_total"]) == (
        totals["user_count"], totals["total_user_capital"], totals["average_per_user"], totals["master_total"])
    carol = summary["users"][-2]
    assert carol["total"] is None and carol["brokers"] == {} and carol["unavailable"][0]["last_good"] == Decimal(300)
    erin = next(u for u in summary["users"] if u["user_id"] == "erin")
    assert erin["unavailable"] == [{"venue": "kraken", "error": "AuthenticationError: bad key", "last_good": None,
                                    "last_good_at": None}]


def test_the_users_list_field_renders_what_the_serializer_renders(book):
    users = balance_users_summary()["users"]
    assert UserBalanceListField().to_representation(users) == UserBalanceSerializer(users, many=True).data
    assert UserBalanceListField().to_representation(users)[0]["brokers"] == {"paper": "6000.00"}  # half-even


def test_every_unavailable_venue_is_listed_once(book):
    expected = sorted((b.account.user_id, v.venue, v.error) for b in balances_all() for v in b.unavailable)
    listed = [(u["user_id"], u["venue"], u["error"]) for u in balances_unavailable()]
    assert listed == expected and {u for u, _, _ in listed} == {"carol", "dave", "erin"}


# --- the stored summary (AccountBalanceTotal) ------------------------------------------------
def _computed(account: Account) -> dict:
    """What the row-by-row reading (balance_user_by_venue) gives, in the stored summary's terms."""
    entry = balance_user_by_venue(account=account)
    return {
        "total_usd": entry.total_usd if entry.has_figures else None,
        "venues": {v.venue: v.usd for v in entry.venues.values() if v.available},
        "unavailable": [{"venue": v.venue, "error": v.error, "last_good": v.last_good,
                         "last_good_at": v.last_good_at} for v in entry.unavailable],
    }


def _stored(account: Account) -> dict:
    row = AccountBalanceTotal.objects.get(account=account)
    return {
        "total_usd": row.total_usd,
        "venues": {venue: Decimal(usd) for venue, usd in row.venues.items()},
        "unavailable": [{**v, "last_good": None if v["last_good"] is None else Decimal(v["last_good"]),
                         "last_good_at": None if v["last_good_at"] is None
                         else dt.datetime.fromisoformat(v["last_good_at"])} for v in row.unavailable],
    }


def _account(user_id: str) -> Account:
    return Account.objects.get(user_id=user_id)


@pytest.mark.parametrize(("user_id", "case", "total"), [
    ("alice", "ok, one venue", Decimal("6000.005")),
    ("bob", "two venues, an asset without a price", Decimal("2510")),
    ("carol", "failed venue with a last good figure", None),
    ("dave", "two keys at one venue, one failing: that venue unavailable, the other counts", Decimal("40")),
    ("erin", "a venue failed before any good reading, next to a good one", Decimal("900")),
    ("frank", "a key, no reading yet: no figure at all", None),
    ("gone", "an INACTIVE account keeps its figures (the readers leave it out)", Decimal("5000")),
    ("nija_master", "the MASTER", Decimal("102500.5")),
])
def test_the_stored_summary_equals_the_computed_one(book, user_id, case, total):
    account = _account(user_id)
    assert _stored(account) == _computed(account), case
    assert _stored(account)["total_usd"] == total, case


def test_the_stored_summary_keeps_the_cases_apart(book):
    carol, dave, erin = _stored(_account("carol")), _stored(_account("dave")), _stored(_account("erin"))
    assert carol["venues"] == {} and carol["unavailable"][0]["last_good"] == Decimal("300")
    assert carol["unavailable"][0]["last_good_at"] is not None and "RateLimited" in carol["unavailable"][0]["error"]
    assert dave["venues"] == {"kraken": Decimal("40")}
    [paper] = dave["unavailable"]
    assert paper["venue"] == "paper" and paper["last_good"] == Decimal("705")  # both keys' last good readings
    assert erin["venues"] == {"paper": Decimal("900")}
    assert erin["unavailable"] == [{"venue": "kraken", "error": "AuthenticationError: bad key", "last_good": None,
                                    "last_good_at": None}]
    assert _stored(_account("frank")) == {"total_usd": None, "venues": {}, "unavailable": []}


@pytest.mark.parametrize("change", ["disable", "archive", "archive_and_erase", "enable_again"])
def test_a_change_to_the_set_of_active_keys_recomputes_the_summary(book, change):
    bob = _account("bob")
    kraken = BrokerCredential.objects.get(account=bob, venue="kraken")
    if change == "disable":
        credential_status_set(actor="test", credential=kraken, status=BrokerCredential.Status.DISABLED)
        assert _stored(bob)["venues"] == {"paper": Decimal("2500")}
    elif change == "archive":
        credentials_archive(actor="test", account=bob, reason="offboarding")
        assert _stored(bob) == {"total_usd": None, "venues": {}, "unavailable": []}
        assert "bob" not in [u["user_id"] for u in balance_users_summary()["users"]]  # no active key: not listed
    elif change == "archive_and_erase":
        credentials_archive(actor="test", account=bob, reason="offboarding")
        later = timezone.now() + dt.timedelta(days=settings.NIJA_CREDENTIAL_RETENTION_DAYS + 1)
        assert credentials_archived_erase(now=later) == 2
        assert _stored(bob)["total_usd"] is None
    else:
        credential_status_set(actor="test", credential=kraken, status=BrokerCredential.Status.DISABLED)
        credential_status_set(actor="test", credential=kraken, status=BrokerCredential.Status.ACTIVE)
        assert _stored(bob)["total_usd"] == Decimal("2510")
    assert _stored(bob) == _computed(bob)


@pytest.mark.parametrize(("perm", "status"), [("read_only,trade", "active"), ("read_only,trade,withdraw", "disabled")])
def test_verifying_a_key_recomputes_the_summary(book, okx_venue, perm, status):
    alice = _account("alice")
    key = credential_add(actor="test", account=alice, venue="okx", api_key="okx-key-alice-1234",
                         api_secret="okx-secret", passphrase="pp", verify=False)
    # its verification failed once, stored as the audit stores it: unavailable (why), never counted
    BalanceSnapshot.objects.create(account=alice, credential=key, venue="okx", fetched_at=timezone.now(),
                                   status=BalanceSnapshot.Status.FAILED, error="key not verified yet", is_latest=True)
    account_balance_totals_refresh(account_ids=[alice.pk])
    assert [v["venue"] for v in _stored(alice)["unavailable"]] == ["okx"]
    okx_venue["perm"] = perm
    credential_verify(actor="test", credential=key)
    assert BrokerCredential.objects.get(pk=key.pk).status == status
    # verified: still unavailable until the audit reads it; refused (can withdraw): no longer counted at all
    assert [v["venue"] for v in _stored(alice)["unavailable"]] == (["okx"] if status == "active" else [])
    assert _stored(alice) == _computed(alice)


def test_a_new_key_has_a_summary_with_no_figure_until_the_audit_reads_it(paper_credential):
    newcomer = paper_credential(usd="10")
    assert _stored(newcomer.account) == {"total_usd": None, "venues": {}, "unavailable": []}
    balance_audit_run(account_ids=[newcomer.account_id])
    assert _stored(newcomer.account) == {"total_usd": Decimal("10"), "venues": {"paper": Decimal("10")},
                                         "unavailable": []}


def test_an_audit_writes_the_summary_in_its_transaction(paper_credential, make_account):
    key = paper_credential(make_account("alice"), usd="1000")
    balance_audit_run()
    assert _stored(key.account)["total_usd"] == Decimal("1000")
    paper_fund(credential=key, asset="USD", amount="500")
    paper_behaviour_set(credential=key, fault="rate_limited", fault_count=1)
    balance_audit_run()
    failed = _stored(key.account)
    assert failed["total_usd"] is None and failed["unavailable"][0]["last_good"] == Decimal("1000")
    balance_audit_run()
    assert _stored(key.account)["total_usd"] == Decimal("1500") == _computed(key.account)["total_usd"]


def test_a_stale_audit_leaves_the_summary_alone(paper_credential, make_account, time_machine):
    key = paper_credential(make_account("alice"), usd="1000")
    newer = dt.datetime(2026, 3, 1, 12, 5, tzinfo=dt.UTC)
    time_machine.move_to(newer, tick=False)
    balance_audit_run()
    before = AccountBalanceTotal.objects.get(account=key.account)
    paper_fund(credential=key, asset="USD", amount="500")
    time_machine.move_to(newer - dt.timedelta(minutes=5), tick=False)  # a slower, older reading lands last
    balance_audit_run()
    after = AccountBalanceTotal.objects.get(account=key.account)
    assert (after.total_usd, after.venues, after.updated_at) == (Decimal("1000"), {"paper": before.venues["paper"]},
                                                                  before.updated_at)
    assert _stored(key.account) == _computed(key.account)


def test_the_data_migration_fills_what_the_audit_keeps(book):
    expected = {row.account_id: (row.total_usd, row.venues, row.unavailable)
                for row in AccountBalanceTotal.objects.all()}
    AccountBalanceTotal.objects.all().delete()
    migration = importlib.import_module("brokers.migrations.0006_account_balance_total_fill")
    migration.summaries_fill(django_apps, None)
    assert {row.account_id: (row.total_usd, row.venues, row.unavailable)
            for row in AccountBalanceTotal.objects.all()} == expected


def test_the_ranking_puts_accounts_without_a_figure_last(book, make_account):
    make_account("zoe")  # no key at all
    ranked = accounts_ranked_by_total(accounts=accounts_filtered(kind=AccountKind.USER))
    assert [(a.user_id, a.balance_total) for a in ranked] == [
        ("alice", Decimal("6000.005")), ("gone", Decimal("5000")), ("bob", Decimal("2510")),
        ("erin", Decimal("900")), ("dave", Decimal("40")), ("carol", None), ("frank", None), ("zoe", None)]


def test_every_page_of_the_ranking_is_the_slice_of_the_whole_one(book, make_account):
    # Pages come from the ranked accounts (by the rank index), then the ones that never had a key.
    for user_id in ("yann", "xena", "zoe"):
        make_account(user_id)
    ranked = accounts_ranked_by_total(accounts=accounts_filtered(kind=AccountKind.USER))
    whole = [a.user_id for a in ranked]
    assert len(whole) == ranked.count() == 10 and whole[-3:] == ["xena", "yann", "zoe"]
    for start in range(0, 11):
        for stop in range(start, 12):
            fresh = accounts_ranked_by_total(accounts=accounts_filtered(kind=AccountKind.USER))
            assert [a.user_id for a in fresh[start:stop]] == whole[start:stop], (start, stop)
    pages = Paginator(accounts_ranked_by_total(accounts=accounts_filtered(kind=AccountKind.USER)), 4)
    assert [[a.user_id for a in pages.page(n).object_list] for n in pages.page_range] == [
        whole[0:4], whole[4:8], whole[8:10]]


def test_two_keys_of_one_account_changed_at_once_leave_the_right_summary(postgres, transactional_db, book):
    # Each change locks only its own key's row; the later one must still see the earlier one's
    # status (the summary row's lock, and here also the audit chain's, put them in turn).
    bob = _account("bob")
    keys = list(BrokerCredential.objects.filter(account=bob).order_by("pk"))
    errors = run_at_once([
        lambda key=key: credential_status_set(actor="test", credential=key, status=BrokerCredential.Status.DISABLED)
        for key in keys])
    assert errors == []
    assert _stored(bob) == _computed(bob) == {"total_usd": None, "venues": {}, "unavailable": []}
