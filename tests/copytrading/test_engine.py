"""Signal intake, planning and LIVE execution against PAPER (Celery eager)."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal as D
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Account, RiskProfile
from accounts.services import account_trading_disable
from brokers.models import PaperOrder
from brokers.paper_venue import paper_behaviour_set, paper_price_set
from compliance.models import AuditEvent
from copytrading import planning
from copytrading.execution import copy_orders_execute
from copytrading.models import CopyFill, CopyOrder, CopySettings, EngineMode, MasterSignal
from copytrading.planning import client_order_id_for
from copytrading.reconciliation import copy_orders_reconcile
from copytrading.services import copy_settings_update, engine_mode_set
from core.errors import ApplicationError

pytestmark = pytest.mark.django_db


# --- mode -------------------------------------------------------------------------------------
def test_engine_mode_defaults_to_observe():
    assert EngineMode.current().mode == "OBSERVE"


def test_going_live_needs_confirmation_reason_and_is_audited():
    with pytest.raises(ApplicationError, match="confirm"):
        engine_mode_set(actor="cli:ops", mode="live", reason="ready")
    with pytest.raises(ApplicationError, match="reason"):
        engine_mode_set(actor="cli:ops", mode="live", reason=" ", confirm_live=True)
    assert EngineMode.current().mode == "OBSERVE"
    engine_mode_set(actor="cli:ops", mode="live", reason="ready", confirm_live=True)
    assert EngineMode.current().mode == "LIVE"
    event = AuditEvent.objects.filter(action="COPY_ENGINE_MODE_SET").latest("seq")
    assert (event.before, event.after, event.reason) == ({"mode": "OBSERVE"}, {"mode": "LIVE"}, "ready")


def test_staff_without_operator_permission_cannot_change_the_mode():
    viewer = User.objects.create_user("viewer1", is_staff=True)
    with pytest.raises(ApplicationError, match="operator permission"):
        engine_mode_set(actor=viewer, mode="live", reason="x", confirm_live=True)
    assert not AuditEvent.objects.filter(action="COPY_ENGINE_MODE_SET").exists()


def test_copy_settings_change_is_validated_and_audited(world):
    account, _ = world.account("ann")
    with pytest.raises(ApplicationError, match="fixed_notional"):
        copy_settings_update(actor="cli:ops", account=account, reason="r", sizing_mode="fixed_notional")
    assert not CopySettings.objects.filter(account=account).exists()
    copy_settings_update(actor="cli:ops", account=account, reason="asked", sizing_mode="fixed_notional",
                         fixed_notional="250")
    assert CopySettings.objects.get(account=account).fixed_notional == D("250")
    assert AuditEvent.objects.filter(action="COPY_SETTINGS_UPDATE", target_id="ann").count() == 1


# --- OBSERVE ------------------------------------------------------------------------------------
def test_observe_plans_and_logs_but_sends_nothing(world, caplog, receive):
    world.account("nija_master", master=True, USD="50000")
    world.account("ann", USD="5000")
    world.account("bob", USD="20")  # 0.00004 BTC: fine for PAPER's minimum, so planned too
    world.account("cid", USD="5000", snapshot_at=timezone.now() - dt.timedelta(hours=2))
    with caplog.at_level(logging.INFO, logger="nija.copytrading"):
        signal, created = receive()
    assert created and signal.status == "OBSERVED" and signal.mode == "OBSERVE"
    orders = {o.account.user_id: o for o in CopyOrder.objects.select_related("account")}
    assert orders["ann"].status == "OBSERVED" and orders["ann"].quantity == D("0.01")
    assert orders["bob"].quantity == D("0.00004")
    assert (orders["cid"].status, orders["cid"].reason) == ("SKIPPED", "stale_balance")
    assert PaperOrder.objects.count() == 0
    assert "OBSERVE MODE - Signal Logged (NO TRADE EXECUTED)" in caplog.text
    assert "[observed signals: 1]" in caplog.text
    assert "ann: would buy 0.01 BTC/USD" in caplog.text and "cid: skipped (stale_balance)" in caplog.text


def test_planned_rows_read_back_exactly_as_planned(world, receive):
    """copy_orders_insert prepares columns itself (COPY on PostgreSQL): every planned value, and
    the model default of every column planning leaves unset, must come back from the database."""
    world.account("nija_master", master=True, USD="50000")
    world.account("ann", USD="5000")
    world.account("cid", USD="5000", snapshot_at=timezone.now() - dt.timedelta(hours=2))
    with mock.patch.object(planning, "copy_orders_insert", wraps=planning.copy_orders_insert) as insert:
        signal, _created = receive()
    planned = insert.call_args.args[0]
    assert len(planned) == 2
    stored = {o.account_id: o for o in CopyOrder.objects.filter(signal=signal)}
    for order in planned:
        row = stored[order.account_id]
        for name in planning.PlannedOrder.__dataclass_fields__:
            expected = getattr(order, name)
            assert getattr(row, name) == (expected.upper() if name == "quote_currency" else expected), name
        unset = (row.stop_state, row.claim_token, row.attempts, row.venue_order_id, row.fills_synced, row.claimed_at,
                 row.filled_quantity, row.fee_asset, row.ack_latency_ms)
        assert unset == ("", "", 0, "", False, None, None, "", None)
        assert row.updated_at is not None
    assert {o.status for o in stored.values()} == {"OBSERVED", "SKIPPED"}


def test_blocked_instrument_from_the_risk_profile_skips_that_follower_only(world, receive):
    world.account("nija_master", master=True, USD="50000")
    ann, _ = world.account("ann", risk={"blocked_instruments": ["btc-usd"]})
    world.account("bob", USD="5000")
    assert RiskProfile.objects.get(account=ann).blocked_instruments == ["BTC/USD"]
    signal, _ = receive()
    orders = {o.account.user_id: o for o in CopyOrder.objects.filter(signal=signal).select_related("account")}
    assert (orders["ann"].status, orders["ann"].reason) == ("SKIPPED", "instrument_blocked")
    assert orders["bob"].status == "OBSERVED"


def test_only_active_trading_accounts_are_followers_and_copy_switch_skips(world, receive):
    world.account("nija_master", master=True, USD="50000")
    ann, _ = world.account("ann")
    world.account("pending", USD="5000")
    account_trading_disable(actor="test", account=Account.objects.get(user_id="pending"), reason="paused")
    copy_settings_update(actor="cli:ops", account=ann, reason="user asked", copy_enabled=False)
    signal, _ = receive()
    orders = list(CopyOrder.objects.filter(signal=signal).select_related("account"))
    assert [(o.account.user_id, o.status, o.reason) for o in orders] == [("ann", "SKIPPED", "copy_disabled")]


def test_engine_off_stores_the_signal_and_plans_nothing(world, receive):
    world.account("ann")
    engine_mode_set(actor="cli:ops", mode="off", reason="maintenance")
    signal, _ = receive()
    assert signal.status == "IGNORED" and CopyOrder.objects.count() == 0


def test_sell_without_fraction_computes_it_from_the_master_position(world, receive):
    world.account("nija_master", master=True, USD="50000", BTC="0.2")
    world.account("ann", USD="5000", BTC="0.03")
    # Master snapshot taken before the trade: 0.05 of 0.2 held = 25%.
    signal, _ = receive(side="sell", amount="0.05", executed_at=(timezone.now() + dt.timedelta(seconds=5)).isoformat())
    assert signal.exit_fraction == D("0.25") and signal.exit_fraction_source == "computed"
    order = CopyOrder.objects.get(signal=signal)
    assert order.quantity == D("0.0075") and order.is_exit


# --- idempotent intake -------------------------------------------------------------------------
def test_duplicate_signal_creates_no_second_order(world, live, receive):
    world.account("nija_master", master=True, USD="50000")
    world.account("ann")
    first, created = receive()
    second, created_again = receive()
    assert created and not created_again and first.pk == second.pk
    assert CopyOrder.objects.count() == 1 and PaperOrder.objects.count() == 1
    assert MasterSignal.objects.count() == 1


def test_client_order_id_is_deterministic_short_and_venue_safe():
    cid = client_order_id_for(signal_id=12, account_id=34)
    assert cid == client_order_id_for(signal_id=12, account_id=34) != client_order_id_for(signal_id=12, account_id=35)
    assert len(cid) == 18 and cid.isalnum() and cid.islower()


# --- LIVE ---------------------------------------------------------------------------------------
def test_live_sends_one_order_per_follower_and_records_latency(world, live, receive):
    world.account("nija_master", master=True, USD="50000")
    world.account("ann", USD="5000")
    world.account("bob", USD="10000")
    signal, _ = receive()
    signal.refresh_from_db()
    orders = {o.account.user_id: o for o in CopyOrder.objects.select_related("account")}
    assert {o.status for o in orders.values()} == {"FILLED"}
    assert orders["bob"].filled_quantity == D("0.02") and orders["bob"].order_type == "ioc"
    assert orders["ann"].ack_latency_ms is not None and orders["ann"].venue_order_id
    assert PaperOrder.objects.count() == 2
    assert set(PaperOrder.objects.values_list("client_order_id", flat=True)) == {
        o.client_order_id for o in orders.values()}
    assert signal.status == "COMPLETED"


def test_a_chunk_takes_its_credentials_locks_together_and_one_paper_batch(world, live, receive, monkeypatch):
    from brokers import paper_venue
    from brokers.clients import locks
    from copytrading import execution

    world.account("nija_master", master=True, USD="50000")
    credentials = {world.account(name, USD="5000")[1].pk for name in ("ann", "bob", "cid")}
    held_blocks: list[set[int]] = []
    batches: list[int] = []
    hold, create = locks.credential_locks_hold, paper_venue.paper_orders_create

    def hold_spy(ids):
        held_blocks.append(set(ids))
        return hold(ids)

    def create_spy(calls):
        batches.append(len(calls))
        return create(calls)

    monkeypatch.setattr(execution, "credential_locks_hold", hold_spy)  # where the fan-out calls it
    monkeypatch.setattr(paper_venue, "paper_orders_create", create_spy)
    receive()
    assert held_blocks == [credentials]  # one block for the chunk, every credential in it
    assert batches == [3]  # the three orders reached PAPER as one batch, one transaction
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"FILLED"}


def test_timeout_after_accept_creates_no_duplicate(world, live, receive):
    world.account("nija_master", master=True, USD="50000")
    _, cred = world.account("ann")
    paper_behaviour_set(credential=cred, fault="timeout_after_accept", fault_count=1)
    receive()
    order = CopyOrder.objects.get()
    assert order.status == "FILLED" and "client order id" in order.detail
    assert PaperOrder.objects.filter(credential=cred).count() == 1


def test_server_error_before_accept_is_looked_up_then_sent_once(world, live, receive):
    world.account("nija_master", master=True, USD="50000")
    _, cred = world.account("ann")
    paper_behaviour_set(credential=cred, fault="server_error", fault_count=1, operations=["create_order"])
    receive()
    assert CopyOrder.objects.get().status == "FILLED"
    assert PaperOrder.objects.filter(credential=cred).count() == 1


def test_rate_limit_is_retried(world, live, receive):
    world.account("nija_master", master=True, USD="50000")
    _, cred = world.account("ann")
    paper_behaviour_set(credential=cred, fault="rate_limited", fault_count=1, operations=["create_order"])
    receive()
    assert CopyOrder.objects.get().status == "FILLED"


def test_venue_refusal_is_rejected_with_its_message(world, live, receive):
    world.account("nija_master", master=True, USD="50000")
    _, cred = world.account("ann")
    paper_behaviour_set(credential=cred, fault="insufficient_funds", fault_count=1)
    receive()
    order = CopyOrder.objects.get()
    assert order.status == "REJECTED" and "insufficient funds" in order.detail


def test_price_guard_skips_when_the_venue_price_moved(world, live, receive):
    world.account("nija_master", master=True, USD="50000")
    world.account("ann")
    paper_price_set(symbol="BTC/USD", price="50300")
    receive()
    order = CopyOrder.objects.get()
    assert (order.status, order.reason) == ("SKIPPED", "price_moved") and PaperOrder.objects.count() == 0


def test_exit_sells_pro_rata_and_never_more_than_held(world, live, receive):
    world.account("nija_master", master=True, USD="50000", BTC="0.2")
    world.account("ann", USD="5000", BTC="0.03")
    world.account("bob", USD="5000")
    signal, _ = receive(side="sell", amount="0.1", exit_fraction="0.5")
    orders = {o.account.user_id: o for o in CopyOrder.objects.filter(signal=signal).select_related("account")}
    assert orders["ann"].quantity == D("0.015") and orders["ann"].status == "FILLED"
    assert (orders["bob"].status, orders["bob"].reason) == ("SKIPPED", "no_position")
    full, _ = receive(source_id="m-124", side="sell", amount="0.1", exit_fraction="1")
    # The snapshot still says 0.03 (no audit ran), the venue holds 0.015: the venue refuses the
    # excess rather than the engine selling what is not there.
    assert CopyOrder.objects.get(signal=full, account__user_id="ann").status in ("FILLED", "REJECTED")


def test_below_exchange_minimum_is_skipped(world, live, receive):
    world.account("nija_master", master=True, USD="50000")
    world.account("tiny", USD="10", risk={"min_balance_to_copy": "1"})  # 0.00002 BTC = 1 USD cost: at minimum
    world.account("tinier", USD="9", risk={"min_balance_to_copy": "1"})  # 0.000018 -> 0.00001 = 0.5 USD < 1
    receive()
    orders = {o.account.user_id: o for o in CopyOrder.objects.select_related("account")}
    assert orders["tiny"].status == "FILLED"
    assert (orders["tinier"].status, orders["tinier"].reason) == ("SKIPPED", "below_exchange_minimum")


# --- crash recovery and reconciliation ------------------------------------------------------
def _planned_signal(world, receive, n=2):
    """A LIVE plan whose chunks have not run (as if the worker never got them)."""
    world.account("nija_master", master=True, USD="50000")
    for i in range(n):
        world.account(f"f{i}")
    engine_mode_set(actor="test", mode="live", reason="t", confirm_live=True)
    from unittest import mock

    with mock.patch("copytrading.planning.copy_orders_enqueue"):
        signal, _ = receive()
    return signal


def test_redelivered_chunk_looks_up_its_claimed_orders_before_resending(world, receive):
    signal = _planned_signal(world, receive, n=2)
    ids = list(CopyOrder.objects.filter(signal=signal).order_by("pk").values_list("pk", flat=True))
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"PLANNED"}
    # First delivery: claimed both, sent the first, then the worker died.
    CopyOrder.objects.filter(pk__in=ids).update(status="SUBMITTING", claim_token="task-1")
    first = CopyOrder.objects.get(pk=ids[0])
    from brokers.clients.registry import client_for
    from brokers.models import BrokerCredential
    from copytrading.execution import order_request_for

    client_for(BrokerCredential.objects.get(pk=first.credential_id)).create_order(order_request_for(first))
    report = copy_orders_execute(signal_id=signal.pk, order_ids=ids, claim_token="task-1")
    assert report.recovered == 2 and report.claimed == 0
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"FILLED"}
    assert PaperOrder.objects.count() == 2  # one each: the first was found, not resent
    assert "found at the venue" in CopyOrder.objects.get(pk=ids[0]).detail


def test_a_second_delivery_with_another_token_sends_nothing(world, receive):
    signal = _planned_signal(world, receive, n=1)
    ids = list(CopyOrder.objects.values_list("pk", flat=True))
    copy_orders_execute(signal_id=signal.pk, order_ids=ids, claim_token="a")
    report = copy_orders_execute(signal_id=signal.pk, order_ids=ids, claim_token="b")
    assert (report.claimed, report.recovered) == (0, 0) and PaperOrder.objects.count() == 1


def test_reconciliation_stores_fills_with_price_cost_and_fee(world, live, receive):
    world.account("nija_master", master=True, USD="50000")
    world.account("ann")
    receive()
    order = CopyOrder.objects.get()
    report = copy_orders_reconcile()
    assert report.fills_stored == 1
    fill = CopyFill.objects.get(copy_order=order)
    assert fill.amount == D("0.01") and fill.price == D("50000") and fill.cost == D("500")
    assert fill.fee == D("1.25") and fill.fee_asset == "USD"
    order.refresh_from_db()
    assert order.fills_synced
    assert copy_orders_reconcile().fills_stored == 0  # nothing twice


def test_reconciliation_recovers_a_quiet_submitting_order(world, receive, django_capture_on_commit_callbacks):
    signal = _planned_signal(world, receive, n=1)
    old = timezone.now() - dt.timedelta(minutes=10)
    CopyOrder.objects.update(status="SUBMITTING", claim_token="dead-task", claimed_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        report = copy_orders_reconcile()
    assert report.looked_up == 1 and report.requeued == 1
    assert CopyOrder.objects.get().status == "FILLED" and PaperOrder.objects.count() == 1
    signal.refresh_from_db()
    assert signal.status == "COMPLETED"


def test_leaving_live_before_a_chunk_runs_sends_nothing(world, receive):
    signal = _planned_signal(world, receive, n=2)
    ids = list(CopyOrder.objects.values_list("pk", flat=True))
    engine_mode_set(actor="cli:ops", mode="observe", reason="emergency stop")
    copy_orders_execute(signal_id=signal.pk, order_ids=ids)
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"CANCELED"}
    assert PaperOrder.objects.count() == 0
    signal.refresh_from_db()
    assert signal.status == "COMPLETED"


def test_account_switched_off_after_planning_is_not_sent(world, receive):
    signal = _planned_signal(world, receive, n=2)
    copy_settings_update(actor="cli:ops", account=Account.objects.get(user_id="f0"), reason="user asked",
                         copy_enabled=False)
    copy_orders_execute(signal_id=signal.pk, order_ids=list(CopyOrder.objects.values_list("pk", flat=True)))
    statuses = dict(CopyOrder.objects.values_list("account__user_id", "status"))
    assert statuses == {"f0": "CANCELED", "f1": "FILLED"} and PaperOrder.objects.count() == 1


@pytest.mark.parametrize("auto_suspend", [False, True])
def test_daily_loss_breach_blocks_entries_alerts_and_can_suspend(world, receive, time_machine, auto_suspend):
    from brokers.models import Alert

    time_machine.move_to(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC), tick=True)
    world.account("nija_master", master=True, USD="50000")
    ann, cred = world.account("ann", USD="4700", risk={"max_daily_loss_pct": "5",
                                                      "auto_suspend_on_daily_loss": auto_suspend})
    world.snapshot(ann, cred, fetched_at=timezone.now() - dt.timedelta(hours=3), USD="5000")  # start of day
    receive()
    order = CopyOrder.objects.get()
    assert (order.status, order.reason) == ("SKIPPED", "daily_loss_limit") and order.detail == "loss 6.00% >= limit 5%"
    assert Alert.objects.filter(account=ann, kind="DAILY_LOSS_LIMIT", status="OPEN").count() == 1
    assert AuditEvent.objects.filter(action="DAILY_LOSS_LIMIT_BREACH", target_id="ann").count() == 1
    ann.refresh_from_db()
    assert ann.status == ("SUSPENDED" if auto_suspend else "ACTIVE")


# --- engine-enforced stops ------------------------------------------------------------------
def test_engine_stop_sells_the_entry_when_the_price_falls_to_it(world, live, receive,
                                                                 django_capture_on_commit_callbacks):
    from copytrading.stops import copy_stops_enforce

    world.account("nija_master", master=True, USD="50000")
    _, cred = world.account("ann", risk={"stop_loss_required": True, "stop_loss_pct": "5"})
    receive()
    entry = CopyOrder.objects.get()
    assert (entry.status, entry.stop_mode, entry.stop_price, entry.stop_state) == \
        ("FILLED", "engine", D("47500.0"), "armed")
    paper_price_set(symbol="BTC/USD", price="47600")
    assert copy_stops_enforce()["triggered"] == 0
    paper_price_set(symbol="BTC/USD", price="47400")
    with django_capture_on_commit_callbacks(execute=True):
        assert copy_stops_enforce()["triggered"] == 1
    stop_order = CopyOrder.objects.get(signal__source="stop")
    assert (stop_order.side, stop_order.quantity, stop_order.status) == ("sell", D("0.01"), "FILLED")
    entry.refresh_from_db()
    assert entry.stop_state == "triggered"
    with django_capture_on_commit_callbacks(execute=True):
        assert copy_stops_enforce()["triggered"] == 0  # once only
    assert PaperOrder.objects.filter(credential=cred).count() == 2


def test_full_master_exit_clears_the_engine_stop(world, live, receive):
    world.account("nija_master", master=True, USD="50000", BTC="0.2")
    world.account("ann", USD="5000", BTC="0.01", risk={"stop_loss_required": True, "stop_loss_pct": "5"})
    receive()
    assert CopyOrder.objects.get().stop_state == "armed"
    receive(source_id="m-exit", side="sell", amount="0.2", exit_fraction="1")
    assert CopyOrder.objects.get(signal__source_id="m-123").stop_state == "cleared"


# --- master-fill polling ------------------------------------------------------------------------
def test_master_fill_polling_turns_new_master_fills_into_one_signal_each(world, time_machine):
    from brokers.clients.base import OrderRequest
    from brokers.clients.registry import client_for
    from copytrading.reconciliation import master_fills_poll

    time_machine.move_to(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC), tick=False)
    _, master_cred = world.account("nija_master", master=True, USD="50000")
    world.account("ann")
    assert master_fills_poll()["signals"] == 0  # the first poll only sets the cursor
    time_machine.shift(dt.timedelta(seconds=1))
    client_for(master_cred).create_order(OrderRequest(symbol="BTC/USD", side="buy", order_type="market",
                                                      amount=D("0.1"), client_order_id="master-1"))
    time_machine.shift(dt.timedelta(seconds=1))
    assert master_fills_poll()["signals"] == 1
    signal = MasterSignal.objects.get(source="poll")
    assert (signal.symbol, signal.side, signal.amount, signal.price) == ("BTC/USD", "buy", D("0.1"), D("50000"))
    assert CopyOrder.objects.get(signal=signal).status == "OBSERVED"
    assert master_fills_poll()["signals"] == 0  # nothing new, nothing twice


def test_a_signal_whose_planning_crashed_is_kept_and_planned_by_reconciliation(world, receive):
    from accounts.models import RiskProfile

    world.account("nija_master", master=True, USD="50000")
    ann, _ = world.account("ann")
    RiskProfile.objects.filter(account=ann).delete()  # broken data makes planning fail
    signal, created = receive()
    assert created and signal.status == "RECEIVED" and CopyOrder.objects.count() == 0
    RiskProfile.objects.create(account=ann, max_position_notional=D("5000"))  # repaired
    report = copy_orders_reconcile(now=timezone.now() + dt.timedelta(minutes=3))
    signal.refresh_from_db()
    assert report.replanned == 1 and signal.status == "OBSERVED" and CopyOrder.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_synchronous_venues_go_through_the_bounded_thread_pool(world, live, receive, monkeypatch):
    """alpaca-py is synchronous; the same path is exercised here with PAPER's synchronous client."""
    from copytrading import execution

    monkeypatch.setattr(execution, "THREADED_VENUES", frozenset({"paper"}))
    world.account("nija_master", master=True, USD="50000")
    world.account("ann")
    world.account("bob")
    receive()
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"FILLED"}
    assert PaperOrder.objects.count() == 2


def test_planning_prices_through_public_market_data_not_a_followers_failing_key(world, receive):
    world.account("nija_master", master=True, USD="50000")
    _, cred = world.account("ann")
    behaviour = paper_behaviour_set(credential=cred, fault="auth_failure", fault_count=5,
                                    operations=["fetch_markets", "fetch_price"])
    receive()
    order = CopyOrder.objects.get()
    assert (order.status, order.reason) == ("OBSERVED", "")
    behaviour.refresh_from_db()
    assert behaviour.fault_count == 5  # planning asked nothing through ann's key
