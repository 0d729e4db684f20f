"""A book of many accounts written with bulk inserts, for query-count tests and bench/api.py: the
setup is not what they measure, so it skips the per-row services (which the other tests cover),
then keeps the derived rows the services would have kept (the stored balance summaries)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, RiskProfile
from brokers import crypto
from brokers.models import Alert, BalanceSnapshot, BrokerCredential
from brokers.services import account_balance_totals_refresh
from compliance.services import audit_event_record
from copytrading.models import CopyOrder, MasterSignal, SkipReason
from reporting.models import ReconciliationBreak

TIERS = list(Account.Tier.values)


def book_bulk_create(*, accounts: int, prefix: str = "bulk", unavailable_every: int = 0) -> list[int]:
    """`accounts` ACTIVE USER accounts, each with a PAPER credential whose latest good reading holds
    USD and BTC; every `unavailable_every`-th account's latest fetch failed (its venue unavailable,
    with that last good reading). Returns the account ids."""
    now = timezone.now()
    earlier = now - dt.timedelta(minutes=10)
    with transaction.atomic():
        Account.objects.bulk_create([
            Account(user_id=f"{prefix}_{n:05d}", full_name=f"{prefix.title()} User {n}",
                    email=f"{prefix}{n}@example.com",
                    status=Account.Status.ACTIVE, trading_enabled=True, tier=TIERS[n % len(TIERS)],
                    account_type=Account.AccountType.INVESTOR if n % 3 == 0 else Account.AccountType.RETAIL)
            for n in range(accounts)
        ])
        rows = list(Account.objects.filter(user_id__startswith=f"{prefix}_").order_by("pk"))
        RiskProfile.objects.bulk_create([RiskProfile(account=a, max_position_notional=Decimal("1000")) for a in rows])
        key, secret = crypto.encrypt(f"{prefix}-bulk-key-0000"), crypto.encrypt(f"{prefix}-bulk-secret")
        BrokerCredential.objects.bulk_create([
            BrokerCredential(account=a, venue="paper", is_paper=True, api_key_encrypted=key,
                             api_secret_encrypted=secret, hint="0000") for a in rows
        ])
        credentials = {c.account_id: c for c in BrokerCredential.objects.filter(account__in=rows)}
        snapshots = []
        for n, account in enumerate(rows):
            credential = credentials[account.pk]
            failed = bool(unavailable_every) and n % unavailable_every == 0
            usd = Decimal(1000 + n)
            for asset, total, value in (("USD", usd, usd), ("BTC", Decimal("0.01"), Decimal("500"))):
                snapshots.append(BalanceSnapshot(
                    account=account, credential=credential, venue="paper", asset=asset, free=total, total=total,
                    usd_value=value, fetched_at=earlier if failed else now, is_latest=not failed, is_latest_ok=True))
            if failed:
                snapshots.append(BalanceSnapshot(
                    account=account, credential=credential, venue="paper", fetched_at=now,
                    status=BalanceSnapshot.Status.FAILED, error="RateLimitedError: slow down", is_latest=True))
        BalanceSnapshot.objects.bulk_create(snapshots)
        account_balance_totals_refresh(account_ids=[a.pk for a in rows])
    return [a.pk for a in rows]


def activity_bulk_create(*, account_ids: list[int], prefix: str = "bulk") -> None:
    """For each account: one master signal copied to it (odd accounts FILLED, even ones SKIPPED
    below the exchange minimum), one open BALANCE_LOW alert, one open reconciliation break on BTC,
    and one audit event (through the audit service, so the chain stays valid)."""
    now = timezone.now()
    with transaction.atomic():
        MasterSignal.objects.bulk_create([
            MasterSignal(source=MasterSignal.Source.MANUAL, source_id=f"{prefix}-{n}", venue="paper", symbol="BTC/USD",
                         side=MasterSignal.Side.BUY, amount=Decimal("0.01"), price=Decimal("50000"), executed_at=now,
                         mode="OBSERVE", status=MasterSignal.Status.COMPLETED, planned_at=now)
            for n in range(len(account_ids))
        ])
        signals = list(MasterSignal.objects.filter(source_id__startswith=f"{prefix}-").order_by("pk"))
        orders = []
        for n, (signal, account_id) in enumerate(zip(signals, account_ids, strict=True)):
            filled = n % 2 == 1
            orders.append(CopyOrder(
                signal=signal, account_id=account_id, venue="paper", symbol="BTC/USD", side="buy",
                quantity=Decimal("0.002"), notional=Decimal("100"), client_order_id=f"{prefix}-{n}-copy",
                status=CopyOrder.Status.FILLED if filled else CopyOrder.Status.SKIPPED,
                reason="" if filled else SkipReason.BELOW_EXCHANGE_MINIMUM,
                filled_quantity=Decimal("0.002") if filled else None,
                average_price=Decimal("50000") if filled else None,
                cost=Decimal("100") if filled else None))
        CopyOrder.objects.bulk_create(orders)
        Alert.objects.bulk_create([
            Alert(account_id=a, kind=Alert.Kind.BALANCE_LOW, message="balance below $50.00", last_seen_at=now)
            for a in account_ids
        ])
        ReconciliationBreak.objects.bulk_create([
            ReconciliationBreak(account_id=a, venue="paper", asset="BTC", ledger_quantity=Decimal("0.02"),
                                venue_quantity=Decimal("0.01"), difference=Decimal("-0.01"),
                                difference_usd=Decimal("-500"), snapshot_at=now, first_seen_at=now, last_seen_at=now)
            for a in account_ids
        ])
        for account_id in account_ids:
            audit_event_record(actor="test", action="BULK_SETUP", target_type="account", target_id=str(account_id))
