"""The daily loss watcher: a loss that happens between master signals (the market moved) gets the same
warning, alert and auto-suspension as one planning notices, once per UTC day, batch by batch."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Account
from brokers.models import Alert
from compliance.models import AuditEvent, Communication
from copytrading.daily_loss import WatchSkip, daily_losses_watch
from copytrading.tasks import DAILY_LOSS_WATCH_LOCK, DAILY_LOSS_WATCH_LOCK_TTL, daily_losses_watch_task
from core.locks import task_lock

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def run_watch(django_capture_on_commit_callbacks):
    """Run the beat task as beat would, and what it queues on commit (its next batches, the e-mails)."""
    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return daily_losses_watch_task(**kwargs)
    return run


def _losing_account(world, user_id: str, *, start: str, now: str, risk: dict):
    """An account whose first reading today was `start` USD and whose latest is `now` USD."""
    account, cred = world.account(user_id, USD=start, risk=risk,
                                  snapshot_at=timezone.now() - dt.timedelta(hours=3))
    world.snapshot(account, cred, USD=now)
    return account


def _messages(account, kind):
    return Communication.objects.filter(account=account, kind=kind)


def test_a_loss_between_signals_warns_once_per_utc_day_across_runs(world, run_watch, time_machine):
    time_machine.move_to(NOON, tick=False)
    ann = _losing_account(world, "ann", start="5000", now="4590",
                          risk={"max_daily_loss_amount": "500", "max_daily_loss_pct": None})
    mail.outbox.clear()
    first = run_watch()
    second = run_watch()
    assert first["approaching"] == ["ann"] and first["checked"] == 1 and not first["breached"]
    assert second["approaching"] == ["ann"]  # still at the share; the message is not sent again
    [warning] = _messages(ann, "daily_loss_approaching")
    assert warning.period == "2026-11-20" and warning.status == "sent"
    assert warning.created_by == "system:daily-loss-watch"
    assert "$410.00" in warning.body and "82%" in warning.body and "$500.00" in warning.body
    assert [m.subject for m in mail.outbox] == ["ann: 82% of the daily loss limit used"]
    assert not _messages(ann, "daily_loss_reached").exists()
    assert not Alert.objects.filter(account=ann).exists()

    time_machine.move_to(NOON + dt.timedelta(days=1), tick=False)  # the next UTC day: a new start of day
    world.snapshot(ann, ann.credentials.get(), fetched_at=timezone.now() - dt.timedelta(hours=3), USD="5000")
    world.snapshot(ann, ann.credentials.get(), USD="4580")
    run_watch()
    assert list(_messages(ann, "daily_loss_approaching").order_by("period").values_list("period", flat=True)) == [
        "2026-11-20", "2026-11-21"]


def test_a_warning_from_the_watcher_is_not_repeated_by_a_signal_the_same_day(world, run_watch, receive,
                                                                            time_machine):
    time_machine.move_to(NOON, tick=True)
    world.account("nija_master", master=True, USD="50000")
    ann = _losing_account(world, "ann", start="5000", now="4590",
                          risk={"max_daily_loss_amount": "500", "max_daily_loss_pct": None})
    run_watch()
    receive(source_id="m-1")
    assert _messages(ann, "daily_loss_approaching").count() == 1


@pytest.mark.parametrize("auto_suspend", [False, True])
def test_a_breach_between_signals_alerts_and_suspends_per_profile_once(world, run_watch, time_machine,
                                                                      auto_suspend):
    time_machine.move_to(NOON, tick=False)
    ann = _losing_account(world, "ann", start="5000", now="4700",
                          risk={"max_daily_loss_pct": "5", "auto_suspend_on_daily_loss": auto_suspend})
    mail.outbox.clear()
    first = run_watch()
    run_watch()
    assert first["breached"] == ["ann"] and not first["approaching"]
    [alert] = Alert.objects.filter(account=ann, kind="DAILY_LOSS_LIMIT")
    assert alert.status == "OPEN" and "loss 6.00% >= limit 5%" in alert.message
    assert alert.details["signal_id"] is None
    [breach_event] = AuditEvent.objects.filter(action="DAILY_LOSS_LIMIT_BREACH", target_id="ann")
    assert breach_event.actor == "system:daily-loss-watch"
    [reached] = _messages(ann, "daily_loss_reached")
    assert reached.period == "2026-11-20" and reached.status == "sent"
    assert "$300.00" in reached.body and "$250.00" in reached.body
    assert ("suspended" in reached.subject) is auto_suspend
    ann.refresh_from_db()
    assert ann.status == (Account.Status.SUSPENDED if auto_suspend else Account.Status.ACTIVE)
    assert AuditEvent.objects.filter(action="ACCOUNT_SUSPEND", target_id="ann").count() == (1 if auto_suspend else 0)
    assert not _messages(ann, "suspended").exists() and not _messages(ann, "daily_loss_approaching").exists()
    assert len([m for m in mail.outbox if m.to == ["ann@example.com"]]) == 1


def test_an_account_without_a_reading_is_skipped_with_its_reason_not_judged_on_zero(world, make_account,
                                                                                   run_watch, time_machine):
    time_machine.move_to(NOON, tick=False)
    never = make_account("never", risk_overrides={"max_daily_loss_amount": "1"})
    world.credential(never)  # a key, but no balance was ever fetched
    world.account("yesterday", USD="5000", snapshot_at=NOON - dt.timedelta(days=1),
                  risk={"max_daily_loss_amount": "1"})  # nothing fetched since 00:00 UTC
    world.account("unlimited", USD="5000", risk={"max_daily_loss_amount": None, "max_daily_loss_pct": None})
    _losing_account(world, "ann", start="5000", now="4000", risk={"max_daily_loss_amount": "500"})
    report = run_watch()
    assert report["skipped"] == {"never": WatchSkip.NO_BALANCE, "yesterday": WatchSkip.NO_START_OF_DAY,
                                 "unlimited": WatchSkip.NO_LIMIT}
    assert report["accounts"] == 4 and report["checked"] == 1 and report["breached"] == ["ann"]
    skipped = Account.objects.filter(user_id__in=["never", "yesterday", "unlimited"])
    assert not Communication.objects.filter(account__in=skipped, kind__startswith="daily_loss").exists()
    assert not Alert.objects.filter(account__in=skipped).exists()


def test_batches_cover_every_follower_and_stop_after_the_last(world, run_watch, time_machine, settings):
    time_machine.move_to(NOON, tick=False)
    settings.NIJA_TASK_BATCH_SIZE = 2
    accounts = [_losing_account(world, f"u{i}", start="5000", now="4000", risk={"max_daily_loss_amount": "500"})
                for i in range(5)]
    run_watch()
    for account in accounts:
        assert _messages(account, "daily_loss_reached").count() == 1, account.user_id
    ids = sorted(a.id for a in accounts)
    first = daily_losses_watch(after_id=0, limit=2)
    assert first.next_after_id == ids[1] and first.accounts == 2
    last = daily_losses_watch(after_id=ids[3], limit=2)
    assert last.accounts == 1 and last.next_after_id is None


def test_a_run_that_finds_the_lock_taken_handles_nothing(world, run_watch, time_machine):
    time_machine.move_to(NOON, tick=False)
    ann = _losing_account(world, "ann", start="5000", now="4000", risk={"max_daily_loss_amount": "500"})
    with task_lock(DAILY_LOSS_WATCH_LOCK, ttl_seconds=DAILY_LOSS_WATCH_LOCK_TTL) as taken:
        assert taken
        assert run_watch() == {"skipped": "already running"}
    assert not Alert.objects.filter(account=ann).exists() and not _messages(ann, "daily_loss_reached").exists()
    assert run_watch()["breached"] == ["ann"]  # the lock released: the next run does it


def test_the_watcher_runs_every_five_minutes_after_the_balance_audit():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    watch = schedule["copytrading-watch-daily-losses"]
    audit = schedule["brokers-balance-audit"]["schedule"]
    assert watch["task"] == "copytrading.tasks.daily_losses_watch_task"
    assert isinstance(watch["schedule"], crontab) and watch["options"]["expires"] < 300
    assert sorted(watch["schedule"].minute) == [m + 2 for m in sorted(audit.minute)]
    assert DAILY_LOSS_WATCH_LOCK_TTL > django_settings.CELERY_TASK_TIME_LIMIT


def test_check_daily_losses_walks_every_batch_and_lists_who_was_not_judged(world, make_account, time_machine,
                                                                           settings, capsys):
    time_machine.move_to(NOON, tick=False)
    settings.NIJA_TASK_BATCH_SIZE = 1
    world.credential(make_account("never"))
    ann = _losing_account(world, "ann", start="5000", now="4000", risk={"max_daily_loss_amount": "500"})
    bob = _losing_account(world, "bob", start="5000", now="4590",
                          risk={"max_daily_loss_amount": "500", "max_daily_loss_pct": None})
    call_command("check_daily_losses")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("daily loss watch: 3 accounts, 2 checked, 1 approaching the limit, "
                                   "1 at the limit, 1 not judged")
    assert "  limit reached: ann" in out and "  approaching: bob" in out
    assert "  not judged: never (no good balance snapshot)" in out
    assert _messages(ann, "daily_loss_reached").count() == 1 and _messages(bob, "daily_loss_approaching").count() == 1
    call_command("check_daily_losses", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["breached"] == ["ann"] and data["skipped"] == {"never": "no_balance"}
    assert _messages(ann, "daily_loss_reached").count() == 1  # the second run sends nothing new


def test_check_daily_losses_refuses_while_the_watch_runs(db):
    with task_lock(DAILY_LOSS_WATCH_LOCK, ttl_seconds=DAILY_LOSS_WATCH_LOCK_TTL), pytest.raises(CommandError) as exc:
        call_command("check_daily_losses")
    assert "running now" in str(exc.value)
