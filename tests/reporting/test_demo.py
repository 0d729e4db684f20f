from reporting.demo import demo_reporting_seed
from reporting.models import LedgerEntry, PricePoint, Report


def test_demo_seed_gives_demo_users_a_ledger_and_reports(db):
    from accounts.demo import demo_accounts_seed

    demo_accounts_seed()
    assert demo_reporting_seed() is True
    assert LedgerEntry.objects.filter(account__user_id="daivon_frazier", kind="trade").count() > 20
    assert PricePoint.objects.filter(source="demo").count() == 3 * 29
    daily = Report.objects.get(account__user_id="daivon_frazier", period="daily")
    assert daily.text.startswith("User: Daivon Frazier\n")
    assert Report.objects.filter(account__user_id="tania_gilbert", period="fee_statement").exists()
    assert demo_reporting_seed() is False  # idempotent


def test_demo_communication_log_shows_several_kinds_and_states(db, django_capture_on_commit_callbacks):
    from accounts.demo import demo_accounts_seed
    from compliance.models import Communication
    from reporting.demo import demo_communications_with_accounts_seed

    with django_capture_on_commit_callbacks(execute=True):  # the worker sends what the seed queued
        demo_accounts_seed()
        demo_reporting_seed()
        assert demo_communications_with_accounts_seed() is True
    log = Communication.objects.all()
    kinds = set(log.values_list("kind", flat=True))
    assert {"welcome", "trading_enabled", "trading_disabled", "monthly_update", "call", "inbound", "note",
            "balance_low"} <= kinds
    assert set(log.values_list("status", flat=True)) == {"sent", "failed", "recorded"}
    call = log.get(kind="call")
    assert call.account.user_id == "tania_gilbert" and call.follow_up_due and not call.follow_up_done
    failed = log.get(status="failed")
    assert "Mailbox unavailable" in failed.error and failed.next_attempt_at is None
    assert demo_communications_with_accounts_seed() is False  # idempotent
    assert Communication.objects.count() == log.count()
