"""PAPER: a simulated exchange persisted in the database, the embedded default and the test double
for everything above the broker layer.

Per credential it keeps balances, orders (deduplicated by client order id like real venues), fills,
latency and injected faults. Markets have real-looking steps and minimums, market orders fill at
the current price with a taker fee, IOC limit orders fill only when the price is within the limit.
The functions here are the venue side; brokers.clients.paper is the client that calls them."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.assets import asset_code
from core.db import rows_insert, rows_select, rows_update
from core.decimals import round_down_to_step, to_decimal
from core.errors import ApplicationError
from core.validation import model_values_check

from .clients.base import (
    AssetBalance,
    BrokerAmbiguousError,
    BrokerAuthenticationError,
    BrokerError,
    BrokerInsufficientFundsError,
    BrokerInvalidOrderError,
    BrokerRateLimitedError,
    BrokerUnavailableError,
    MarketRules,
    OrderRequest,
    OrderResult,
    PermissionReport,
    Trade,
)
from .models import BrokerCredential, PaperBalance, PaperBehaviour, PaperOrder, PaperPrice, PaperTrade

VENUE = "paper"
TAKER_FEE_RATE = Decimal("0.0025")  # 0.25%, charged in the quote asset
FEE_QUANTUM = Decimal("0.00000001")


def _rules(symbol: str, step: str, tick: str, min_amount: str, min_cost: str) -> MarketRules:
    base, quote = symbol.split("/")
    return MarketRules(
        symbol=symbol, base=base, quote=quote, amount_step=Decimal(step), price_tick=Decimal(tick),
        min_amount=Decimal(min_amount), min_cost=Decimal(min_cost),
    )


PAPER_MARKETS: dict[str, MarketRules] = {
    "BTC/USD": _rules("BTC/USD", "0.00001", "0.1", "0.00001", "1"),
    "ETH/USD": _rules("ETH/USD", "0.0001", "0.01", "0.0001", "1"),
    "SOL/USD": _rules("SOL/USD", "0.001", "0.001", "0.01", "1"),
    "BTC/USDT": _rules("BTC/USDT", "0.00001", "0.1", "0.00001", "1"),
}
DEFAULT_PRICES: dict[str, Decimal] = {
    "BTC/USD": Decimal("50000"), "ETH/USD": Decimal("3000"), "SOL/USD": Decimal("150"), "BTC/USDT": Decimal("50000"),
}
FAULTS = [f for f in PaperBehaviour.Fault.values if f]
# Faults that only make sense on an order hit create_order by default; the others hit any call.
ORDER_ONLY_FAULTS = {"timeout_after_accept", "insufficient_funds"}
OPERATIONS = (
    "fetch_balances", "fetch_markets", "fetch_price", "create_order", "fetch_order_by_client_id",
    "fetch_my_trades", "cancel_order", "check_permissions",
)


# --- operator / test controls ---------------------------------------------------------------
def _market(symbol: str) -> MarketRules:
    market = PAPER_MARKETS.get(symbol)
    if market is None:
        raise ApplicationError(f"PAPER has no market '{symbol}'; markets: {', '.join(PAPER_MARKETS)}")
    return market


def paper_price_get(*, symbol: str) -> Decimal:
    _market(symbol)
    row = PaperPrice.objects.filter(symbol=symbol).values_list("price", flat=True).first()
    return row if row is not None else DEFAULT_PRICES[symbol]


def paper_price_set(*, symbol: str, price: Decimal | str) -> Decimal:
    market = _market(symbol)
    value = to_decimal(price, field="price")
    if value <= 0:
        raise ApplicationError("price must be positive")
    value = round_down_to_step(value, market.price_tick)
    if value <= 0:
        raise ApplicationError(f"price is below the tick {market.price_tick}")
    with transaction.atomic():
        PaperPrice.objects.update_or_create(symbol=symbol, defaults={"price": value})
        _resting_orders_fill(market, value)
    return value


def _resting_orders_fill(market: MarketRules, price: Decimal) -> int:
    """Open limit orders the new price reaches fill at their limit, like a maker fill."""
    crossing = PaperOrder.objects.select_for_update().filter(symbol=market.symbol, status="open").filter(
        Q(side="buy", limit_price__gte=price) | Q(side="sell", limit_price__lte=price)
    ).order_by("created_at", "pk")
    filled = 0
    now = timezone.now()
    for order in crossing:
        cost = order.amount * order.limit_price
        fee = (cost * TAKER_FEE_RATE).quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN)
        base = _balance_row(order.credential_id, market.base)
        quote = _balance_row(order.credential_id, market.quote)
        if order.side == "buy":
            quote.used -= order.reserved
            quote.free += order.reserved - cost - fee
            base.free += order.amount
        else:
            base.used -= order.reserved
            quote.free += cost - fee
        if quote.free < 0:  # the reservation rounded a hair short: take it from free, never below zero
            quote.free = Decimal(0)
        base.save(update_fields=["free", "used"])
        quote.save(update_fields=["free", "used"])
        order.status, order.filled, order.average_price = "filled", order.amount, order.limit_price
        order.cost, order.fee, order.fee_asset, order.reserved = cost, fee, market.quote, Decimal(0)
        order.save(update_fields=["status", "filled", "average_price", "cost", "fee", "fee_asset", "reserved"])
        PaperTrade.objects.create(
            credential_id=order.credential_id, order=order, trade_id=f"PT-{uuid.uuid4().hex[:20]}",
            symbol=order.symbol, side=order.side, amount=order.amount, price=order.limit_price, cost=cost, fee=fee,
            fee_asset=market.quote, occurred_at=now,
        )
        filled += 1
    return filled


def paper_prices_walk(*, seed: int | None = None, steps: int = 1, volatility: Decimal = Decimal("0.002")) -> dict:
    """Move every price by a seeded random walk (the demo's price feed)."""
    rng = random.Random(seed)
    prices = {}
    for symbol in PAPER_MARKETS:
        price = paper_price_get(symbol=symbol)
        for _ in range(steps):
            move = Decimal(str(round(rng.uniform(-1, 1), 6))) * volatility
            price = price * (1 + move)
        prices[symbol] = paper_price_set(symbol=symbol, price=price)
    return prices


def _paper_credential(credential: BrokerCredential) -> BrokerCredential:
    if credential.venue != VENUE:
        raise ApplicationError(f"credential {credential} is not a PAPER credential")
    return credential


def paper_fund(*, credential: BrokerCredential, asset: str, amount: Decimal | str) -> Decimal:
    """Deposit (or, with a negative amount, withdraw) simulated funds. Returns the new free balance."""
    _paper_credential(credential)
    asset = asset_code(asset)
    if not asset.isalnum():
        raise ApplicationError(f"'{asset}' is not an asset code")
    value = to_decimal(amount, field="amount")
    if value == 0:
        raise ApplicationError("amount must not be zero")
    # the columns' limits, before any write (found by the command fuzz: DataError on PostgreSQL)
    model_values_check(PaperBalance, {"asset": asset, "free": value}, labels={"free": "amount"})
    with transaction.atomic():
        row, _ = PaperBalance.objects.get_or_create(credential=credential, asset=asset)
        row = PaperBalance.objects.select_for_update().get(pk=row.pk)
        if row.free + value < 0:
            raise ApplicationError(f"cannot withdraw {-value} {asset}: only {row.free} free")
        model_values_check(PaperBalance, {"free": row.free + value}, labels={"free": "the new balance"})
        row.free = row.free + value
        row.save(update_fields=["free"])
    return row.free


def paper_behaviour_set(
    *, credential: BrokerCredential, latency_ms: int | None = None, fault: str | None = None, fault_count: int = 1,
    operations: list[str] | None = None,
) -> PaperBehaviour:
    """Latency per call and an injected fault for the next `fault_count` matching calls.
    fault="" clears it. `operations` limits the fault to those calls (default: create_order for
    timeout_after_accept / insufficient_funds, any call for the others)."""
    _paper_credential(credential)
    if fault and fault not in FAULTS:
        raise ApplicationError(f"fault must be one of {', '.join(FAULTS)}")
    if latency_ms is not None and latency_ms < 0:
        raise ApplicationError("latency_ms cannot be negative")
    for op in operations or []:
        if op not in OPERATIONS:
            raise ApplicationError(f"unknown operation '{op}'")
    behaviour, _ = PaperBehaviour.objects.get_or_create(credential=credential)
    if latency_ms is not None:
        behaviour.latency_ms = latency_ms
    if fault is not None:
        behaviour.fault = fault
        behaviour.fault_count = fault_count if fault else 0
        if operations is None:
            operations = ["create_order"] if fault in ORDER_ONLY_FAULTS else []
        behaviour.fault_operations = list(operations)
    behaviour.save()
    return behaviour


# --- the venue side of each call --------------------------------------------------------------
def _fault_take(behaviour: tuple, operation: str) -> tuple[float, str]:
    """Returns (latency in seconds, fault to apply now or "")."""
    behaviour_id, latency_ms, fault, fault_count, fault_operations = behaviour
    if behaviour_id is None:
        return 0.0, ""
    latency = latency_ms / 1000
    if not fault or fault_count <= 0:
        return latency, ""
    if fault_operations and operation not in fault_operations:
        return latency, ""
    # Compare-and-set so N injected faults fire exactly N times across processes.
    taken = PaperBehaviour.objects.filter(pk=behaviour_id, fault_count__gt=0).update(fault_count=F("fault_count") - 1)
    return latency, fault if taken else ""


def _fault_error(fault: str, operation: str) -> BrokerError | None:
    """The error an injected fault raises before the venue does the work (timeout_after_accept
    strikes after it: the caller handles that one)."""
    if fault == "auth_failure":
        return BrokerAuthenticationError("EAPI:Invalid key (injected)", venue=VENUE)
    if fault == "rate_limited":
        return BrokerRateLimitedError("429 Too Many Requests (injected)", venue=VENUE)
    if fault == "server_error":
        if operation == "create_order":  # a 5xx after sending: outcome unknown to the client
            return BrokerAmbiguousError("502 Bad Gateway (injected)", venue=VENUE)
        return BrokerUnavailableError("503 Service Unavailable (injected)", venue=VENUE)
    if fault == "insufficient_funds":
        return BrokerInsufficientFundsError("insufficient funds (injected)", venue=VENUE)
    return None


def paper_call(
    credential_id: int, operation: str, fn: Callable[..., Any], *args: Any
) -> tuple[Any, BaseException | None, float]:
    """Run one venue operation: returns (result, error, latency seconds). The client sleeps the
    latency (inside its credential lock) before returning the result or raising the error."""
    row = _credential_states({credential_id}).get(credential_id)
    if row is None or row[0] != BrokerCredential.Status.ACTIVE:
        return None, BrokerAuthenticationError("API key is not active", venue=VENUE), 0.0
    latency, fault = _fault_take(row[1:], operation)
    error = _fault_error(fault, operation)
    if error is not None:
        return None, error, latency
    try:
        result = fn(credential_id, *args)
        if fault == "timeout_after_accept":
            raise BrokerAmbiguousError("request timed out after the venue accepted it (injected)", venue=VENUE)
        return result, None, latency
    except BrokerError as exc:
        return None, exc, latency


def _credential_states(credential_ids: set[int]) -> dict[int, tuple]:
    """For each credential: (status, behaviour id, latency_ms, fault, fault_count, fault_operations);
    a credential without behaviour has no latency and no fault."""
    ids = sorted(credential_ids)
    behaviours = {cid: row for cid, *row in rows_select(
        PaperBehaviour, ["credential_id", "id", "latency_ms", "fault", "fault_count", "fault_operations"],
        where_in={"credential_id": ids})}
    states = {}
    for cid, status in rows_select(BrokerCredential, ["id", "status"], where_in={"id": ids}):
        behaviour_id, latency_ms, fault, fault_count, operations = behaviours.get(cid, (None, None, None, None, None))
        states[cid] = (status, behaviour_id, latency_ms, fault, fault_count, operations or [])
    return states


def _balances(credential_id: int) -> dict[str, AssetBalance]:
    rows = rows_select(PaperBalance, ["asset", "free", "used"], where={"credential_id": credential_id},
                       order_by=["asset"])
    return {asset: AssetBalance(asset=asset, free=free, used=used, total=free + used) for asset, free, used in rows}


def paper_markets() -> dict[str, MarketRules]:
    """The venue's public market list: every key sees the same."""
    return dict(PAPER_MARKETS)


def paper_quote(symbol: str) -> Decimal:
    """The venue's public price of `symbol`; an unknown symbol is refused as a venue would."""
    if symbol not in PAPER_MARKETS:
        raise BrokerInvalidOrderError(f"unknown symbol {symbol}", venue=VENUE)
    return paper_price_get(symbol=symbol)


def _markets(credential_id: int) -> dict[str, MarketRules]:
    return paper_markets()


def _price(credential_id: int, symbol: str) -> Decimal:
    return paper_quote(symbol)


def _result(order: PaperOrder) -> OrderResult:
    return OrderResult(
        venue_order_id=order.venue_order_id, client_order_id=order.client_order_id, symbol=order.symbol,
        side=order.side, status=order.status, amount=order.amount, filled=order.filled,
        average_price=order.average_price, cost=order.cost, fee=order.fee, fee_asset=order.fee_asset or None,
        acknowledged_at=order.created_at,
        raw={"id": order.venue_order_id, "clientOrderId": order.client_order_id, "status": order.status},
    )


def _balance_row(credential_id: int, asset: str) -> PaperBalance:
    row, _ = PaperBalance.objects.get_or_create(credential_id=credential_id, asset=asset)
    return PaperBalance.objects.select_for_update().get(pk=row.pk)


# create_order is the hot path of a copy fan-out (thousands of calls per signal). The venue takes
# orders in batches, like a matching engine's group commit: one transaction and a fixed handful of
# statements per batch, whatever its size. A single order is a batch of one: one code path.
MAX_ORDER_BATCH = 1000


def _balances_locked(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], PaperBalance]:
    """The balance rows of these (credential, asset) pairs, locked FOR UPDATE in id order (two
    batches sharing credentials lock alike, so they queue instead of deadlocking). A missing row
    (first trade in an asset) is created first; ON CONFLICT lets a concurrent creator win."""
    credentials, assets = sorted({c for c, _ in pairs}), sorted({a for _, a in pairs})
    for _ in range(2):
        rows = {(cid, asset): PaperBalance(id=pk, credential_id=cid, asset=asset, free=free, used=used)
                for pk, cid, asset, free, used in rows_select(
                    PaperBalance, ["id", "credential_id", "asset", "free", "used"],
                    where_in={"credential_id": credentials, "asset": assets}, order_by=["id"], for_update=True)
                if (cid, asset) in pairs}
        missing = sorted(pairs - rows.keys())
        if not missing:
            break
        PaperBalance.objects.bulk_create([PaperBalance(credential_id=cid, asset=asset) for cid, asset in missing],
                                         ignore_conflicts=True)
    return rows


