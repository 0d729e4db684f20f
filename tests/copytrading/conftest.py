"""Copy engine fixtures: followers with a PAPER credential, funded at the venue, and a balance
snapshot saying what they hold (what the balance audit would have stored)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from brokers.clients.markets import markets_cache_clear
from brokers.models import BalanceSnapshot, BrokerCredential
from brokers.paper_venue import paper_fund, paper_price_get
from brokers.services import credential_add
from copytrading.services import engine_mode_set, signal_receive

SECRET = "test-signal-secret"


@dataclass
class World:
    make_account: object

    def credential(self, account) -> BrokerCredential:
        return credential_add(actor="test", account=account, venue="paper", api_key=f"pk-{account.user_id}",
                              api_secret="paper-secret", verify=False)

    def snapshot(self, account, credential, *, fetched_at: dt.datetime | None = None, **assets: str) -> None:
        """Store one OK fetch: USD at face value, other assets at the PAPER price of ASSET/USD."""
        fetched_at = fetched_at or timezone.now()
        # Flag the rows as the balance audit does: the newest fetch of a credential is its latest
        # (good) reading and takes the flags from the rows before it; an older fetch is history.
        newest = (BalanceSnapshot.objects.filter(credential=credential).order_by("-fetched_at")
                  .values_list("fetched_at", flat=True).first())
        is_newest = newest is None or fetched_at >= newest
        if is_newest:
            BalanceSnapshot.objects.filter(credential=credential).update(is_latest=False, is_latest_ok=False)
        flags = {"is_latest": is_newest, "is_latest_ok": is_newest}
        for asset, amount in assets.items():
            qty = Decimal(amount)
            usd = qty if asset == "USD" else qty * paper_price_get(symbol=f"{asset}/USD")
            BalanceSnapshot.objects.create(account=account, credential=credential, venue=credential.venue,
                                           asset=asset, free=qty, used=Decimal("0"), total=qty, usd_value=usd,
                                           fetched_at=fetched_at, **flags)

    def account(self, user_id: str, *, master: bool = False, fund: bool = True, snapshot_at=None,
                risk: dict | None = None, **assets: str):
        assets = assets or {"USD": "5000"}
        account = self.make_account(user_id, master=master, risk_tolerance="MEDIUM",
                                    risk_overrides={"stop_loss_required": False, **(risk or {})})
        cred = self.credential(account)
        if fund:
            for asset, amount in assets.items():
                paper_fund(credential=cred, asset=asset, amount=amount)
        self.snapshot(account, cred, fetched_at=snapshot_at, **assets)
        return account, cred


@pytest.fixture(autouse=True)
def _copy_settings(settings):
    settings.NIJA_SIGNAL_SECRET = SECRET
    markets_cache_clear()
    from brokers.clients.registry import client_cache_clear

    client_cache_clear()
    yield
    client_cache_clear()


@pytest.fixture
def world(db, make_account) -> World:
    return World(make_account=make_account)


@pytest.fixture
def live(db):
    engine_mode_set(actor="test", mode="live", reason="test goes live", confirm_live=True)


@pytest.fixture
def receive(django_capture_on_commit_callbacks):
    """Receive a signal and run what it queued on commit (Celery is eager in tests)."""
    def run(**overrides):
        with django_capture_on_commit_callbacks(execute=True):
            return signal_receive(source="manual", data=signal_data(**overrides))
    return run


def signal_data(**overrides) -> dict:
    data = {"source_id": "m-123", "venue": "paper", "symbol": "BTC/USD", "side": "buy", "amount": "0.1",
            "price": "50000", "order_type": "market", "master_order_id": "O-1",
            "executed_at": timezone.now().isoformat()}
    data.update(overrides)
    return data
