"""The investor endpoints' typed output serializers change nothing: each answer is exactly the
presented figures of its selector (every key kept, every string as present_json makes it)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from core.presenters import present_json
from reporting.reports import report_data
from reporting.selectors import AccountBooks, fee_statement, positions_view, tax_report, transactions_export
from reporting.services import ledger_import_csv, tax_year_close

CSV = ("occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
       "2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n"
       "2026-01-05T10:00:00Z,trade,paper,BTC,0.3,USD,-10000.00,USD,5,t-1\n"
       "2026-01-06T10:00:00Z,trade,paper,BTC,-0.1,USD,3600.017,BTC,0.000012345678,t-2\n"
       "2026-01-07T10:00:00Z,trade,paper,BTC,-0.05,USD,1700,USD,1,t-3\n")


@pytest.fixture
def investor(client, make_account):
    account = make_account("daivon_frazier")
    ledger_import_csv(actor="test", account=account, text=CSV)
    user = User.objects.create_user("daivon", password="pw-investor-api")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    client.force_login(user)
    return account


def _same(client, url: str, expected) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response.json() == json.loads(json.dumps(present_json(expected)))


def test_transactions_positions_tax_and_fees_are_the_presented_figures(client, investor):
    _same(client, "/api/v1/accounts/me/transactions", transactions_export(account=investor))
    positions = positions_view(books=AccountBooks(account=investor, method="fifo"))
    assert positions
    _same(client, "/api/v1/accounts/me/positions", {"user_id": investor.user_id, "currency": "USD",
                                                      "positions": positions})
    tax = tax_report(account=investor, year=2026)
    assert len(tax["disposals"]) == 2
    _same(client, "/api/v1/accounts/me/tax?year=2026", tax)
    today = timezone.now().date()
    _same(client, f"/api/v1/accounts/me/fees?from=2026-01-01&to={today}",
          fee_statement(account=investor, start=dt.date(2026, 1, 1), end=today))


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_performance_is_the_presented_report_figures(client, investor, period):
    data = report_data(account=investor, period=period, day=dt.date(2026, 1, 8))
    data.pop("journal", None)
    data["metrics"].pop("daily_returns", None)
    _same(client, f"/api/v1/accounts/me/performance?period={period}&date=2026-01-08", data)


def test_a_closed_tax_year_is_the_presented_filed_report(client, investor):
    tax_year_close(actor="staff", account=investor, year=2026, method="fifo", reason="filed",
                   today=dt.date(2027, 2, 1))
    ledger_import_csv(actor="test", account=investor, text=CSV.splitlines()[0] + "\n"
                      "2026-01-08T10:00:00Z,trade,paper,BTC,-0.05,USD,1800,USD,1,t-4\n")  # a late fill
    tax = tax_report(account=investor, year=2026)
    assert tax["closed"] and tax["differences"] and tax["warnings"]
    _same(client, "/api/v1/accounts/me/tax?year=2026", tax)
