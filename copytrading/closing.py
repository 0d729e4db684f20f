"""Closing an account's positions (offboarding) through the copy engine's own path: one synthetic
signal per (credential, asset, attempt) (source "offboard"), one CopyOrder with its deterministic
client order id, the compare-and-set claim and the lookup by client order id before any resend
(execution.copy_orders_execute). Planning a close twice finds the stored signal: never a second
order for the same position while the first can still fill."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from brokers.clients.base import BrokerError
from brokers.market_data import venue_markets, venue_price
from brokers.selectors import balance_rows_latest_ok, credential_rows_active
from brokers.services import balance_audit_run
from core.assets import CASH_ASSETS
from core.decimals import round_down_to_step

from .execution import copy_orders_execute
from .models import CopyOrder, EngineMode, MasterSignal
from .planning import client_order_id_for
from .selectors import engine_mode_get

if TYPE_CHECKING:
    from accounts.models import Account

logger = logging.getLogger("nija.copytrading")

CLOSE_QUOTES = ("USD", "USDT", "USDC")  # the first listed pair of these closes an asset
MAX_CLOSE_ATTEMPTS = 3  # a close refused by the venue is tried again at most this often
OPEN_STATUSES = (CopyOrder.Status.PLANNED, CopyOrder.Status.SUBMITTING, CopyOrder.Status.OPEN)
DONE_STATUSES = (CopyOrder.Status.FILLED, CopyOrder.Status.PARTIALLY_FILLED, CopyOrder.Status.OBSERVED)


@dataclass
class CloseState:
    """Where closing one account's positions stands."""

    orders: list[CopyOrder] = field(default_factory=list)  # the latest attempt per position
    waiting: list[str] = field(default_factory=list)  # why the step is not done yet
    blocked: list[str] = field(default_factory=list)  # what needs staff (a close refused every time)
    left: list[dict] = field(default_factory=list)  # held, but nothing the venue would take (dust)

    @property
    def open_orders(self) -> list[CopyOrder]:
        return [o for o in self.orders if o.status in OPEN_STATUSES]

    @property
    def done(self) -> bool:
        return not self.waiting and not self.blocked and not self.open_orders


def _close_source_id(key: str, credential_id: int, asset: str, attempt: int) -> str:
    return f"offboard:{key}:{credential_id}:{asset}:{attempt}"


def _close_orders(*, key: str, account_id: int) -> dict[tuple[int, str], list[CopyOrder]]:
    """(credential id, asset) -> that position's close orders, oldest attempt first."""
    found: dict[tuple[int, str], list[CopyOrder]] = {}
    orders = (CopyOrder.objects.filter(account_id=account_id, signal__source=MasterSignal.Source.OFFBOARD,
                                       signal__source_id__startswith=f"offboard:{key}:")
              .select_related("signal").order_by("pk"))
    for order in orders:
        _, _, cred, asset, _ = order.signal.source_id.split(":")
        found.setdefault((int(cred), asset), []).append(order)
    return found


def _holdings(account_id: int) -> dict[tuple[int, str], Decimal]:
    held: dict[tuple[int, str], Decimal] = {}
    for cred, asset, total in balance_rows_latest_ok(account_ids=[account_id],
                                                     columns=("credential_id", "asset", "total")):
        asset = (asset or "").upper()
        if asset and asset not in CASH_ASSETS and total and total > 0:
            held[(cred, asset)] = held.get((cred, asset), Decimal("0")) + total
    return held


def _close_market(credential: dict, asset: str):
    markets = venue_markets(venue=credential["venue"], sandbox=credential["is_paper"], credential_id=credential["id"])
    for quote in CLOSE_QUOTES:
        rules = markets.get(f"{asset}/{quote}")
        if rules is not None and rules.active:
            return rules
    return None


def positions_close_state(*, account: Account, key: str) -> CloseState:
    """The close orders of this offboarding as they stand (no venue call)."""
    state = CloseState()
    for attempts in _close_orders(key=key, account_id=account.pk).values():
        state.orders.append(attempts[-1])
    return state


