"""The risk gate's messages: "daily loss limit approaching" at NIJA_DAILY_LOSS_WARN_PCT % of the limit and
"limit reached" (saying whether the account was auto-suspended), each at most once per UTC day."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from compliance.models import Communication

pytestmark = pytest.mark.django_db


def _loss_messages(account, kind):
    return Communication.objects.filter(account=account, kind=kind)


def test_loss_at_80_percent_of_the_limit_warns_once_per_day(world, receive, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC), tick=True)
    world.account("nija_master", master=True, USD="50000")
    ann, cred = world.account("ann", USD="4590", risk={"max_daily_loss_amount": "500", "max_daily_loss_pct": None})
    world.snapshot(ann, cred, fetched_at=timezone.now() - dt.timedelta(hours=3), USD="5000")  # start of day
    mail.outbox.clear()
    receive(source_id="m-1")
    receive(source_id="m-2")  # a second signal the same day: no second warning
    [warning] = _loss_messages(ann, "daily_loss_approaching")
    assert warning.period == "2026-11-20" and warning.status == "sent" and warning.category == "alert"
    assert "$410.00" in warning.body and "82%" in warning.body and "$500.00" in warning.body
    assert not _loss_messages(ann, "daily_loss_reached").exists()
    assert [m.subject for m in mail.outbox] == ["ann: 82% of the daily loss limit used"]


def test_loss_below_the_warning_share_sends_nothing(world, receive, time_machine, settings):
    settings.NIJA_DAILY_LOSS_WARN_PCT = "90"
    time_machine.move_to(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC), tick=True)
    world.account("nija_master", master=True, USD="50000")
    ann, cred = world.account("ann", USD="4590", risk={"max_daily_loss_amount": "500", "max_daily_loss_pct": None})
    world.snapshot(ann, cred, fetched_at=timezone.now() - dt.timedelta(hours=3), USD="5000")
    receive()
    assert not _loss_messages(ann, "daily_loss_approaching").exists()


@pytest.mark.parametrize("auto_suspend", [False, True])
def test_limit_reached_sends_one_message_per_day_saying_whether_suspended(world, receive, time_machine,
                                                                         auto_suspend):
    time_machine.move_to(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC), tick=True)
    world.account("nija_master", master=True, USD="50000")
    ann, cred = world.account("ann", USD="4700", risk={"max_daily_loss_pct": "5",
                                                      "auto_suspend_on_daily_loss": auto_suspend})
    world.snapshot(ann, cred, fetched_at=timezone.now() - dt.timedelta(hours=3), USD="5000")
    mail.outbox.clear()
    receive(source_id="m-1")
    receive(source_id="m-2")
    [reached] = _loss_messages(ann, "daily_loss_reached")
    assert reached.period == "2026-11-20" and reached.status == "sent"
    assert "$300.00" in reached.body and "$250.00" in reached.body
    assert ("suspended" in reached.subject) is auto_suspend
    assert not _loss_messages(ann, "daily_loss_approaching").exists()  # reached, not approaching
    # the auto-suspension's own "suspended" message is not sent on top of it
    assert not _loss_messages(ann, "suspended").exists()
    assert len([m for m in mail.outbox if m.to == ["ann@example.com"]]) == 1
