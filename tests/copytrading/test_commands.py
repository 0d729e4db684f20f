"""submit_signal, set_copy_mode, show_signal, and the admin pages of the copy engine."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

from accounts.roles import staff_groups_ensure
from copytrading.models import CopyOrder, CopySettings, EngineMode, MasterSignal

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


SUBMIT = ["submit_signal", "--source-id", "cli-1", "--symbol", "BTC/USD", "--side", "buy", "--amount", "0.1",
          "--price", "50000"]


def test_submit_signal_json_then_show_signal_json(world):
    world.account("nija_master", master=True, USD="50000")
    world.account("ann")
    world.account("bob", USD="3")
    body = json.loads(run(*SUBMIT, "--json"))
    assert body["created"] and body["copy_orders"]["observed"] == 1
    assert body["copy_orders"]["by_reason"] == {"below_min_balance": 1}
    again = json.loads(run(*SUBMIT, "--json"))
    assert not again["created"] and again["signal_id"] == body["signal_id"]
    shown = json.loads(run("show_signal", str(body["signal_id"]), "--json"))
    assert set(shown) == {"signal", "copy_orders"}
    assert shown["signal"]["symbol"] == "BTC/USD" and shown["signal"]["amount"] == "0.100000000000000000"
    rows = {r["account"]: r for r in shown["copy_orders"]}
    assert set(rows["ann"]) == {"account", "quantity", "notional", "status", "reason", "client_order_id"}
    assert rows["ann"]["quantity"] == "0.010000000000000000" and rows["ann"]["status"] == "OBSERVED"
    assert rows["bob"]["reason"] == "below_min_balance"
    human = run("show_signal", str(body["signal_id"]))
    assert "ann" in human and "below_min_balance" in human


def test_submit_signal_rejects_bad_input_with_one_line(world):
    with pytest.raises(CommandError, match="amount"):
        run("submit_signal", "--source-id", "x", "--symbol", "BTC/USD", "--side", "buy", "--amount", "abc",
            "--price", "1")
    assert MasterSignal.objects.count() == 0


def test_show_signal_unknown_id_fails():
    with pytest.raises(CommandError, match="no signal"):
        run("show_signal", "999")


def test_set_copy_mode_global_and_per_account(world):
    account, _ = world.account("ann")
    with pytest.raises(CommandError, match="confirm"):
        run("set_copy_mode", "live", "--reason", "go")
    assert "LIVE" in run("set_copy_mode", "live", "--reason", "go", "--confirm-live")
    assert EngineMode.current().mode == "LIVE"
    assert "off" in run("set_copy_mode", "off", "--reason", "user asked", "--account", "ann")
    assert CopySettings.objects.get(account=account).copy_enabled is False
    assert EngineMode.current().mode == "LIVE"
    run("set_copy_mode", "observe", "--reason", "back", "--account", "ann")
    assert CopySettings.objects.get(account=account).copy_enabled is True


def _staff(group: str) -> User:
    staff_groups_ensure()
    user = User.objects.create_user(f"{group}1", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def test_admin_pages_show_signal_counts_and_missed_trades(world, client):
    world.account("nija_master", master=True, USD="50000")
    world.account("ann")
    world.account("bob", USD="3")
    run(*SUBMIT)
    client.force_login(_staff("viewer"))
    signal = MasterSignal.objects.get()
    for url in ["/admin/copytrading/mastersignal/", f"/admin/copytrading/mastersignal/{signal.pk}/change/",
                f"/admin/copytrading/copyorder/?signal__id__exact={signal.pk}", "/admin/copytrading/missedtrade/",
                "/admin/copytrading/enginemode/", "/admin/copytrading/copyfill/"]:
        response = client.get(url)
        assert response.status_code == 200, url
    missed = client.get("/admin/copytrading/missedtrade/").content.decode()
    assert "below_min_balance" in missed and "bob" in missed
    assert "below_min_balance 1" in client.get("/admin/copytrading/mastersignal/").content.decode()
    detail = client.get(f"/admin/copytrading/mastersignal/{signal.pk}/change/").content.decode()
    assert "below_min_balance: 1" in detail


def test_admin_live_action_needs_the_operator_and_a_reason(world, client):
    EngineMode.current()
    client.force_login(_staff("viewer"))
    data = {"action": "mode_live", "_selected_action": ["1"], "apply": "1", "reason": "go"}
    client.post("/admin/copytrading/enginemode/", data)
    assert EngineMode.current().mode == "OBSERVE"
    client.force_login(_staff("operator"))
    client.post("/admin/copytrading/enginemode/", {**data, "reason": ""})
    assert EngineMode.current().mode == "OBSERVE"
    client.post("/admin/copytrading/enginemode/", data)
    assert EngineMode.current().mode == "LIVE"
    assert CopyOrder.objects.count() == 0


def test_demo_seed_plans_in_observe_and_runs_once(db):
    from brokers.models import PaperOrder
    from reporting.demo import demo_seed

    results = demo_seed()
    assert results["copytrading.demo.demo_copytrading_seed"] is True
    assert set(MasterSignal.objects.values_list("status", flat=True)) == {"OBSERVED"}
    statuses = dict(CopyOrder.objects.filter(signal__source_id="demo-1").values_list("account__user_id", "status"))
    # daivon already holds 20% of equity in BTC; tania is on fixed 500 USD per entry.
    assert statuses == {"daivon_frazier": "SKIPPED", "tania_gilbert": "OBSERVED"}
    assert CopyOrder.objects.get(signal__source_id="demo-1", account__user_id="daivon_frazier").reason == \
        "max_position_pct"
    exit_orders = dict(CopyOrder.objects.filter(signal__source_id="demo-2")
                       .values_list("account__user_id", "reason"))
    assert exit_orders == {"daivon_frazier": "", "tania_gilbert": "no_position"}
    assert PaperOrder.objects.count() == 0
    assert demo_seed()["copytrading.demo.demo_copytrading_seed"] is False


def test_admin_copy_settings_change_goes_through_the_service_with_a_reason(world, client):
    from compliance.models import AuditEvent

    account, _ = world.account("ann")
    client.force_login(_staff("operator"))
    url = "/admin/copytrading/copysettings/add/"
    form = {"account": account.pk, "copy_enabled": "on", "sizing_mode": "fixed_notional", "multiplier": "1",
            "fixed_notional": "", "change_reason": "asked by phone"}
    response = client.post(url, form)
    assert response.status_code == 200 and "needs an amount" in response.content.decode()
    assert not CopySettings.objects.exists()
    client.post(url, {**form, "fixed_notional": "250"})
    settings_row = CopySettings.objects.get(account=account)
    assert settings_row.fixed_notional == 250 and settings_row.reason == "asked by phone"
    assert AuditEvent.objects.filter(action="COPY_SETTINGS_UPDATE", target_id="ann").count() == 1


def test_submit_signal_wait_prints_the_plan(world):
    world.account("nija_master", master=True, USD="50000")
    world.account("ann")
    human = run(*SUBMIT, "--wait")
    assert "stored (OBSERVED" in human and "copy orders: planned 0, observed 1, skipped 0" in human


def test_submit_signal_wait_gives_up_with_one_line_when_no_worker_plans(world, monkeypatch):
    world.account("ann")
    monkeypatch.setattr("copytrading.management.commands.submit_signal.signal_plan_enqueue", lambda signal: True)
    with pytest.raises(CommandError, match=r"not planned within 0.5 s; is a worker running"):
        run(*SUBMIT, "--wait", "--wait-timeout", "0.5")
    assert MasterSignal.objects.get().status == "RECEIVED"  # stored: the sweep plans it later


def test_submit_signal_too_old_is_stored_expired_and_says_so(world):
    world.account("ann")
    with pytest.raises(CommandError, match="expired and will not be copied"):
        run(*SUBMIT, "--executed-at", "2026-01-01T00:00:00Z")
    assert MasterSignal.objects.get().status == "EXPIRED" and CopyOrder.objects.count() == 0
