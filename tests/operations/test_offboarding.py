"""Offboarding through the real services and the PAPER venue: every step recorded, positions
closed by the copy engine's execution path exactly once, resumable, nothing changed by bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Account
from brokers.models import BrokerCredential, PaperBalance, PaperOrder
from brokers.paper_venue import paper_behaviour_set
from brokers.services import credentials_archived_erase
from compliance.models import AuditEvent, Communication
from copytrading.models import CopyOrder, CopySettings
from copytrading.services import engine_mode_set
from operations.models import Offboarding
from reporting.models import Report


def _run(*args: str) -> str:
    out = StringIO()
    call_command("offboard_user", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _follower(world, user_id="leaver", **assets):
    world.account("nija_master", master=True, USD="50000")
    return world.account(user_id, **(assets or {"USD": "1000", "BTC": "0.02", "ETH": "0.5"}))


def _held(cred, asset) -> Decimal:
    row = PaperBalance.objects.filter(credential=cred, asset=asset).first()
    return row.free + row.used if row else Decimal("0")


def test_offboarding_closes_every_position_once_then_deactivates_and_sends_the_summary(world, live):
    account, cred = _follower(world)

    out = _run("leaver", "--reason", "investor redeemed", "--confirm", "--wait", "5")

    sells = PaperOrder.objects.filter(credential=cred)
    assert sorted(sells.values_list("symbol", "side")) == [("BTC/USD", "sell"), ("ETH/USD", "sell")]
    assert _held(cred, "BTC") == 0 and _held(cred, "ETH") == 0
    closes = CopyOrder.objects.filter(account=account, signal__source="offboard")
    assert {o.status for o in closes} == {"FILLED"} and all(o.fills_synced for o in closes)
    assert set(closes.values_list("client_order_id", flat=True)) == set(sells.values_list("client_order_id",
                                                                                           flat=True))
    account.refresh_from_db()
    assert account.status == Account.Status.INACTIVE and not account.trading_enabled
    assert account.exit_reason == "investor redeemed" and account.exited_at is not None
    assert not CopySettings.objects.get(account=account).copy_enabled
    credential = BrokerCredential.objects.get(pk=cred.pk)
    assert credential.status == "archived" and credential.archived_at and credential.api_secret_encrypted
    offboarding = Offboarding.objects.get(account=account)
    assert offboarding.is_done and offboarding.finished_at
    report = Report.objects.get(pk=offboarding.report_id)
    assert report.period == "final" and "Final NAV" in report.text
    summary = offboarding.summary
    assert summary["reason"] == "investor redeemed" and summary["exit_date"] == timezone.now().date().isoformat()
    assert {"total_pnl", "final_nav", "fees_charged"} <= set(summary)
    message = Communication.objects.get(pk=offboarding.communication_id)
    assert message.kind == "offboarded" and "investor redeemed" in message.body and "Final NAV" in message.body
    assert "leaver offboarded." in out and "Reason: investor redeemed" in out and "Total P&L" in out
    steps = list(AuditEvent.objects.filter(action="OFFBOARDING_STEP", target_id="leaver")
                 .values_list("before__step", flat=True))
    assert steps == [s for s in Offboarding.Step.values if s != "done"]
    assert AuditEvent.objects.filter(action="ACCOUNT_OFFBOARDING_FINISH", target_id="leaver").count() == 1

    again = _run("leaver", "--wait", "0")  # done: re-running changes nothing and prints the summary
    assert PaperOrder.objects.filter(credential=cred).count() == 2
    assert Communication.objects.filter(account=account, kind="offboarded").count() == 1
    assert "leaver offboarded." in again


def test_keep_positions_sells_nothing(world, live):
    account, cred = _follower(world)
    _run("leaver", "--reason", "assets in kind", "--keep-positions", "--confirm", "--wait", "0")
    assert not PaperOrder.objects.filter(credential=cred).exists()
    assert _held(cred, "BTC") == Decimal("0.02")
    account.refresh_from_db()
    assert account.status == "INACTIVE"
    assert Offboarding.objects.get(account=account).summary["positions"] == "kept (taken in kind)"


def test_observe_mode_records_what_would_be_sold_and_sends_nothing(world):
    account, cred = _follower(world)
    engine_mode_set(actor="test", mode="observe", reason="not live")
    _run("leaver", "--reason", "closing", "--confirm", "--wait", "0")
    assert not PaperOrder.objects.exists()
    observed = CopyOrder.objects.filter(account=account, signal__source="offboard")
    assert sorted(observed.values_list("symbol", "status")) == [("BTC/USD", "OBSERVED"), ("ETH/USD", "OBSERVED")]


def test_without_confirm_or_reason_nothing_changes(world, live):
    account, _ = _follower(world)
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="--confirm"):
        _run("leaver", "--reason", "closing")
    with pytest.raises(CommandError, match="reason"):
        _run("leaver", "--confirm")
    with pytest.raises(CommandError, match="no account"):
        _run("nobody", "--reason", "x", "--confirm")
    with pytest.raises(CommandError, match="MASTER"):
        _run("master", "--reason", "x", "--confirm")
    with pytest.raises(CommandError, match="--wait"):
        _run("leaver", "--reason", "x", "--confirm", "--wait", "-1")
    account.refresh_from_db()
    assert account.status == "ACTIVE" and account.trading_enabled
    assert not Offboarding.objects.exists() and AuditEvent.objects.count() == events


def test_an_unreachable_venue_leaves_it_waiting_with_the_reason_and_the_rerun_continues(world, live):
    account, cred = _follower(world, USD="1000", BTC="0.02")
    paper_behaviour_set(credential=cred, fault="server_error")

    out = _run("leaver", "--reason", "closing", "--confirm", "--wait", "0")

    assert "OFFBOARDING" in out and "waiting for a balance reading of paper" in out
    account.refresh_from_db()
    assert account.status == "OFFBOARDING" and not account.trading_enabled
    assert Offboarding.objects.get(account=account).progress_text().startswith(
        "Close positions: waiting for a balance reading of paper")
    assert not PaperOrder.objects.exists()

    paper_behaviour_set(credential=cred, fault="")
    _run("leaver", "--wait", "5")
    assert PaperOrder.objects.filter(credential=cred).count() == 1
    account.refresh_from_db()
    assert account.status == "INACTIVE"


def test_a_refused_close_is_tried_again_then_blocks_with_the_reason_until_staff_keep_the_positions(world, live):
    account, cred = _follower(world, USD="1000", BTC="0.02")
    paper_behaviour_set(credential=cred, fault="insufficient_funds", fault_count=10)
    for _ in range(3):
        out = _run("leaver", "--reason", "closing", "--confirm", "--wait", "0")
        assert "a new attempt for BTC/USD (REJECTED: insufficient funds" in out
    with pytest.raises(CommandError, match="blocked: the close of BTC was refused 3 times"):
        _run("leaver", "--wait", "0")
    assert CopyOrder.objects.filter(account=account, signal__source="offboard", status="REJECTED").count() == 3
    account.refresh_from_db()
    assert account.status == "OFFBOARDING"

    out = _run("leaver", "--keep-positions", "--wait", "0")  # staff decide: the investor keeps the BTC
    assert "leaver offboarded." in out and "Positions: kept (taken in kind)" in out
    assert AuditEvent.objects.filter(action="OFFBOARDING_KEEP_POSITIONS", target_id="leaver").count() == 1
    assert not PaperOrder.objects.exists()


def test_a_first_refusal_is_retried_once_and_sells_exactly_once(world, live):
    account, cred = _follower(world, USD="1000", BTC="0.02")
    paper_behaviour_set(credential=cred, fault="insufficient_funds", fault_count=1)
    _run("leaver", "--reason", "closing", "--confirm", "--wait", "5")
    statuses = list(CopyOrder.objects.filter(account=account, signal__source="offboard").order_by("pk")
                    .values_list("status", flat=True))
    assert statuses == ["REJECTED", "FILLED"]
    assert PaperOrder.objects.filter(credential=cred, status="filled").count() == 1
    account.refresh_from_db()
    assert account.status == "INACTIVE"


def test_archived_secrets_are_erased_after_the_retention_period_and_the_row_stays(world, live, settings):
    account, cred = _follower(world, USD="1000")
    settings.NIJA_CREDENTIAL_RETENTION_DAYS = 30
    _run("leaver", "--reason", "closing", "--confirm", "--wait", "0")
    assert credentials_archived_erase(now=timezone.now() + dt.timedelta(days=29)) == 0
    assert credentials_archived_erase(now=timezone.now() + dt.timedelta(days=31)) == 1
    credential = BrokerCredential.objects.get(pk=cred.pk)
    assert credential.api_key_encrypted == credential.api_secret_encrypted == ""
    assert credential.secrets_erased_at and credential.hint and credential.status == "archived"
    assert AuditEvent.objects.filter(action="CREDENTIAL_SECRETS_ERASE").count() == 1
    assert credentials_archived_erase(now=timezone.now() + dt.timedelta(days=60)) == 0


def test_user_status_shows_the_step_an_offboarding_waits_on(world, live):
    account, cred = _follower(world, USD="1000", BTC="0.02")
    paper_behaviour_set(credential=cred, fault="server_error")
    _run("leaver", "--reason", "closing", "--confirm", "--wait", "0")
    out = StringIO()
    call_command("user_status", "leaver", stdout=out)
    assert "Status:   OFFBOARDING" in out.getvalue()
    assert "Offboarding: Close positions: waiting for a balance reading of paper" in out.getvalue()


def test_an_operator_starts_an_offboarding_in_the_admin_with_a_reason_and_a_confirmation(
        world, live, client, django_capture_on_commit_callbacks):
    account, cred = _follower(world, USD="1000", BTC="0.02")
    operator = User.objects.create_user("op", password="pw", is_staff=True)
    operator.groups.add(Group.objects.get(name="operator"))
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    url = "/admin/operations/offboarding/add/"

    client.force_login(viewer)
    assert client.post(url, {"account": account.pk, "reason": "x", "confirm": "on"}).status_code == 403
    client.force_login(operator)
    redirect = client.post("/admin/accounts/account/", {"action": "offboard_account", "_selected_action": [account.pk]})
    assert redirect.status_code == 302 and redirect["Location"] == f"{url}?account={account.pk}"
    assert "I confirm" in client.get(redirect["Location"]).content.decode()
    unconfirmed = client.post(url, {"account": account.pk, "reason": "investor left"})
    assert unconfirmed.status_code == 200 and not Offboarding.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"account": account.pk, "reason": "investor left", "confirm": "on"})
    assert done.status_code == 302
    offboarding = Offboarding.objects.get(account=account)
    assert offboarding.requested_by == "op" and offboarding.is_done  # eager: the task ran on commit
    page = client.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    assert "offboarded (reason: investor left" in page
    assert PaperOrder.objects.filter(credential=cred).count() == 1
