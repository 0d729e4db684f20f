from decimal import Decimal

import pytest

from accounts.models import Account, RiskProfile
from accounts.services import account_onboard, risk_profile_update
from compliance.models import AuditEvent
from core.errors import ApplicationError


@pytest.mark.parametrize(
    ("tolerance", "pct", "notional", "stop_required"),
    [("LOW", "10", "1000", True), ("MEDIUM", "20", "5000", True), ("HIGH", "30", "25000", False)],
)
def test_defaults_follow_tolerance(make_account, tolerance, pct, notional, stop_required):
    profile = make_account(risk_tolerance=tolerance).risk_profile
    assert profile.max_position_pct == Decimal(pct)
    assert profile.max_position_notional == Decimal(notional)
    assert profile.stop_loss_required is stop_required
    assert profile.leverage_limit == Decimal("1")


def test_update_validates_saves_and_audits_only_changed_fields(make_account):
    account = make_account("a1")
    profile = risk_profile_update(actor="ops", account=account, reason="client asked",
                                  changes={"max_position_pct": "15", "max_slippage_pct": "0.5"})
    assert profile.max_position_pct == Decimal("15")
    event = AuditEvent.objects.get(action="RISK_PROFILE_UPDATE")
    assert event.before == {"max_position_pct": "20.00000000"}
    assert event.after == {"max_position_pct": "15"}
    assert event.reason == "client asked"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_position_pct": "0"}, r"percentage in \(0, 100\]"),
        ({"max_position_pct": "100.01"}, r"percentage in \(0, 100\]"),
        ({"max_daily_loss_pct": "-1"}, r"percentage in \(0, 100\]"),
        ({"max_slippage_pct": "0"}, r"percentage in \(0, 100\]"),
        ({"max_position_notional": "0"}, "must be positive"),
        ({"max_daily_loss_amount": "-5"}, "must be positive"),
        ({"leverage_limit": "0"}, "must be positive"),
        ({"max_concurrent_positions": 0}, "at least 1"),
        ({"max_position_pct": "abc"}, "not a number"),
        ({"stop_loss_required": True, "stop_loss_pct": None}, "stop distance"),
        ({"nonsense": 1}, "unknown risk profile fields"),
        ({"blocked_instruments": ["XRP"]}, "not a market symbol"),
        ({"blocked_instruments": [7]}, "list of symbols"),
        ({"allowed_instruments": ["XRP/USD"], "blocked_instruments": ["XRP-USD"]}, "both allowed and blocked"),
    ],
)
def test_invalid_values_are_rejected_and_change_nothing(make_account, changes, message):
    account = make_account("a1")
    before = RiskProfile.objects.get(account=account).snapshot()
    with pytest.raises(ApplicationError, match=message):
        risk_profile_update(actor="ops", account=account, changes=changes)
    assert RiskProfile.objects.get(account=account).snapshot() == before
    assert not AuditEvent.objects.filter(action="RISK_PROFILE_UPDATE").exists()


def test_hundred_percent_is_allowed(make_account):
    account = make_account("a1")
    profile = risk_profile_update(actor="ops", account=account, changes={"max_position_pct": "100"})
    assert profile.max_position_pct == Decimal("100")


def test_onboarding_with_invalid_override_creates_nothing(db):
    with pytest.raises(ApplicationError):
        account_onboard(actor="x", user_id="a1", full_name="A", email="a@example.com",
                        risk_overrides={"max_position_pct": "150"})
    assert not Account.objects.exists()


def test_instrument_lists_are_normalised_so_dash_and_slash_name_the_same_market(make_account):
    account = make_account("a1")
    profile = risk_profile_update(actor="ops", account=account, reason="no XRP",
                                  changes={"blocked_instruments": ["xrp-usd", "XRP/USD", "ETH_USDT"],
                                           "allowed_instruments": "btc-usd, eth/usd"})
    assert profile.blocked_instruments == ["XRP/USD", "ETH/USDT"]
    assert profile.allowed_instruments == ["BTC/USD", "ETH/USD"]
    event = AuditEvent.objects.get(action="RISK_PROFILE_UPDATE")
    assert event.after["blocked_instruments"] == ["XRP/USD", "ETH/USDT"]
