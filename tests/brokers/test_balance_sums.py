"""The balance sums the database computes (balance_totals, balance_users_summary, balances_unavailable)
give exactly what the row-by-row reading (balances_all, balance_summary) gives, on a book with every
case: a failed key next to a good one at one venue, a venue failed before any good reading, a second
venue, an asset without a price, an unverified key, an inactive account, a MASTER. Unavailable venues
stay unavailable (listed, never counted, never zero)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.choices import AccountStatus
from accounts.models import Account
from brokers.api.serializers import UserBalanceListField, UserBalanceSerializer
from brokers.models import BalanceSnapshot, BrokerCredential
from brokers.paper_venue import paper_behaviour_set, paper_price_set
from brokers.selectors import (
    balance_summary,
    balance_totals,
    balance_users_summary,
    balances_all,
    balances_unavailable,
)
from brokers.services import account_balance_totals_refresh, balance_audit_run


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