def _orders_existing(keys: set[tuple[int, str]]) -> dict[tuple[int, str], PaperOrder]:
    """Orders already stored under these (credential, client order id) keys (a resend: rare, so
    only their ids are looked up on every batch)."""
    ids = [pk for pk, cid, client_id in rows_select(
        PaperOrder, ["id", "credential_id", "client_order_id"],
        where_in={"credential_id": sorted({c for c, _ in keys}), "client_order_id": sorted({k for _, k in keys})})
        if (cid, client_id) in keys]
    return {(o.credential_id, o.client_order_id): o for o in PaperOrder.objects.filter(pk__in=ids)} if ids else {}


def _prices(symbols: set[str]) -> dict[str, Decimal]:
    stored = dict(rows_select(PaperPrice, ["symbol", "price"], where_in={"symbol": sorted(symbols)}))
    return {symbol: stored.get(symbol, DEFAULT_PRICES[symbol]) for symbol in symbols}


def _order_check(request: OrderRequest) -> MarketRules:
    """The venue's refusals that need no state: symbol, client order id, step, minimum, type, side."""
    market = PAPER_MARKETS.get(request.symbol)
    if market is None:
        raise BrokerInvalidOrderError(f"unknown symbol {request.symbol}", venue=VENUE)
    if not request.client_order_id or len(request.client_order_id) > 64:
        raise BrokerInvalidOrderError("client order id is required (at most 64 characters)", venue=VENUE)
    amount = request.amount
    if amount <= 0 or round_down_to_step(amount, market.amount_step) != amount:
        raise BrokerInvalidOrderError(
            f"amount {amount} is not a positive multiple of {market.amount_step}", venue=VENUE
        )
    if market.min_amount is not None and amount < market.min_amount:
        raise BrokerInvalidOrderError(f"amount {amount} is below the minimum {market.min_amount}", venue=VENUE)
    limit = request.limit_price
    if request.order_type in ("limit", "ioc"):
        if limit is None or limit <= 0:
            raise BrokerInvalidOrderError("a limit price is required", venue=VENUE)
        if round_down_to_step(limit, market.price_tick) != limit:
            raise BrokerInvalidOrderError(f"price {limit} is not a multiple of {market.price_tick}", venue=VENUE)
    elif request.order_type != "market":
        raise BrokerInvalidOrderError(f"unknown order type {request.order_type}", venue=VENUE)
    if request.side not in ("buy", "sell"):
        raise BrokerInvalidOrderError(f"unknown side {request.side}", venue=VENUE)
    return market


