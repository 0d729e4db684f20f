from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from reporting.services import ledger_import_csv, price_point_record
from tests.brokers.conftest import _fresh_client_cache, paper_credential  # noqa: F401 - fixtures shared here

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"


def ledger_csv(trades: int, *, day: dt.date) -> str:
    """A deposit, then `trades` round trips of BTC against USD on `day` (UTC): buys at 50,000 and
    sells at 51,000 or 49,000 in turn (wins and losses), 1 USD fee each."""
    t0 = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    lines = [f"{t0.isoformat()},deposit,paper,USD,100000,,,,,d-1"]
    for i in range(trades):
        buy_at = t0 + dt.timedelta(seconds=10 + 20 * i)
        sell_price = 51000 if i % 2 == 0 else 49000
        lines.append(f"{buy_at.isoformat()},trade,paper,BTC,0.01,USD,-500,USD,1,b-{i}")
        lines.append(f"{(buy_at + dt.timedelta(seconds=10)).isoformat()},trade,paper,BTC,-0.01,USD,"
                     f"{sell_price / 100:.2f},USD,1,s-{i}")
    return HEADER + "\n".join(lines) + "\n"


@pytest.fixture
def investor(make_account):
    """An investor signed in through a real portal login, with a ledger today and a BTC price."""

    def make(user_id: str = "daivon_frazier", *, trades: int = 3, day: dt.date | None = None, **kwargs):
        day = day or dt.datetime.now(dt.UTC).date()
        account = make_account(user_id, **kwargs)
        user = User.objects.create_user(f"{user_id}_login", password="pw-portal-test")
        account.portal_user = user
        account.save(update_fields=["portal_user"])
        ledger_import_csv(actor="test", account=account, text=ledger_csv(trades, day=day))
        price_point_record(asset="BTC", price=Decimal("50000"),
                           observed_at=dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC))
        return account, user

    return make
