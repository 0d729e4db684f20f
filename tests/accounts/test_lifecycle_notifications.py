"""Each lifecycle change tells the account holder once: trading enabled, trading disabled (with the
reason), suspended, reactivated. The change's audit event is the message's period, so running the
same change again (refused) or re-sending never makes a second message."""

import pytest
from django.core import mail

from accounts.services import (
    account_reactivate,
    account_suspend,
    account_trading_disable,
    account_trading_enable,
)
from compliance.models import AuditEvent, Communication
from core.errors import ApplicationError


def test_disable_with_reason_sends_one_message_with_the_reason(make_account, django_capture_on_commit_callbacks):
    account = make_account("a1")
    outbox = mail.outbox
    outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        account_trading_disable(actor="olivia", account=account, reason="exchange key expired")
    with pytest.raises(ApplicationError), django_capture_on_commit_callbacks(execute=True):
        account_trading_disable(actor="olivia", account=account, reason="again")  # refused: nothing sent
    [message] = Communication.objects.filter(account=account, kind="trading_disabled")
    event = AuditEvent.objects.get(action="TRADING_DISABLE", target_id="a1")
    assert message.period == f"audit-{event.seq}" and message.created_by == "olivia"
    assert [m.subject for m in outbox] == ["Trading is off for your NIJA account a1"]
    assert "Reason: exchange key expired" in outbox[0].body


def test_each_lifecycle_change_sends_its_own_message(make_account, django_capture_on_commit_callbacks):
    outbox = mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        account = make_account("a1", active=False)
        account_trading_enable(actor="t", account=account, reason="onboarding complete")
        account_suspend(actor="t", account=account, reason="KYC expired")
        account_reactivate(actor="t", account=account, reason="KYC renewed")
        account_trading_enable(actor="t", account=account)
    kinds = list(Communication.objects.filter(account=account).order_by("id").values_list("kind", flat=True))
    assert kinds == ["welcome", "trading_enabled", "suspended", "reactivated", "trading_enabled"]
    assert [m.subject for m in outbox[-3:]] == [
        "Your NIJA account a1 is suspended", "Your NIJA account a1 is active again",
        "Trading is on for your NIJA account a1"]
    assert "Reason: KYC expired" in outbox[-3].body and "Reason: KYC renewed" in outbox[-2].body


def test_master_account_gets_no_messages(make_account):
    master = make_account("nija_master", master=True)
    account_trading_disable(actor="t", account=master, reason="maintenance")
    assert not Communication.objects.filter(account=master).exists()
