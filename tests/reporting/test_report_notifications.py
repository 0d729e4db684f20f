"""Beat's report runs send the report's message: the daily summary (opt-in), the weekly summary and the
monthly investor update (with the report's text and a link to it), once per account and period;
generating the same period again sends nothing new."""

from __future__ import annotations

from django.core import mail

from accounts.services import account_suspend
from compliance.models import Communication
from compliance.services import notification_preferences_update
from reporting.models import Report
from reporting.services import ledger_import_csv
from reporting.tasks import report_generate_task, reports_period_task

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"


def _investor(make_account, user_id: str):
    account = make_account(user_id)
    ledger_import_csv(actor="test", account=account,
                      text=HEADER + "2026-01-01T09:00:00Z,deposit,paper,USD,1000,,,,,d-1\n")
    return account


def test_weekly_and_monthly_runs_send_one_message_each_per_period(make_account, django_capture_on_commit_callbacks):
    account = _investor(make_account, "tania")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reports_period_task("weekly", "2026-01-11")
        reports_period_task("monthly", "2026-01-31")
    with django_capture_on_commit_callbacks(execute=True):  # beat runs again (a retry, a second beat)
        reports_period_task("weekly", "2026-01-11")
        reports_period_task("monthly", "2026-01-31")
    weekly = Communication.objects.get(account=account, kind="weekly_summary")
    monthly = Communication.objects.get(account=account, kind="monthly_update")
    assert weekly.period == "2026-01-05..2026-01-11" and monthly.period == "2026-01"
    assert weekly.category == monthly.category == "performance"
    report = Report.objects.get(account=account, period="monthly")
    assert monthly.subject == "NIJA investor update for tania: January 2026"
    assert report.text.splitlines()[0] in monthly.body and f"/portal/reports/{report.pk}/" in monthly.body
    assert [m.subject for m in mail.outbox].count(monthly.subject) == 1


def test_daily_summary_only_for_accounts_that_opted_in(make_account):
    quiet = _investor(make_account, "quiet")
    keen = _investor(make_account, "keen")
    notification_preferences_update(actor="test", account=keen, changes={"daily_summary": True})
    report_generate_task(quiet.pk, "daily", "2026-01-08")
    report_generate_task(keen.pk, "daily", "2026-01-08")
    report_generate_task(keen.pk, "daily", "2026-01-08")
    assert not Communication.objects.filter(account=quiet, kind="daily_summary").exists()
    [summary] = Communication.objects.filter(account=keen, kind="daily_summary")
    assert summary.period == "2026-01-08" and "Date: 2026-01-08" in summary.body


def test_a_suspended_account_still_gets_its_weekly_summary(make_account):
    suspended = _investor(make_account, "paused")
    account_suspend(actor="test", account=suspended, reason="holiday")
    report_generate_task(suspended.pk, "weekly", "2026-01-11")
    assert Communication.objects.filter(account=suspended, kind="weekly_summary").count() == 1