def _order_fill(credential_id: int, request: OrderRequest, market: MarketRules, price: Decimal,
                base: PaperBalance, quote: PaperBalance, now: dt.datetime) -> tuple[PaperOrder, PaperTrade | None]:
    """Match one order against the price and the credential's balances (changed in place).
    Raises, changing nothing, when the venue refuses it."""
    amount, limit = request.amount, request.limit_price
    marketable = request.order_type == "market" or (price <= limit if request.side == "buy" else price >= limit)
    reference = price if marketable else limit
    if market.min_cost is not None and amount * reference < market.min_cost:
        raise BrokerInvalidOrderError(
            f"order cost {amount * reference} {market.quote} is below the minimum {market.min_cost}", venue=VENUE
        )
    order = PaperOrder(
        credential_id=credential_id, venue_order_id=f"PO-{uuid.uuid4().hex[:20]}",
        client_order_id=request.client_order_id, symbol=request.symbol, side=request.side,
        order_type=request.order_type, amount=amount, limit_price=limit, created_at=now,
    )
    if marketable:
        cost = amount * price
        fee = (cost * TAKER_FEE_RATE).quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN)
        if request.side == "buy":
            if quote.free < cost + fee:
                raise BrokerInsufficientFundsError(
                    f"insufficient {market.quote}: need {cost + fee}, free {quote.free}", venue=VENUE
                )
            quote.free -= cost + fee
            base.free += amount
        else:
            if base.free < amount:
                raise BrokerInsufficientFundsError(
                    f"insufficient {market.base}: need {amount}, free {base.free}", venue=VENUE
                )
            base.free -= amount
            quote.free += cost - fee
        order.status, order.filled, order.average_price = "filled", amount, price
        order.cost, order.fee, order.fee_asset = cost, fee, market.quote
        return order, PaperTrade(
            credential_id=credential_id, order=order, trade_id=f"PT-{uuid.uuid4().hex[:20]}", symbol=order.symbol,
            side=order.side, amount=amount, price=price, cost=cost, fee=fee, fee_asset=market.quote, occurred_at=now,
        )
    if request.order_type == "ioc":
        order.status, order.filled = "canceled", Decimal("0")  # not within the limit: nothing fills
        return order, None
    # A resting limit order reserves what it would spend.
    if request.side == "buy":
        reserve, source = (amount * limit * (1 + TAKER_FEE_RATE)).quantize(FEE_QUANTUM), quote
    else:
        reserve, source = amount, base
    if source.free < reserve:
        raise BrokerInsufficientFundsError(f"insufficient {source.asset}: need {reserve}", venue=VENUE)
    source.free -= reserve
    source.used += reserve
    order.status, order.filled, order.reserved_asset, order.reserved = "open", Decimal("0"), source.asset, reserve
    return order, None


