"""The balance audit tells the account holder when it opens a BALANCE_LOW or BALANCE_DROP alert: one
message per alert (re-runs while it stays open send nothing), and none when the holder turned
balance alerts off."""

from __future__ import annotations

import pytest
from django.test import override_settings

from brokers.models import Alert
from brokers.paper_venue import paper_fund, paper_price_set
from brokers.services import balance_audit_run
from compliance.models import Communication
from compliance.services import notification_preferences_update


@pytest.fixture
def prices(db):
    paper_price_set(symbol="BTC/USD", price="50000")


def test_balance_low_sends_one_message_per_alert(paper_credential, make_account, prices):
    account = make_account("low")
    credential = paper_credential(account, usd="20")
    balance_audit_run()
    balance_audit_run()  # the alert stays open: no second message
    alert = Alert.objects.get(account=account, kind="BALANCE_LOW", status="OPEN")
    [message] = Communication.objects.filter(account=account, kind="balance_low")
    assert message.period == f"alert-{alert.pk}" and message.category == "alert"
    assert message.subject == "low: balance low ($20.00)" and "below the alert level of $50.00" in message.body
    paper_fund(credential=credential, asset="USD", amount="100")
    balance_audit_run()  # resolved
    paper_fund(credential=credential, asset="USD", amount="-110")
    balance_audit_run()  # low again: a new alert, a new message
    assert Communication.objects.filter(account=account, kind="balance_low").count() == 2


@override_settings(NIJA_BALANCE_DROP_PCT="20")
def test_balance_drop_sends_a_message_with_both_figures(paper_credential, make_account, prices):
    account = make_account("dropper")
    credential = paper_credential(account, usd="1000")
    balance_audit_run()
    paper_fund(credential=credential, asset="USD", amount="-150")
    balance_audit_run()
    assert not Communication.objects.filter(kind="balance_drop").exists()  # -15%: under the threshold
    paper_fund(credential=credential, asset="USD", amount="-200")  # 850 -> 650: -23.5%
    balance_audit_run()
    [message] = Communication.objects.filter(account=account, kind="balance_drop")
    assert "from $850.00 to $650.00" in message.body and "23.5% down" in message.body
    assert "20% or more" in message.body


def test_balance_alerts_turned_off_send_nothing_but_the_alert_opens(paper_credential, make_account, prices):
    account = make_account("quiet")
    notification_preferences_update(actor="test", account=account, changes={"balance_alerts": False})
    paper_credential(account, usd="20")
    balance_audit_run()
    assert Alert.objects.filter(account=account, kind="BALANCE_LOW", status="OPEN").exists()
    assert not Communication.objects.filter(account=account, kind="balance_low").exists()
