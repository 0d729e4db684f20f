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