def _orders_match(calls: list[tuple[int, OrderRequest]]) -> list[tuple[OrderResult | None, BrokerError | None]]:
    """One batch in the caller's transaction: lock the balances, find orders already stored under
    the same client order ids, match the rest in order, write orders, fills and balances."""
    outcomes: list[PaperOrder | BrokerError | None] = [None] * len(calls)
    markets: dict[int, MarketRules] = {}
    for i, (_cid, request) in enumerate(calls):
        try:
            markets[i] = _order_check(request)
        except BrokerError as exc:
            outcomes[i] = exc
    if markets:
        balances = _balances_locked({(calls[i][0], a) for i, m in markets.items() for a in (m.base, m.quote)})
        # Checked after the balance locks: every create_order takes them first, so no concurrent call
        # can store one of these client order ids between this read and our insert.
        known = _orders_existing({(calls[i][0], calls[i][1].client_order_id) for i in markets})
        prices = _prices({calls[i][1].symbol for i in markets})
        now = timezone.now()
        orders: list[PaperOrder] = []
        trades: list[PaperTrade] = []
        changed: dict[int, PaperBalance] = {}
        for i, market in markets.items():
            cid, request = calls[i]
            key = (cid, request.client_order_id)
            if key in known:  # same client order id (even earlier in this batch): the order it already has
                outcomes[i] = known[key]
                continue
            base, quote = balances[(cid, market.base)], balances[(cid, market.quote)]
            before = (base.free, base.used, quote.free, quote.used)
            try:
                order, trade = _order_fill(cid, request, market, prices[request.symbol], base, quote, now)
            except BrokerError as exc:  # refused: its balances are as they were
                base.free, base.used, quote.free, quote.used = before
                outcomes[i] = exc
                continue
            outcomes[i] = known[key] = order
            orders.append(order)
            trades += [trade] if trade else []
            changed[base.pk], changed[quote.pk] = base, quote
        rows_insert(orders, returning=True)
        for trade in trades:
            trade.order_id = trade.order.pk
        rows_insert(trades)
        rows_update(list(changed.values()), ["free", "used"])
    return [(None, o) if isinstance(o, BrokerError) else (_result(o), None) for o in outcomes]


