"""Demo for `make run`: the engine in OBSERVE, one follower on fixed-notional sizing, and two master
signals (an entry and a partial exit) so the admin shows the whole path: signal, plans, skips."""

from __future__ import annotations

from django.utils import timezone

from accounts.selectors import account_find
from brokers.paper_venue import paper_price_get
from core.decimals import format_decimal

from .models import EngineMode, MasterSignal
from .selectors import engine_mode_get
from .services import copy_settings_update, signal_receive

DEMO_ACTOR = "system:demo"


def demo_copytrading_seed() -> bool:
    """Returns False when the demo signals exist, or when the engine is not in OBSERVE (the demo
    never sends an order)."""
    if MasterSignal.objects.filter(source=MasterSignal.Source.MANUAL, source_id__startswith="demo-").exists():
        return False
    if engine_mode_get() != EngineMode.Mode.OBSERVE:
        return False
    tania = account_find(user_id="tania_gilbert")
    if tania is not None:
        copy_settings_update(actor=DEMO_ACTOR, account=tania, reason="demo: fixed 500 USD per entry",
                             sizing_mode="fixed_notional", fixed_notional="500")
    price = format_decimal(paper_price_get(symbol="BTC/USD"))
    now = timezone.now().isoformat()
    common = {"venue": "paper", "symbol": "BTC/USD", "price": price, "order_type": "market", "executed_at": now}
    signal_receive(source=MasterSignal.Source.MANUAL, data={
        **common, "source_id": "demo-1", "side": "buy", "amount": "0.05", "master_order_id": "DEMO-BUY-1"})
    signal_receive(source=MasterSignal.Source.MANUAL, data={
        **common, "source_id": "demo-2", "side": "sell", "amount": "0.25", "master_order_id": "DEMO-SELL-1",
        "exit_fraction": "0.5"})
    return True
