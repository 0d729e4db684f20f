"""Investor API and portal: an investor sees only their own account; staff with the permission see all."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User

from reporting.services import ledger_import_csv, report_generate

CSV = ("occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
       "2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n"
       "2026-01-05T10:00:00Z,trade,paper,BTC,0.1,USD,-5000,USD,5,t-1\n")


@pytest.fixture
def investor(make_account):
    user = User.objects.create_user("daivon", password="pw")
    account = make_account("daivon_frazier")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    ledger_import_csv(actor="test", account=account, text=CSV)
    make_account("tania_gilbert")
    return user, account


def test_investor_reads_own_account_only(client, investor):
    user, account = investor
    client.force_login(user)
    response = client.get("/api/v1/accounts/me/transactions")
    assert response.status_code == 200 and response.json()["user_id"] == "daivon_frazier"
    assert client.get("/api/v1/accounts/daivon_frazier/positions").json()["positions"][0]["asset"] == "BTC"
    perf = client.get("/api/v1/accounts/me/performance?period=weekly&date=2026-01-08").json()
    assert perf["metrics"]["trades"]["count"] == 0 and perf["metrics"]["trades"]["win_rate"] is None
    assert perf["metrics"]["total_pnl"] == "-5.00"  # the buy fee, as a string in cents
    assert client.get("/api/v1/accounts/tania_gilbert/transactions").status_code == 404
    assert client.get("/api/v1/accounts/me/performance?period=yearly").json()["error"]["code"] == "invalid"
    report = report_generate(account=account, period="daily", day=dt.date(2026, 1, 5))
    assert client.get(f"/api/v1/accounts/me/reports/{report.pk}").json()["text"].startswith("User: ")
    page = client.get("/portal/")
    assert page.status_code == 200 and b"daivon_frazier" in page.content
    assert client.get(f"/portal/reports/{report.pk}/").status_code == 200
    assert client.get("/portal/?user_id=tania_gilbert").status_code == 404


def test_anonymous_is_refused_and_staff_see_all(client, investor):
    _, account = investor
    assert client.get("/api/v1/accounts/daivon_frazier/transactions").status_code in (401, 403)
    assert client.get("/portal/").status_code == 302
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="reporting", codename="view_report"))
    client.force_login(staff)
    assert client.get("/api/v1/accounts/daivon_frazier/tax?year=2026").status_code == 200
    assert client.get("/portal/?user_id=daivon_frazier").status_code == 200
