"""Staff see the compliance check on the dashboard, in the findings list (filters, acknowledge and
resolve for operators) and on the account's page; fixed query counts for the list and the dashboard."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.models import AuditEvent
from operations.models import ComplianceFinding, ComplianceRun, FindingKind
from operations.services import compliance_run_execute
from tests.bulk import book_bulk_create
from tests.e2e.conftest import staff_member

pytestmark = pytest.mark.django_db
LIST = "/admin/operations/compliancefinding/"


def staff(client, name: str, group: str):
    client.force_login(staff_member(name, "pw-findings", group=group))
    return client


def bulk_findings(account_ids: list[int], *, prefix: str) -> ComplianceRun:
    now = timezone.now()
    run = ComplianceRun.objects.create(started_at=now, finished_at=now, triggered_by="test",
                                       findings_seen=len(account_ids), counts={"pending_too_long": len(account_ids)})
    ComplianceFinding.objects.bulk_create([
        ComplianceFinding(key=f"{prefix}:{pk}", kind=FindingKind.PENDING_TOO_LONG, account_id=pk,
                          summary=f"PENDING since 2026-01-0{pk % 9 + 1}", first_seen_at=now, last_seen_at=now,
                          first_run=run, last_run=run, facts={"threshold_days": 7})
        for pk in account_ids])
    return run


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_dashboard_shows_the_last_run_and_open_findings_with_a_link(client, make_account):
    viewer = staff(client, "vera", "viewer")
    assert "never run" in viewer.get("/admin/users/").content.decode()
    make_account("no_key_ada")
    compliance_run_execute()
    html = viewer.get("/admin/users/").content.decode()
    assert re.search(r"Daily check \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+s ago\): 2 found, 2 new, 0 resolved", html)
    assert f'href="{LIST}?status__exact=open"' in html and "2 open findings" in html
    assert "credential_missing 1" in html and "audit_chain_unverified 1" in html


def test_dashboard_queries_do_not_grow_with_runs_and_findings(client):
    viewer = staff(client, "vera", "viewer")
    bulk_findings(book_bulk_create(accounts=5, prefix="small"), prefix="small")
    queries(viewer, "/admin/users/")
    small = queries(viewer, "/admin/users/")
    for n in range(4):
        bulk_findings(book_bulk_create(accounts=30, prefix=f"large{n}"), prefix=f"large{n}")
    assert queries(viewer, "/admin/users/") == small


def test_the_findings_list_filters_and_its_queries_do_not_grow(client):
    viewer = staff(client, "vera", "viewer")
    bulk_findings(book_bulk_create(accounts=5, prefix="small"), prefix="small")
    queries(viewer, LIST)
    small = queries(viewer, LIST)
    bulk_findings(book_bulk_create(accounts=150, prefix="large"), prefix="large")
    assert queries(viewer, LIST) == small
    page = viewer.get(LIST + "?status__exact=open&kind__exact=pending_too_long").content.decode()
    assert "155 compliance findings" in page
    assert "0 compliance findings" in viewer.get(LIST + "?status__exact=acknowledged").content.decode()
    assert "acknowledge_findings" not in page  # a viewer has no triage actions


def test_an_operator_acknowledges_with_a_note_then_resolves_in_the_admin(client, make_account):
    operator = staff(client, "otto", "operator")
    account = make_account("no_key_bea")
    compliance_run_execute()
    finding = ComplianceFinding.objects.get(kind=FindingKind.CREDENTIAL_MISSING)
    ask = operator.post(LIST, {"action": "acknowledge_findings", "_selected_action": [finding.pk]})
    assert "Reason (required)" in ask.content.decode()
    blank = operator.post(LIST, {"action": "acknowledge_findings", "_selected_action": [finding.pk], "apply": "1",
                                 "reason": ""})
    assert "A reason is required" in blank.content.decode()
    operator.post(LIST, {"action": "acknowledge_findings", "_selected_action": [finding.pk], "apply": "1",
                         "reason": "investor sends the key today"})
    finding.refresh_from_db()
    assert (finding.status, finding.acknowledged_by, finding.acknowledged_note) == (
        "acknowledged", "otto", "investor sends the key today")
    page = operator.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    assert "Compliance findings" in page and "ACTIVE without a usable credential" in page and "Acknowledged" in page
    operator.post(LIST, {"action": "resolve_findings", "_selected_action": [finding.pk], "apply": "1",
                         "reason": "key added"})
    finding.refresh_from_db()
    assert finding.status == "resolved" and finding.resolved_by == "otto"
    assert AuditEvent.objects.filter(target_type="compliance_finding", actor="otto").count() == 2
    page = operator.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    assert "No open compliance findings." in page


def test_a_viewer_cannot_acknowledge(client, make_account):
    viewer = staff(client, "vera", "viewer")
    make_account("no_key_cal")
    compliance_run_execute(now=timezone.now() - dt.timedelta(minutes=1))
    finding = ComplianceFinding.objects.get(kind=FindingKind.CREDENTIAL_MISSING)
    viewer.post(LIST, {"action": "acknowledge_findings", "_selected_action": [finding.pk], "apply": "1",
                       "reason": "not mine to do"})
    finding.refresh_from_db()
    assert finding.status == "open"