def positions_close_plan(*, account: Account, key: str) -> CloseState:
    """Read the account's holdings fresh from its venues, then plan a market sell of each non-cash
    asset not yet closing: idempotent on (offboarding key, credential, asset, attempt), so a re-run
    plans nothing twice. LIVE: the orders are PLANNED for `positions_close_execute`; OBSERVE/OFF:
    they are stored OBSERVED (what would have been sold) and nothing is sent."""
    state = CloseState()
    credentials = {c["id"]: c for c in credential_rows_active(account_ids=[account.pk])}
    audit = balance_audit_run(account_ids=[account.pk])
    for failure in audit.failures:
        state.waiting.append(f"a balance reading of {failure['venue']} ({failure['error']})")
    if state.waiting:
        return state
    existing = _close_orders(key=key, account_id=account.pk)
    held = _holdings(account.pk)
    mode = engine_mode_get()
    for position in sorted(set(held) | set(existing)):
        cred_id, asset = position
        attempts = existing.get(position, [])
        latest = attempts[-1] if attempts else None
        if latest is not None and (latest.status in OPEN_STATUSES or latest.status in DONE_STATUSES):
            state.orders.append(latest)
            continue
        if position not in held:
            if latest is not None:
                state.orders.append(latest)
            continue  # sold meanwhile (or never held): nothing to close
        if len(attempts) >= MAX_CLOSE_ATTEMPTS:
            state.orders.append(latest)
            state.blocked.append(f"the close of {asset} was refused {len(attempts)} times "
                                 f"({latest.status}: {latest.detail[:200]})")
            continue
        credential = credentials.get(cred_id)
        if credential is None:
            continue  # the reading was of a credential no longer active
        try:
            rules = _close_market(credential, asset)
            if rules is None:
                state.left.append({"venue": credential["venue"], "asset": asset, "quantity": held[position],
                                   "why": f"no {asset}/USD market on {credential['venue']}"})
                continue
            price = venue_price(venue=credential["venue"], symbol=rules.symbol, sandbox=credential["is_paper"],
                                credential_id=cred_id)
        except BrokerError as exc:
            state.waiting.append(f"{credential['venue']} market data for {asset} ({exc.venue_message})")
            continue
        quantity = round_down_to_step(held[position], rules.amount_step)
        if quantity <= 0 or (rules.min_amount and quantity < rules.min_amount) or (
                rules.min_cost and quantity * price < rules.min_cost):
            state.left.append({"venue": credential["venue"], "asset": asset, "quantity": held[position],
                               "why": "below the venue's minimum order (dust)"})
            continue
        order = _close_order_create(account=account, key=key, credential=credential, rules=rules, price=price,
                                    quantity=quantity, attempt=len(attempts), mode=mode)
        state.orders.append(order)
    return state


def _close_order_create(*, account: Account, key: str, credential: dict, rules, price: Decimal,
                        quantity: Decimal, attempt: int, mode: str) -> CopyOrder:
    live = mode == EngineMode.Mode.LIVE
    source_id = _close_source_id(key, credential["id"], rules.base, attempt)
    now = timezone.now()
    try:
        with transaction.atomic():
            signal = MasterSignal.objects.create(
                source=MasterSignal.Source.OFFBOARD, source_id=source_id, venue=credential["venue"],
                symbol=rules.symbol, side="sell", amount=quantity, price=price, order_type="market",
                executed_at=now, exit_fraction=Decimal("1"), mode=mode, planned_at=now,
                status=MasterSignal.Status.EXECUTING if live else MasterSignal.Status.OBSERVED,
                raw_payload={"offboarding": key, "account": account.user_id, "attempt": attempt},
            )
            return CopyOrder.objects.create(
                signal=signal, account=account, credential_id=credential["id"], venue=credential["venue"],
                symbol=rules.symbol, side="sell", order_type="market", is_exit=True, quantity=quantity,
                notional=quantity * price, quote_currency=rules.quote, reference_price=price,
                client_order_id=client_order_id_for(signal_id=signal.pk, account_id=account.pk),
                status=CopyOrder.Status.PLANNED if live else CopyOrder.Status.OBSERVED,
                detail=f"offboarding: close {quantity} {rules.base}" + ("" if live else f" (engine {mode}: not sent)"),
            )
    except IntegrityError:  # a concurrent run planned this very attempt: use its order
        return CopyOrder.objects.select_related("signal").get(signal__source=MasterSignal.Source.OFFBOARD,
                                                              signal__source_id=source_id)


def positions_close_execute(*, orders: list[CopyOrder], token: str) -> None:
    """Send the PLANNED close orders (and look up the SUBMITTING ones a killed run left under the
    same token) through the engine's execution path."""
    by_signal: dict[int, list[int]] = {}
    for order in orders:
        if order.status in (CopyOrder.Status.PLANNED, CopyOrder.Status.SUBMITTING):
            by_signal.setdefault(order.signal_id, []).append(order.pk)
    for signal_id, ids in sorted(by_signal.items()):
        copy_orders_execute(signal_id=signal_id, order_ids=ids, claim_token=token)
    for order in orders:
        order.refresh_from_db()
