"""Every lifecycle transition and every refusal; a refused change writes nothing."""

import pytest

from accounts.models import Account
from accounts.services import (
    account_deactivate,
    account_reactivate,
    account_suspend,
    account_trading_disable,
    account_trading_enable,
)
from compliance.models import AuditEvent
from core.errors import ApplicationError

S = Account.Status


def _events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def test_enable_makes_pending_account_active_and_audits_before_after(make_account):
    account = make_account("daivon_frazier", active=False)
    account = account_trading_enable(actor="admin", account=account, reason="KYC done")
    assert (account.status, account.trading_enabled) == (S.ACTIVE, True)
    event = AuditEvent.objects.get(action="TRADING_ENABLE")
    assert event.before["status"] == "PENDING" and event.after["status"] == "ACTIVE"
    assert event.reason == "KYC done"


def test_disable_makes_account_suspended_with_trading_off(make_account):
    account = make_account("a1")
    account = account_trading_disable(actor="admin", account=account, reason="user asked")
    assert (account.status, account.trading_enabled) == (S.SUSPENDED, False)
    assert _events("TRADING_DISABLE") == 1


def test_enable_after_disable_returns_to_active(make_account):
    account = make_account("a1")
    account_trading_disable(actor="admin", account=account, reason="pause")
    account = account_trading_enable(actor="admin", account=account)
    assert (account.status, account.trading_enabled) == (S.ACTIVE, True)


def test_suspend_then_reactivate_leaves_trading_off_until_enabled(make_account):
    account = make_account("a1")
    account = account_suspend(actor="admin", account=account, reason="compliance review")
    assert (account.status, account.trading_enabled) == (S.SUSPENDED, False)
    account = account_reactivate(actor="admin", account=account, reason="review cleared")
    assert (account.status, account.trading_enabled) == (S.ACTIVE, False)


def test_suspend_pending_account(make_account):
    account = make_account("a1", active=False)
    account = account_suspend(actor="admin", account=account, reason="docs missing")
    assert account.status == S.SUSPENDED


def test_deactivate_is_final(make_account):
    account = make_account("a1")
    account = account_deactivate(actor="admin", account=account, reason="offboarded")
    assert (account.status, account.trading_enabled) == (S.INACTIVE, False)


@pytest.mark.parametrize(
    ("setup", "call", "message"),
    [
        ("inactive", lambda a: account_trading_enable(actor="x", account=a), "account is INACTIVE"),
        ("active", lambda a: account_trading_enable(actor="x", account=a), "already enabled"),
        ("pending", lambda a: account_trading_disable(actor="x", account=a, reason="r"), "already disabled"),
        ("active", lambda a: account_trading_disable(actor="x", account=a, reason="  "), "reason is required"),
        ("active", lambda a: account_suspend(actor="x", account=a, reason=""), "reason is required"),
        ("active", lambda a: account_reactivate(actor="x", account=a, reason="r"), "account is ACTIVE"),
        ("suspended", lambda a: account_reactivate(actor="x", account=a, reason=""), "reason is required"),
        ("suspended", lambda a: account_suspend(actor="x", account=a, reason="r"), "account is SUSPENDED"),
        ("inactive", lambda a: account_reactivate(actor="x", account=a, reason="r"), "account is INACTIVE"),
        ("inactive", lambda a: account_deactivate(actor="x", account=a, reason="r"), "account is INACTIVE"),
    ],
)
def test_invalid_transition_is_refused_and_changes_nothing(make_account, setup, call, message):
    account = make_account("a1", active=setup != "pending")
    if setup == "inactive":
        account_deactivate(actor="x", account=account, reason="gone")
    elif setup == "suspended":
        account_suspend(actor="x", account=account, reason="hold")
    account.refresh_from_db()
    before = (account.status, account.trading_enabled, account.updated_at)
    events_before = AuditEvent.objects.count()
    with pytest.raises(ApplicationError, match=message):
        call(account)
    account.refresh_from_db()
    assert (account.status, account.trading_enabled, account.updated_at) == before
    assert AuditEvent.objects.count() == events_before


def test_database_refuses_trading_on_a_non_active_account(make_account):
    from django.db import IntegrityError, transaction

    account = make_account("a1", active=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(trading_enabled=True)
