from decimal import Decimal

import pytest

from accounts.models import Account, RiskProfile
from accounts.services import account_onboard
from compliance.models import AuditEvent
from core.errors import ApplicationError


def test_onboard_creates_pending_account_with_risk_profile_and_audit_event(db):
    account = account_onboard(actor="admin", user_id="daivon_frazier", full_name="Daivon Frazier",
                              email="daivon@example.com", risk_tolerance="LOW", initial_capital="1000")
    assert account.status == Account.Status.PENDING
    assert account.trading_enabled is False
    assert account.initial_capital == Decimal("1000")
    profile = RiskProfile.objects.get(account=account)
    assert profile.risk_tolerance == "LOW"
    assert profile.max_position_pct == Decimal("10")
    event = AuditEvent.objects.get()
    assert event.action == "USER_CREATE"
    assert event.log_line().endswith("] USER_CREATE: daivon_frazier by admin")


def test_onboard_rejects_bad_input_and_writes_nothing(db):
    with pytest.raises(ApplicationError, match="not a valid e-mail"):
        account_onboard(actor="admin", user_id="ok_id", full_name="X", email="nope")
    assert not Account.objects.exists()
    assert not AuditEvent.objects.exists()


def test_only_one_master_is_allowed(make_account):
    make_account("boss", master=True)
    with pytest.raises(ApplicationError, match="MASTER account already exists"):
        account_onboard(actor="admin", user_id="boss2", full_name="B", email="b@example.com", master=True)
    assert Account.objects.filter(kind=Account.Kind.MASTER).count() == 1


def test_database_constraint_refuses_a_second_master(make_account):
    from django.db import IntegrityError, transaction

    make_account("boss", master=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind=Account.Kind.MASTER, user_id="boss2", full_name="B", email="b@example.com")


def test_duplicate_user_id_is_refused(make_account):
    make_account("daivon_frazier")
    with pytest.raises(ApplicationError, match="already exists"):
        account_onboard(actor="admin", user_id="daivon_frazier", full_name="D", email="d@example.com")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user_id": "Bad Id"}, "lower-case slug"),
        ({"full_name": "  "}, "name is required"),
        ({"account_type": "whale"}, "account type must be"),
        ({"tier": "gold"}, "tier must be"),
        ({"risk_tolerance": "EXTREME"}, "LOW, MEDIUM or HIGH"),
        ({"initial_capital": "-1"}, "cannot be negative"),
        ({"initial_capital": "ten"}, "not a number"),
        ({"initial_capital": 1.5}, "not float"),
    ],
)
def test_onboarding_rejections(db, kwargs, message):
    args = {"actor": "admin", "user_id": "new_user", "full_name": "New User", "email": "n@example.com", **kwargs}
    with pytest.raises(ApplicationError, match=message):
        account_onboard(**args)
    assert not Account.objects.exists()
