import datetime as dt
from decimal import Decimal as D

from django.contrib.auth.models import Permission, User

from compliance.models import AuditEvent
from reporting.models import LedgerEntry
from reporting.services import report_generate


def staff(perms=()):
    user = User.objects.create_user("op", password="pw", is_staff=True)
    codes = ["view_ledgerentry", "view_report", *perms]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="reporting", codename__in=codes))
    return user


def test_staff_records_manual_entry_in_admin_with_reason(client, make_account):
    account = make_account()
    client.force_login(staff(["add_ledgerentry"]))
    form = {"account": account.pk, "kind": "deposit", "venue": "paper", "asset": "USD", "amount": "100",
            "occurred_at_0": "2026-01-02", "occurred_at_1": "10:00:00", "counter_asset": "", "fee_asset": "",
            "external_id": "", "reason": "wire 2026-01-02 received"}
    response = client.post("/admin/reporting/ledgerentry/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = LedgerEntry.objects.get()
    assert entry.source == "manual" and entry.amount == D("100") and entry.note == "wire 2026-01-02 received"
    assert AuditEvent.objects.filter(action="ledger.manual_entry").exists()
    # invalid: a withdrawal with a positive amount writes nothing and says why
    bad = {**form, "kind": "withdrawal"}
    response = client.post("/admin/reporting/ledgerentry/add/", bad)
    assert response.status_code == 200 and b"negative amount" in response.content
    assert LedgerEntry.objects.count() == 1
    # viewing an entry shows it read-only
    assert client.get(f"/admin/reporting/ledgerentry/{entry.pk}/change/").status_code == 200


def test_ledger_and_reports_are_read_only_without_add_permission(client, make_account):
    account = make_account()
    client.force_login(staff())
    assert client.get("/admin/reporting/ledgerentry/add/").status_code == 403
    assert client.get("/admin/reporting/ledgerentry/").status_code == 200
    LedgerEntry.objects.create(account=account, kind="deposit", venue="paper", asset="USD", amount=D("5"),
                               external_id="d", occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), source="import")
    report = report_generate(account=account, period="daily", day=dt.date(2026, 1, 1))
    page = client.get(f"/admin/reporting/report/{report.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content
    assert f"/portal/reports/{report.pk}/".encode() in page.content
    assert client.get(f"/portal/reports/{report.pk}/").content.startswith(b"<!doctype html>")