def paper_orders_create(calls: list[tuple[int, OrderRequest]]) -> list[tuple[Any, BaseException | None, float]]:
    """The venue side of many create_order calls (credential id, request) at once: for each, in
    order, (result, error, latency seconds) as paper_call returns them. Faults and refusals are
    per order; the accepted orders are written in one transaction."""
    answers: list[tuple[Any, BaseException | None, float] | None] = [None] * len(calls)
    states = _credential_states({cid for cid, _ in calls})
    accepted: list[int] = []
    late_faults: dict[int, tuple[float, str]] = {}
    for i, (cid, _request) in enumerate(calls):
        state = states.get(cid)
        if state is None or state[0] != BrokerCredential.Status.ACTIVE:
            answers[i] = (None, BrokerAuthenticationError("API key is not active", venue=VENUE), 0.0)
            continue
        latency, fault = _fault_take(state[1:], "create_order")
        error = _fault_error(fault, "create_order")
        if error is not None:
            answers[i] = (None, error, latency)
            continue
        accepted.append(i)
        late_faults[i] = (latency, fault)
    for start in range(0, len(accepted), MAX_ORDER_BATCH):
        part = accepted[start:start + MAX_ORDER_BATCH]
        matched = _orders_match_atomic([calls[i] for i in part])
        for i, (result, error) in zip(part, matched, strict=True):
            latency, fault = late_faults[i]
            if error is None and fault == "timeout_after_accept":
                error, result = BrokerAmbiguousError(
                    "request timed out after the venue accepted it (injected)", venue=VENUE), None
            answers[i] = (result, error, latency)
    return answers


