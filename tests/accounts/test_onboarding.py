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
