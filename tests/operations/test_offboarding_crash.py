"""`offboard_user` is killed with SIGKILL while it closes positions, then run again: every position
is sold exactly once at the PAPER venue and the offboarding finishes. What recovers: the stored
close signals (planning twice finds them), the compare-and-set claim, and the lookup by client
order id of the order the dead process had claimed (same claim token) before anything is resent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

from django.conf import settings
from django.db.models import Count

from accounts.models import Account
from brokers.models import PaperBalance, PaperOrder
from brokers.paper_venue import paper_behaviour_set
from copytrading.models import CopyOrder
from copytrading.services import engine_mode_set
from operations.models import Offboarding
from tests.conftest import subprocess_env
from tests.copytrading.conftest import World

LATENCY_MS = 600
DEADLINE_S = 90
ASSETS = {"USD": "1000", "BTC": "0.02", "ETH": "0.5", "SOL": "3"}


def _offboard(env: dict, log, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "offboard_user", "leaver", "--wait", "30", *extra],
        cwd=settings.BASE_DIR, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def test_killed_offboarding_rerun_sells_every_position_exactly_once(transactional_db, make_account, tmp_path):
    world = World(make_account=make_account)
    world.account("nija_master", master=True, USD="50000")
    account, cred = world.account("leaver", **ASSETS)
    paper_behaviour_set(credential=cred, latency_ms=LATENCY_MS)
    engine_mode_set(actor="test", mode="live", reason="crash test", confirm_live=True)
    # File locks (the kernel frees a dead process's locks), as in the embedded mode.
    env = subprocess_env(REDIS_URL="")
    log = tmp_path / "offboard.log"
    deadline = time.monotonic() + DEADLINE_S

    first = _offboard(env, log, "--reason", "investor left", "--confirm")
    try:
        while time.monotonic() < deadline and not PaperOrder.objects.filter(credential=cred).exists():
            assert first.poll() is None, f"finished before the kill:\n{log.read_text()[-3000:]}"
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    at_kill = PaperOrder.objects.filter(credential=cred).count()
    assert 1 <= at_kill < 3, f"not killed in the middle: {at_kill} orders"
    assert Account.objects.get(pk=account.pk).status == "OFFBOARDING"

    second = _offboard(env, log)
    assert second.wait(timeout=max(1, deadline - time.monotonic())) == 0, log.read_text()[-3000:]

    per_symbol = dict(PaperOrder.objects.filter(credential=cred).values_list("symbol").annotate(n=Count("id"))
                      .values_list("symbol", "n"))
    assert per_symbol == {"BTC/USD": 1, "ETH/USD": 1, "SOL/USD": 1}, log.read_text()[-3000:]
    closes = CopyOrder.objects.filter(account=account, signal__source="offboard")
    assert sorted(closes.values_list("symbol", "status")) == [
        ("BTC/USD", "FILLED"), ("ETH/USD", "FILLED"), ("SOL/USD", "FILLED")]
    assert set(closes.values_list("client_order_id", flat=True)) == \
        set(PaperOrder.objects.filter(credential=cred).values_list("client_order_id", flat=True))
    for asset in ("BTC", "ETH", "SOL"):
        row = PaperBalance.objects.get(credential=cred, asset=asset)
        assert row.free + row.used == Decimal("0")
    assert Offboarding.objects.get(account=account).is_done
    assert Account.objects.get(pk=account.pk).status == "INACTIVE"
    assert "leaver offboarded." in log.read_text()