def _orders_match_atomic(calls: list[tuple[int, OrderRequest]]) -> list[tuple[OrderResult | None, BrokerError | None]]:
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _orders_match(calls)
        except IntegrityError:
            # A client order id stored by a writer that skipped the balance locks (nothing in this
            # module does; a defence, not a path): nothing of this batch was kept, the retry
            # answers that order from the book.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _order_by_client_id(credential_id: int, symbol: str, client_order_id: str) -> OrderResult | None:
    order = PaperOrder.objects.filter(credential_id=credential_id, client_order_id=client_order_id).first()
    if order is None or (symbol and order.symbol != symbol):
        return None
    return _result(order)


def _my_trades(credential_id: int, symbol: str | None, since: dt.datetime | None) -> list[Trade]:
    qs = PaperTrade.objects.filter(credential_id=credential_id).select_related("order").order_by("occurred_at", "id")
    if symbol:
        qs = qs.filter(symbol=symbol)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    return [
        Trade(
            trade_id=t.trade_id, venue_order_id=t.order.venue_order_id, client_order_id=t.order.client_order_id,
            symbol=t.symbol, side=t.side, amount=t.amount, price=t.price, cost=t.cost, fee=t.fee,
            fee_asset=t.fee_asset, occurred_at=t.occurred_at,
        )
        for t in qs
    ]


