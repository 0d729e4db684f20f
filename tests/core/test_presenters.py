"""Money and quantities at the edge (issue 10 §1.8): JSON from the API and from commands carries money
quantized to the currency's minor unit and quantities to the asset's precision; inside, full precision."""

import datetime as dt
import json
from decimal import Decimal as D
from io import StringIO

from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from core.presenters import money_text, present_json, price_text, quantity_text
from reporting.services import ledger_import_csv

CSV = ("occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
       "2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n"
       "2026-01-05T10:00:00Z,trade,paper,BTC,0.3,USD,-10000.00,USD,5,t-1\n"
       "2026-01-06T10:00:00Z,trade,paper,BTC,-0.1,USD,3600.017,BTC,0.000012345678,t-2\n")

LONG = D("4800.735020441284589830699774")


def test_money_quantities_and_prices_each_to_their_unit():
    assert money_text(LONG) == "4800.74" and money_text(D("-0.005")) == "-0.00" and money_text(D("2.5")) == "2.50"
    assert money_text(D("1234.5"), "JPY") == "1234"
    assert quantity_text(D("0.499500000000000000"), "BTC") == "0.4995"
    assert quantity_text(D("0.123456789"), "BTC") == "0.12345679" and quantity_text(D("3"), "SOL") == "3"
    assert quantity_text(D("1.000000000000000001"), "ETH") == "1.000000000000000001"
    assert price_text(D("103050")) == "103050.00" and price_text(D("0.000012344999")) == "0.00001234"


def test_present_json_reads_the_unit_from_the_output_and_leaves_ratios_exact():
    data = {
        "currency": "USD", "total": LONG, "win_rate": D(2) / D(3), "count": 3, "when": dt.date(2026, 1, 5),
        "by_kind": {"trading": D("11.005"), "venue": D("1.5")},
        "rows": [{"asset": "BTC", "quantity": D("0.123456789"), "proceeds": LONG, "avg_cost": D("33333.3333333333")}],
        "transactions": [{"balance_asset": "USDT", "amount": D("-10.1234567"), "fee_asset": "BTC",
                          "fee": D("0.000012345678"), "price": None}],
        "stored": {"pnl": "4800.735020441284589830699774"},  # a stored report's strings are presented too
    }
    out = present_json(data)
    assert out["total"] == "4800.74" and out["win_rate"] == format(D(2) / D(3), "f") and out["count"] == 3
    assert out["when"] == "2026-01-05" and out["by_kind"] == {"trading": "11.00", "venue": "1.50"}
    assert out["rows"] == [{"asset": "BTC", "quantity": "0.12345679", "proceeds": "4800.74",
                            "avg_cost": "33333.33333333"}]
    assert out["transactions"] == [{"balance_asset": "USDT", "amount": "-10.123457", "fee_asset": "BTC",
                                    "fee": "0.00001235", "price": None}]
    assert out["stored"] == {"pnl": "4800.74"}
    # Without a currency, numbers of unknown unit are left exactly as they are.
    assert present_json({"amount": LONG}) == {"amount": format(LONG, "f")}


def test_api_and_commands_present_money_in_cents(client, make_account):
    account = make_account("daivon_frazier")
    ledger_import_csv(actor="test", account=account, text=CSV)
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename="view_report"))
    client.force_login(staff)
    perf = client.get("/api/v1/accounts/daivon_frazier/performance?period=weekly&date=2026-01-08").json()
    assert perf["metrics"]["total_fees"] == "5.44"  # 5 + 0.000012345678 BTC at 36,000.17 = 0.444...
    positions = client.get("/api/v1/accounts/daivon_frazier/positions").json()["positions"]
    assert positions[0]["quantity"] == "0.19998765" and positions[0]["cost_basis"] == "6669.59"
    tax = client.get("/api/v1/accounts/daivon_frazier/tax?year=2026").json()
    [sale] = tax["disposals"]
    assert (sale["quantity"], sale["proceeds"], sale["cost_basis"]) == ("0.10001235", "3600.02", "3335.41")
    transactions = client.get("/api/v1/accounts/daivon_frazier/transactions").json()["transactions"]
    assert [(t["amount"], t["fee"]) for t in transactions] == [
        ("10000.00", None), ("-10005.00", "5.00"), ("3600.02", "0.00001235")]
    out = StringIO()
    call_command("tax_report", "daivon_frazier", "--year", "2026", "--json", stdout=out)
    assert json.loads(out.getvalue())["disposals"][0]["gain"] == sale["gain"]
    assert sale["gain"] == "264.61"
