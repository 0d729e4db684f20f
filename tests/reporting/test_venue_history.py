"""Venue history through the real PAPER client: trades placed at the venue land in the ledger once."""

import secrets
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from brokers.clients.base import OrderRequest
from brokers.clients.registry import client_cache_clear, client_for
from brokers.paper_venue import paper_fund
from brokers.services import credential_add
from reporting.models import LedgerEntry


@pytest.fixture(autouse=True)
def _fresh_client_cache():
    client_cache_clear()
    yield
    client_cache_clear()


def test_import_venue_history_from_paper(make_account):
    account = make_account("daivon_frazier")
    with pytest.raises(CommandError, match="no active venue credential"):
        call_command("import_venue_history", "daivon_frazier", stdout=StringIO())
    credential = credential_add(actor="test", account=account, venue="paper", api_key=f"paper-{secrets.token_hex(8)}",
                                api_secret=secrets.token_hex(16))
    paper_fund(credential=credential, asset="USD", amount=D("10000"))
    client = client_for(credential)
    client.create_order(OrderRequest(symbol="BTC/USD", side="buy", order_type="market", amount=D("0.01"),
                                     client_order_id="bench-1"))
    out = StringIO()
    call_command("import_venue_history", "daivon_frazier", stdout=out)
    assert "paper: imported 1 trades" in out.getvalue()
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.kind, entry.asset, entry.amount, entry.counter_asset, entry.source) == (
        "trade", "BTC", D("0.01"), "USD", "venue")
    assert entry.counter_amount < 0
    call_command("import_venue_history", "daivon_frazier", stdout=out)
    assert LedgerEntry.objects.filter(account=account).count() == 1
