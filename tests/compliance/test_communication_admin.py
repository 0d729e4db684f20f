"""The admin's communication log: type, subject, status and follow-up in the list, filters, staff log
inbound messages and calls and set follow-ups (audited); the account page edits the notification
preferences; the preview page renders every template. Query counts do not grow with the log."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from compliance.models import AuditEvent, Communication
from compliance.services import communication_record
from nija_site.notification_previews import PREVIEWS
from operations.models import ComplianceFinding, ComplianceRun
from operations.services import compliance_run_execute

LOG = "/admin/compliance/communication/"


@pytest.fixture
def staff_client(client, db):
    def login(group: str) -> object:
        user = User.objects.create_user(f"{group}-1", password="pw-123456", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        return client
    return login


def test_log_lists_type_subject_status_and_follow_up(staff_client, make_account):
    account = make_account("a1")
    communication_record(actor="olivia", account=account, kind="call", channel="phone", direction="inbound",
                         subject="Asked about the fee statement", body="Call back with the HWM figures.",
                         follow_up_due=dt.date(2026, 12, 8))
    page = staff_client("viewer").get(LOG).content.decode()
    assert "Asked about the fee statement" in page and "Call" in page and "Recorded" in page
    assert "Dec. 8, 2026" in page or "2026-12-08" in page
    assert "Welcome to NIJA" in page and "System notification" in page  # the trading-on message's type


def test_filters_by_type_status_and_open_follow_up(staff_client, make_account):
    account = make_account("a1")
    communication_record(actor="o", account=account, kind="call", channel="phone", direction="inbound",
                         subject="open follow-up", body="b", follow_up_due=dt.date(2026, 12, 8))
    communication_record(actor="o", account=account, kind="note", channel="internal", subject="plain note", body="b")
    client = staff_client("viewer")
    open_page = client.get(LOG, {"follow_up": "open"}).content.decode()
    assert "open follow-up" in open_page and "plain note" not in open_page
    calls = client.get(LOG, {"category__exact": "call"}).content.decode()
    assert "open follow-up" in calls and "Welcome to NIJA" not in calls
    queued = client.get(LOG, {"status__exact": "queued"}).content.decode()
    assert "Welcome to NIJA" in queued and "open follow-up" not in queued


def test_operator_logs_an_inbound_email_with_a_type_and_a_follow_up(staff_client, make_account):
    account = make_account("a1")
    client = staff_client("operator")
    response = client.post(reverse("admin:compliance_communication_add"), {
        "account": account.pk, "category": "support", "kind": "inbound", "channel": "email",
        "direction": "inbound", "subject": "Cannot sign in", "body": "Locked out since Friday.",
        "follow_up_due": "2026-12-09",
    })
    assert response.status_code == 302
    entry = Communication.objects.get(subject="Cannot sign in")
    assert (entry.category, entry.status, entry.follow_up_due) == ("support", "recorded", dt.date(2026, 12, 9))
    assert entry.created_by == "operator-1" and entry.recipients == []  # inbound: nothing is sent


def test_operator_marks_a_follow_up_done_from_the_list_and_it_is_audited(staff_client, make_account):
    account = make_account("a1")
    entry = communication_record(actor="o", account=account, kind="call", channel="phone", direction="inbound",
                                 subject="Wants a call back", body="b", follow_up_due=dt.date(2026, 12, 8))
    client = staff_client("operator")
    rows = list(Communication.objects.order_by("-created_at", "-pk"))
    data = {"form-TOTAL_FORMS": str(len(rows)), "form-INITIAL_FORMS": str(len(rows)), "_save": "Save"}
    for i, row in enumerate(rows):
        data[f"form-{i}-id"] = str(row.pk)
        data[f"form-{i}-follow_up_due"] = row.follow_up_due.isoformat() if row.follow_up_due else ""
        if row.pk == entry.pk or row.follow_up_done:
            data[f"form-{i}-follow_up_done"] = "on"
    response = client.post(LOG, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry.refresh_from_db()
    assert entry.follow_up_done and entry.subject == "Wants a call back"
    event = AuditEvent.objects.get(action="COMMUNICATION_FOLLOW_UP", target_id=str(entry.pk))
    assert event.actor == "operator-1" and event.after == {"follow_up_due": "2026-12-08", "follow_up_done": True}


def test_logged_entry_keeps_its_content_read_only(staff_client, make_account):
    account = make_account("a1")
    entry = communication_record(actor="o", account=account, kind="note", channel="internal", subject="s", body="b")
    client = staff_client("operator")
    url = reverse("admin:compliance_communication_change", args=[entry.pk])
    page = client.get(url).content.decode()
    assert 'name="body"' not in page and 'name="subject"' not in page and 'name="follow_up_due"' in page
    client.post(url, {"follow_up_due": "2026-12-10", "subject": "changed", "body": "changed"})
    entry.refresh_from_db()
    assert (entry.subject, entry.body, entry.follow_up_due) == ("s", "b", dt.date(2026, 12, 10))


def test_viewer_cannot_change_a_follow_up(staff_client, make_account):
    account = make_account("a1")
    entry = communication_record(actor="o", account=account, kind="note", channel="internal", subject="s", body="b")
    client = staff_client("viewer")
    client.post(reverse("admin:compliance_communication_change", args=[entry.pk]), {"follow_up_due": "2026-12-10"})
    entry.refresh_from_db()
    assert entry.follow_up_due is None


def test_log_list_query_count_does_not_grow_with_entries(staff_client, make_account):
    client = staff_client("viewer")

    def queries_with(n: int) -> int:
        for _ in range(n):
            account = make_account()
            communication_record(actor="o", account=account, kind="call", channel="phone", direction="inbound",
                                 subject="call", body="b", follow_up_due=dt.date(2026, 12, 8))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(LOG).status_code == 200
        return len(ctx.captured_queries)

    assert queries_with(3) == queries_with(40)  # 129 entries: three pages of 50


def test_preview_page_renders_every_template_with_the_demo_account(staff_client, make_account):
    make_account("tania_gilbert", full_name="Tania Gilbert")
    client = staff_client("viewer")
    for preview in PREVIEWS:
        page = client.get("/admin/notifications/", {"kind": preview.kind})
        assert page.status_code == 200, preview.kind
        assert "Tania Gilbert" in page.content.decode()
        html = client.get("/admin/notifications/", {"kind": preview.kind, "format": "html"})
        assert html.status_code == 200 and html["Content-Security-Policy"].startswith("sandbox")
        assert "<html" in html.content.decode()
    assert client.get("/admin/notifications/", {"kind": "nope"}).status_code == 404
    page = client.get("/admin/notifications/", {"kind": "trading_disabled"}).content.decode()
    assert "Trading is off for your NIJA account tania_gilbert" in page and "Reason: exchange key expired" in page


def _table_counts() -> tuple[int, int, int]:
    return ComplianceRun.objects.count(), ComplianceFinding.objects.count(), Communication.objects.count()


def test_preview_lists_the_compliance_run_summary_and_shows_an_example_run_when_none_is_stored(staff_client,
                                                                                              make_account):
    make_account("tania_gilbert", full_name="Tania Gilbert")
    client = staff_client("viewer")
    menu = client.get("/admin/notifications/").content.decode()
    assert '<a href="?kind=compliance_run">Daily compliance check summary (staff)</a>' in menu
    before = _table_counts()
    page = client.get("/admin/notifications/", {"kind": "compliance_run"}).content.decode()
    html = client.get("/admin/notifications/", {"kind": "compliance_run", "format": "html"}).content.decode()
    assert _table_counts() == before  # built in memory: a GET writes nothing
    assert "Shown with an example run (no daily compliance run is stored yet)." in page
    assert "NIJA daily check " in page and "3 findings, 2 new, 1 check FAILED" in page
    assert "#101 daily_loss_limit tania_gilbert: daily loss limit reached" in page
    assert "reconciliation_breaks: OperationalError: database is locked" in page
    assert "/admin/operations/compliancefinding/?status__exact=open" in page
    assert "#102 balance_stale tania_gilbert" in html and "<html" in html


def test_preview_of_the_compliance_run_summary_uses_the_latest_stored_daily_run(staff_client, make_account):
    make_account("tania_gilbert", full_name="Tania Gilbert")
    make_account("no_key_pat")  # ACTIVE without a credential: a finding
    run = compliance_run_execute(now=dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC))
    [sent] = Communication.objects.filter(kind="compliance_run")
    client = staff_client("viewer")
    before = _table_counts()
    page = client.get("/admin/notifications/", {"kind": "compliance_run"}).content.decode()
    assert _table_counts() == before
    assert f"Shown with the latest daily compliance run (#{run.pk} of 2026-03-02 01:00 UTC)." in page
    finding = ComplianceFinding.objects.get(kind="credential_missing", account__user_id="no_key_pat")
    assert f"#{finding.pk} credential_missing no_key_pat:" in page
    # the preview's text is the e-mail the run sent
    assert escape(sent.body.strip()) in page