def _cancel(credential_id: int, symbol: str, venue_order_id: str) -> OrderResult:
    with transaction.atomic():
        order = PaperOrder.objects.select_for_update().filter(
            credential_id=credential_id, venue_order_id=venue_order_id
        ).first()
        if order is None:
            raise BrokerInvalidOrderError(f"order {venue_order_id} not found", venue=VENUE)
        if order.status != "open":
            raise BrokerInvalidOrderError(f"order {venue_order_id} is {order.status}, not open", venue=VENUE)
        if order.reserved:
            row = _balance_row(credential_id, order.reserved_asset)
            row.used -= order.reserved
            row.free += order.reserved
            row.save(update_fields=["free", "used"])
        order.status, order.reserved = "canceled", Decimal("0")
        order.save(update_fields=["status", "reserved"])
        return _result(order)


def _permissions(credential_id: int) -> PermissionReport:
    return PermissionReport(can_trade=True, can_withdraw=False, detail={"venue": VENUE})


# Every call but create_order, which goes through paper_orders_create (batches).
VENUE_OPERATIONS: dict[str, Callable[..., Any]] = {
    "fetch_balances": _balances,
    "fetch_markets": _markets,
    "fetch_price": _price,
    "fetch_order_by_client_id": _order_by_client_id,
    "fetch_my_trades": _my_trades,
    "cancel_order": _cancel,
    "check_permissions": _permissions,
}
