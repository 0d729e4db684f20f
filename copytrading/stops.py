"""Engine-enforced stop-losses, for venues whose client cannot place a stop order (all of them
today: see README "Copy engine"). An entry whose risk profile requires a stop is armed when it
fills; when the venue price falls to the stop price the engine sells what that entry bought (never
more than the latest snapshot says is held), through the same idempotent path as a copy: one
synthetic signal per stopped entry (source "stop"), one CopyOrder, deterministic client order id,
compare-and-set claim, lookup before any resend."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from brokers.clients.base import BrokerError
from brokers.market_data import venue_markets, venue_price
from brokers.selectors import credentials_active_by_id
from core.decimals import round_down_to_step

from .execution import copy_orders_enqueue
from .models import CopyOrder, EngineMode, MasterSignal
from .planning import client_order_id_for
from .selectors import balances_for_accounts, engine_mode_get

logger = logging.getLogger("nija.copytrading")


def copy_stops_enforce(*, limit: int = 1000) -> dict:
    """Check armed stops against venue prices (public market data); trigger those at or below
    their stop price."""
    result = {"armed": 0, "triggered": 0, "errors": []}
    if engine_mode_get() != EngineMode.Mode.LIVE:
        return result  # nothing is sent outside LIVE; armed stops wait
    armed = list(CopyOrder.objects.filter(stop_state="armed", stop_mode=CopyOrder.StopMode.ENGINE)
                 .select_related("account").order_by("id")[:limit])
    result["armed"] = len(armed)
    if not armed:
        return result
    creds = credentials_active_by_id(ids={o.credential_id for o in armed})
    prices: dict[tuple[str, str], object] = {}
    for order in armed:
        key = (order.venue, order.symbol)
        cred = creds.get(order.credential_id)
        if key in prices or cred is None:
            continue
        try:
            prices[key] = venue_price(venue=order.venue, symbol=order.symbol, sandbox=cred.is_paper,
                                      credential_id=cred.pk)
        except BrokerError as exc:
            prices[key] = None
            result["errors"].append(f"{order.venue} {order.symbol}: {exc.venue_message}")
    hit = [o for o in armed if prices.get((o.venue, o.symbol)) is not None and o.stop_price is not None
           and prices[(o.venue, o.symbol)] <= o.stop_price and o.credential_id in creds]
    if not hit:
        return result
    balances = balances_for_accounts(account_ids=[o.account_id for o in hit])
    for order in hit:
        price = prices[(order.venue, order.symbol)]
        qty = order.filled_quantity or order.quantity
        bal = balances.get(order.account_id)
        if bal and bal.fetched_at and order.acknowledged_at and bal.fetched_at > order.acknowledged_at:
            qty = min(qty, bal.holdings.get(order.venue, {}).get(order.symbol.split("/")[0], qty))
        cred = creds[order.credential_id]
        try:
            rules = venue_markets(venue=order.venue, sandbox=cred.is_paper, credential_id=cred.pk).get(order.symbol)
        except BrokerError as exc:  # the stop stays armed: the next run tries again
            result["errors"].append(f"{order.venue} markets: {exc.venue_message}")
            continue
        if rules is not None:
            qty = round_down_to_step(qty, rules.amount_step)
        with transaction.atomic():
            if CopyOrder.objects.filter(pk=order.pk, stop_state="armed").update(stop_state="triggered") != 1:
                continue  # another beat run took it
            if qty <= 0 or (rules and rules.min_amount and qty < rules.min_amount):
                logger.warning("stop of %s hit at %s but nothing sellable is left", order.client_order_id, price)
                continue
            try:
                stop_signal = MasterSignal.objects.create(
                    source=MasterSignal.Source.STOP, source_id=f"stop:{order.pk}", venue=order.venue,
                    symbol=order.symbol, side="sell", amount=qty, price=price, order_type="market",
                    master_order_id="", executed_at=timezone.now(), exit_fraction=None, mode=EngineMode.Mode.LIVE,
                    status=MasterSignal.Status.EXECUTING, planned_at=timezone.now(),
                    raw_payload={"stop_of": order.client_order_id, "stop_price": str(order.stop_price),
                                 "trigger_price": str(price)},
                )
            except IntegrityError:
                continue
            stop_order = CopyOrder.objects.create(
                signal=stop_signal, account=order.account, credential_id=order.credential_id, venue=order.venue,
                symbol=order.symbol, side="sell", order_type="market", is_exit=True, quantity=qty,
                notional=qty * price, quote_currency=order.quote_currency, reference_price=price,
                client_order_id=client_order_id_for(signal_id=stop_signal.pk, account_id=order.account_id),
                detail=f"engine stop of {order.client_order_id}: price {price} <= stop {order.stop_price}",
            )
            # On the stops queue too: a stop's sell must not wait behind reconciliation or reports.
            copy_orders_enqueue(signal_id=stop_signal.pk, order_ids=[stop_order.pk], queue=settings.NIJA_STOPS_QUEUE)
        result["triggered"] += 1
        logger.warning("STOP %s: %s sells %s %s (price %s <= stop %s)", order.account.user_id,
                       order.client_order_id, qty, order.symbol, price, order.stop_price)
    return result
