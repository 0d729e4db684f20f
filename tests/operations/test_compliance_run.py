"""The compliance run: findings are the same rows day after day, resolved by the system (audited)
when no longer seen, acknowledged or resolved by staff with a note; the command and the beat task."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command

from compliance.models import AuditEvent, Communication
from copytrading.models import CopyOrder, MasterSignal
from core.errors import ApplicationError
from operations import checks
from operations.models import ComplianceFinding, ComplianceRun, FindingKind
from operations.services import (
    compliance_finding_acknowledge,
    compliance_finding_resolve,
    compliance_run_execute,
)
from operations.tasks import compliance_run_task

DAY1 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
DAY2 = DAY1 + dt.timedelta(days=1)


def missing_key_findings() -> list[ComplianceFinding]:
    return list(ComplianceFinding.objects.filter(kind=FindingKind.CREDENTIAL_MISSING).order_by("pk"))


def test_a_finding_seen_again_the_next_day_is_the_same_finding(make_account):
    account = make_account("no_key_pat")
    first = compliance_run_execute(now=DAY1)
    second = compliance_run_execute(now=DAY2)
    [finding] = missing_key_findings()
    assert finding.account == account and finding.status == "open"
    assert (finding.first_seen_at, finding.last_seen_at, finding.times_seen) == (DAY1, DAY2, 2)
    assert (finding.first_run, finding.last_run) == (first, second)
    assert (first.findings_new, second.findings_new) == (2, 0)  # + the audit chain never verified
    assert second.counts == {FindingKind.AUDIT_CHAIN_UNVERIFIED: 1, FindingKind.CREDENTIAL_MISSING: 1}
    assert second.finished_at is not None and second.failed_checks == 0


def test_a_finding_no_longer_seen_is_resolved_by_the_system_with_an_audit_event(make_account, world):
    account = make_account("fixed_quin")
    compliance_run_execute(now=DAY1)
    world.credential(account)  # staff added the key
    run = compliance_run_execute(now=DAY2)
    [finding] = missing_key_findings()
    assert finding.status == "resolved" and finding.resolved_by == "system:compliance_check"
    assert finding.resolution_note == f"no longer found by the daily compliance run #{run.pk}"
    assert run.findings_resolved == 1
    event = AuditEvent.objects.get(action="COMPLIANCE_FINDING_RESOLVE", target_id=str(finding.pk))
    assert event.before["status"] == "open" and event.after["status"] == "resolved"


def test_failed_copy_orders_stay_open_until_staff_resolve_them(make_account):
    account = make_account("copier_rae")
    signal = MasterSignal.objects.create(source="manual", source_id="s-1", venue="paper", symbol="BTC/USD",
                                         side="buy", amount="0.1", price="50000", executed_at=DAY1,
                                         received_at=DAY1 - dt.timedelta(hours=1), mode="live", status="COMPLETED")
    CopyOrder.objects.create(signal=signal, account=account, symbol="BTC/USD", side="buy", client_order_id="c-1",
                             status="FAILED")
    compliance_run_execute(now=DAY1)
    compliance_run_execute(now=DAY1 + dt.timedelta(days=5))  # the signal left the look-back window
    finding = ComplianceFinding.objects.get(kind=FindingKind.COPY_ORDERS_FAILED)
    assert finding.status == "open" and finding.times_seen == 1


def test_a_check_that_fails_is_recorded_and_its_findings_are_not_resolved(make_account, monkeypatch):
    make_account("no_key_sam")
    compliance_run_execute(now=DAY1)

    def broken(*, now):
        raise RuntimeError("database went away")

    daily = tuple(checks.Check(c.name, broken, c.kinds, c.description) if c.name == "credentials" else c
                  for c in checks.CHECKS["daily"])
    monkeypatch.setitem(checks.CHECKS, "daily", daily)
    run = compliance_run_execute(now=DAY2)
    assert run.failed_checks == 1
    assert run.summary["credentials"] == {"findings": None, "error": "RuntimeError: database went away"}
    assert [f.status for f in missing_key_findings()] == ["open"]
    with pytest.raises(CommandError, match="credentials: RuntimeError: database went away"):
        call_command("daily_user_check", stdout=StringIO())


def test_staff_acknowledge_with_a_note_then_resolve_and_both_are_audited(make_account, django_user_model):
    make_account("no_key_tom")
    compliance_run_execute(now=DAY1)
    [finding] = missing_key_findings()
    operator = django_user_model.objects.create_user("olga", is_staff=True)
    with pytest.raises(ApplicationError, match="a reason is required"):
        compliance_finding_acknowledge(actor=operator, finding=finding, reason="  ")
    finding = compliance_finding_acknowledge(actor=operator, finding=finding, reason="called him, key on Monday")
    assert (finding.status, finding.acknowledged_by, finding.acknowledged_note) == (
        "acknowledged", "olga", "called him, key on Monday")
    compliance_run_execute(now=DAY2)  # still there: stays acknowledged, seen again
    finding.refresh_from_db()
    assert (finding.status, finding.times_seen) == ("acknowledged", 2)
    with pytest.raises(ApplicationError, match="not open"):
        compliance_finding_acknowledge(actor=operator, finding=finding, reason="again")
    compliance_finding_resolve(actor=operator, finding=finding, reason="key promised, tracked in the log")
    assert list(AuditEvent.objects.filter(target_type="compliance_finding").values_list("action", flat=True)) == [
        "COMPLIANCE_FINDING_ACKNOWLEDGE", "COMPLIANCE_FINDING_RESOLVE"]
    # The condition is still there: the next run opens a new finding for it.
    compliance_run_execute(now=DAY2 + dt.timedelta(days=1))
    assert [f.status for f in missing_key_findings()] == ["resolved", "open"]


def test_the_command_prints_the_run_and_its_findings_and_json_for_programs(make_account):
    make_account("no_key_uma")
    out = StringIO()
    call_command("daily_user_check", stdout=out)
    text = out.getvalue()
    assert "Daily check #" in text and "2 finding(s) seen, 2 new" in text and "no_key_uma" in text
    out = StringIO()
    call_command("daily_user_check", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["kind"] == "daily" and data["findings_new"] == 0 and data["findings_seen"] == 2
    assert data["checks"]["credentials"] == {"findings": 1, "error": ""}
    [missing] = [f for f in data["findings"] if f["kind"] == "credential_missing"]
    assert missing["account"] == "no_key_uma" and missing["times_seen"] == 2


def test_the_weekly_review_runs_only_the_pattern_checks(db):
    out = StringIO()
    call_command("daily_user_check", "--weekly", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["kind"] == "weekly" and list(data["checks"]) == ["patterns"]


def test_beat_runs_the_daily_check_after_the_reports_and_the_weekly_review_on_mondays(db):
    schedule = settings.CELERY_BEAT_SCHEDULE
    daily, weekly = schedule["operations-daily-compliance-check"], schedule["operations-weekly-compliance-review"]
    assert daily["args"] == ("daily",) and weekly["args"] == ("weekly",)
    assert daily["schedule"].hour == {1} and schedule["reporting-reconcile-books"]["schedule"].hour == {0}
    assert weekly["schedule"].day_of_week == {1}
    assert compliance_run_task.soft_time_limit < compliance_run_task.time_limit
    result = compliance_run_task.delay("daily").get()
    assert result["kind"] == "daily" and ComplianceRun.objects.count() == 1
    assert compliance_run_task.delay("monthly").get() == {"error": "kind must be one of daily, weekly"}


def test_the_demo_shows_open_compliance_findings_from_a_real_run_and_seeds_once(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "operations.demo.demo_operations_seed: seeded" in out.getvalue()
    [run] = ComplianceRun.objects.all()
    assert run.triggered_by == "system:demo" and run.failed_checks == 0
    assert ComplianceFinding.objects.filter(status="open").count() >= 1
    assert not ComplianceFinding.objects.filter(kind__startswith="audit_chain").exists()  # verified first
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "nothing changed" in out.getvalue() and ComplianceRun.objects.count() == 1


def test_the_run_summary_goes_to_staff_once_a_day_through_the_communication_log(
        make_account, settings, django_capture_on_commit_callbacks):
    settings.NIJA_STAFF_ALERT_EMAILS = ["compliance@example.com"]
    make_account("no_key_vic")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = compliance_run_execute(now=DAY1)
    with django_capture_on_commit_callbacks(execute=True):
        again = compliance_run_execute(now=DAY1 + dt.timedelta(hours=2))  # the same day: no second e-mail
    [message] = Communication.objects.filter(kind="compliance_run")
    assert message.account is None and message.period == "daily-2026-03-02" and message.status == "sent"
    assert run.communication_ids == [message.pk] and again.communication_ids == []
    [sent] = mail.outbox
    assert sent.to == ["compliance@example.com"]
    assert sent.subject == "NIJA daily check 2026-03-02: 2 findings, 2 new"
    assert "credential_missing no_key_vic: ACTIVE without a usable credential (no credential at all)" in sent.body
    assert "/admin/operations/compliancefinding/?status__exact=open" in sent.body
    html, _ = sent.alternatives[0]
    assert "no_key_vic" in html and "credential_missing" in html
