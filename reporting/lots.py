"""Tax-lot matching in memory, Decimal throughout, no database access.

Ledger entries are first turned into lot events (plain tuples, see `lot_events_from_entries`), then
`lots_match` walks them once. Built for a million fills: tuples and lists, a deque (FIFO), a list
used as a stack (LIFO) or a heap (HIFO) per asset, no per-fill objects beyond the lot itself.

Fee rules (issue 5 §2):
- a fee in the quote asset is added to a buy's cost, or deducted from a sale's proceeds;
- a fee in the base asset reduces the quantity acquired (buy) or adds to the quantity given up (sell);
- a fee in any other asset is its own disposal of that asset at market value, and its USD value is
  then a cost of the trade like a quote fee.
"""

from __future__ import annotations

import datetime as dt
import gc
import heapq
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from core.assets import USD_EQUIVALENTS  # valued at 1 USD, never lot-tracked

ZERO = Decimal("0")
ONE = Decimal("1")


METHODS = ("fifo", "lifo", "hifo")

# Lot event operations.
ACQUIRE = 0  # (ACQUIRE, when, asset, qty, cost_usd, fee_usd, ref, purpose)
DISPOSE = 1  # (DISPOSE, when, asset, qty, proceeds_usd, fee_usd, ref, purpose)
REMOVE = 2  # (REMOVE, when, asset, qty, 0, 0, ref, purpose): leaves the account without a sale

# Disposal purposes.
TRADE = "trade"  # closing trade: counts in trade statistics
FEE_PAYMENT = "fee"  # an asset spent to pay a fee
UNPRICED_TRADE = "trade_unpriced"  # a closing trade whose USD value is unknown (flagged, proceeds 0)

FLAG_MISSING = "missing_acquisition"
FLAG_UNPRICED = "unpriced"
FLAG_UNPRICED_ACQUISITION = "unpriced_acquisition"  # e.g. a coin deposited when no price was known: zero basis
UNPRICED_ACQUISITION = "acquire_unpriced"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The matcher allocates a million small objects and frees none of them in the loop: the cyclic
    garbage collector would scan the growing heap again and again for nothing (about 40% of the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(slots=True)
class Disposal:
    ref: object  # the closing ledger entry's id (or any key the caller passed)
    asset: str
    quantity: Decimal
    acquired_at: dt.datetime | None  # None: no known acquisition (flagged)
    disposed_at: dt.datetime
    proceeds: Decimal  # USD, gross of the sale's fees
    cost_basis: Decimal  # USD, including the buy's fees
    fees: Decimal  # USD: this portion's share of the sale's fees
    purpose: str = TRADE
    flag: str = ""

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.cost_basis - self.fees


@dataclass
class OpenLot:
    asset: str
    quantity: Decimal
    cost: Decimal  # USD, remaining
    acquired_at: dt.datetime
    ref: object


@dataclass
class MatchResult:
    method: str
    disposals: list[Disposal] = field(default_factory=list)
    open_lots: dict[str, list[OpenLot]] = field(default_factory=dict)
    removed_basis: Decimal = ZERO  # cost basis that left through withdrawals

    def positions(self) -> dict[str, tuple[Decimal, Decimal, dt.datetime]]:
        """asset -> (quantity, cost, opened_at of the oldest open lot)."""
        out = {}
        for asset, lots in self.open_lots.items():
            qty = sum((lot.quantity for lot in lots), ZERO)
            if qty > 0:
                out[asset] = (qty, sum((lot.cost for lot in lots), ZERO), min(lot.acquired_at for lot in lots))
        return out


def lots_match(events: Iterable[tuple], *, method: str = "fifo") -> MatchResult:
    """Match disposals to acquisitions per asset. Events must be in time order."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    with _gc_paused():
        return _lots_match(events, method)


def _lots_match(events: Iterable[tuple], method: str) -> MatchResult:
    # One container per asset. A lot is a list [qty, cost, acquired_at, ref, flag] so a partial close
    # changes it in place and keeps its acquisition time. FIFO/LIFO: a deque taken from the left or
    # the right. HIFO: a heap of (-unit cost, seq, lot); ties go to the older lot.
    # The branches are inlined (no method calls per fill): this loop runs a million times.
    fifo, hifo = method == "fifo", method == "hifo"
    books: dict[str, deque | list] = {}
    result = MatchResult(method=method)
    append = result.disposals.append
    removed = ZERO
    seq = 0
    heappush, heappop = heapq.heappush, heapq.heappop
    for op, when, asset, qty, usd, fee, ref, purpose in events:
        lots = books.get(asset)
        if lots is None:
            lots = books[asset] = [] if hifo else deque()
        if op == ACQUIRE:
            if qty > 0:
                lot_flag = FLAG_UNPRICED_ACQUISITION if purpose == UNPRICED_ACQUISITION else ""
                if hifo:
                    seq += 1
                    heappush(lots, (-(usd + fee) / qty, seq, [qty, usd + fee, when, ref, lot_flag]))
                else:
                    lots.append([qty, usd + fee, when, ref, lot_flag])
            continue
        remaining = qty
        proceeds_left = usd
        fee_left = fee
        flag = FLAG_UNPRICED if purpose == UNPRICED_TRADE else ""
        if flag:
            purpose = TRADE
        while remaining > 0:
            if not lots:
                # Sold more than we know was bought: zero basis, flagged, never hidden.
                if op == DISPOSE:
                    append(Disposal(ref, asset, remaining, None, when, proceeds_left, ZERO, fee_left, purpose,
                                    FLAG_MISSING))
                break
            lot = lots[0] if fifo else (lots[0][2] if hifo else lots[-1])
            lot_qty = lot[0]
            if lot_qty <= remaining:
                take, cost = lot_qty, lot[1]
                if fifo:
                    lots.popleft()
                elif hifo:
                    heappop(lots)
                else:
                    lots.pop()
            else:
                take = remaining
                cost = lot[1] * take / lot_qty
                lot[0] = lot_qty - take
                lot[1] -= cost
            remaining -= take
            if op == DISPOSE:
                if remaining > 0:
                    share = take / qty
                    part_proceeds, part_fee = usd * share, fee * share
                    proceeds_left -= part_proceeds
                    fee_left -= part_fee
                else:  # the last portion takes what is left, so the parts add up exactly
                    part_proceeds, part_fee = proceeds_left, fee_left
                append(Disposal(ref, asset, take, lot[2], when, part_proceeds, cost, part_fee, purpose,
                                flag or lot[4]))
            else:
                removed += cost
    result.removed_basis = removed
    for asset, lots in books.items():
        ordered = sorted((entry[2] for entry in lots), key=lambda lot: lot[2]) if hifo else lots
        open_lots = [OpenLot(asset, lot[0], lot[1], lot[2], lot[3]) for lot in ordered if lot[0] > 0]
        if open_lots:
            result.open_lots[asset] = open_lots
    return result


class PriceBook:
    """USD prices per asset over time; `at` gives the last price at or before a moment."""

    def __init__(self) -> None:
        self._times: dict[str, list[dt.datetime]] = {}
        self._prices: dict[str, list[Decimal]] = {}
        self._pending: dict[str, list[tuple[dt.datetime, Decimal]]] = {}

    def add(self, asset: str, when: dt.datetime, price: Decimal) -> None:
        self._pending.setdefault(asset, []).append((when, price))

    def _settle(self, asset: str) -> None:
        pending = self._pending.pop(asset, None)
        if pending:
            merged = sorted(list(zip(self._times.get(asset, []), self._prices.get(asset, []), strict=True)) + pending,
                            key=lambda p: p[0])
            self._times[asset] = [p[0] for p in merged]
            self._prices[asset] = [p[1] for p in merged]

    def at(self, asset: str, when: dt.datetime) -> Decimal | None:
        if asset in USD_EQUIVALENTS:
            return ONE
        if asset in self._pending:
            self._settle(asset)
        times = self._times.get(asset)
        if not times:
            return None
        i = bisect_right(times, when)
        return self._prices[asset][i - 1] if i else None

    def latest(self, asset: str) -> tuple[Decimal, dt.datetime] | None:
        if asset in USD_EQUIVALENTS:
            return ONE, dt.datetime.max.replace(tzinfo=dt.UTC)
        if asset in self._pending:
            self._settle(asset)
        times = self._times.get(asset)
        return (self._prices[asset][-1], times[-1]) if times else None


@dataclass(frozen=True, slots=True)
class EntryRow:
    """The fields of a LedgerEntry the calculations need (built from `values_list`, not models)."""

    id: int
    occurred_at: dt.datetime
    kind: str
    venue: str
    asset: str
    amount: Decimal
    counter_asset: str
    counter_amount: Decimal | None
    side: str
    fee_asset: str
    fee_amount: Decimal | None


ENTRY_ROW_FIELDS = ("id", "occurred_at", "kind", "venue", "asset", "amount", "counter_asset", "counter_amount",
                    "side", "fee_asset", "fee_amount")


def trade_prices_add(entries: Iterable[EntryRow], prices: PriceBook) -> None:
    """Every trade against cash carries a USD price of its asset."""
    for e in entries:
        if e.kind == "trade" and e.counter_asset in USD_EQUIVALENTS and e.counter_amount:
            prices.add(e.asset, e.occurred_at, abs(e.counter_amount) / abs(e.amount))


def trade_value_usd(e: EntryRow, prices: PriceBook) -> Decimal | None:
    """USD notional of a trade: the cash leg, or the counter asset at its price."""
    if e.counter_asset in USD_EQUIVALENTS:
        return abs(e.counter_amount)
    price = prices.at(e.counter_asset, e.occurred_at)
    if price is None:
        price = prices.at(e.asset, e.occurred_at)
        return abs(e.amount) * price if price is not None else None
    return abs(e.counter_amount) * price


def fee_value_usd(e: EntryRow, prices: PriceBook) -> Decimal | None:
    if not e.fee_amount:
        return ZERO
    if e.fee_asset in USD_EQUIVALENTS:
        return e.fee_amount
    if e.kind == "trade" and e.fee_asset == e.asset:
        value = trade_value_usd(e, prices)
        return e.fee_amount * value / abs(e.amount) if value is not None else None
    price = prices.at(e.fee_asset, e.occurred_at)
    return e.fee_amount * price if price is not None else None


def lot_events_from_entries(entries: Iterable[EntryRow], prices: PriceBook) -> list[tuple]:
    """Turn ledger entries (in time order) into lot events. Cash legs produce no events."""
    with _gc_paused():
        return _lot_events(entries, prices)


def _lot_events(entries: Iterable[EntryRow], prices: PriceBook) -> list[tuple]:
    events: list[tuple] = []
    add = events.append
    cash = USD_EQUIVALENTS
    for e in entries:
        when, kind, asset = e.occurred_at, e.kind, e.asset
        if kind == "trade" and e.counter_asset in cash and (not e.fee_amount or e.fee_asset in cash):
            # The common case, inlined: a trade against cash with no fee or a cash fee.
            fee = e.fee_amount or ZERO
            if e.amount > 0:
                add((ACQUIRE, when, asset, e.amount, -e.counter_amount, fee, e.id, TRADE))
            else:
                add((DISPOSE, when, asset, -e.amount, e.counter_amount, fee, e.id, TRADE))
            continue
        if kind == "trade":
            value = trade_value_usd(e, prices)
            flag_unpriced = value is None
            value = value or ZERO
            fee_usd = fee_value_usd(e, prices) or ZERO
            fee_asset, fee_amount = e.fee_asset, e.fee_amount or ZERO
            qty = abs(e.amount)
            base_fee = fee_amount if fee_asset == asset else ZERO
            if fee_amount and fee_asset not in (asset, e.counter_asset) and fee_asset not in USD_EQUIVALENTS:
                # Third-asset fee: its own disposal at market value.
                add((DISPOSE, when, fee_asset, fee_amount, fee_usd, ZERO, e.id, FEE_PAYMENT))
            elif fee_amount and fee_asset == e.counter_asset and fee_asset not in USD_EQUIVALENTS:
                # Fee in a non-cash quote asset: those units leave the account too.
                add((DISPOSE, when, fee_asset, fee_amount, fee_usd, ZERO, e.id, FEE_PAYMENT))
            if e.amount > 0:  # buy: base in, counter out
                if e.counter_asset not in USD_EQUIVALENTS:
                    add((DISPOSE, when, e.counter_asset, abs(e.counter_amount), value, ZERO, e.id, TRADE))
                fee_cost = ZERO if base_fee else fee_usd
                add((ACQUIRE, when, asset, qty - base_fee, value, fee_cost, e.id, TRADE))
            else:  # sell: base out, counter in
                fee_cost = ZERO if base_fee else fee_usd
                add((DISPOSE, when, asset, qty + base_fee, value, fee_cost, e.id,
                     UNPRICED_TRADE if flag_unpriced else TRADE))
                if e.counter_asset not in USD_EQUIVALENTS:
                    add((ACQUIRE, when, e.counter_asset, abs(e.counter_amount), value, ZERO, e.id, TRADE))
        elif asset in USD_EQUIVALENTS:
            continue
        elif e.amount > 0 and kind in ("deposit", "adjustment"):
            price = prices.at(asset, when)
            if price is None:
                add((ACQUIRE, when, asset, e.amount, ZERO, ZERO, e.id, UNPRICED_ACQUISITION))
            else:
                add((ACQUIRE, when, asset, e.amount, e.amount * price, ZERO, e.id, kind))
        elif e.amount < 0 and kind == "fee":
            price = prices.at(asset, when)
            add((DISPOSE, when, asset, -e.amount, -e.amount * price if price is not None else ZERO, ZERO, e.id,
                 FEE_PAYMENT))
        elif e.amount < 0 and kind in ("withdrawal", "adjustment"):
            add((REMOVE, when, asset, -e.amount, ZERO, ZERO, e.id, kind))
        # transfers move an asset between venues of the same account: lots are per account, so nothing moves.
    return events


def closed_trades(disposals: Iterable[Disposal]) -> list[dict]:
    """Round trips: one per closing trade (disposals grouped by their ledger entry), in money.
    Duration is quantity-weighted over the lots it closed."""
    grouped: dict[object, dict] = {}
    for d in disposals:
        if d.purpose != TRADE:
            continue
        g = grouped.get(d.ref)
        if g is None:
            g = grouped[d.ref] = {"ref": d.ref, "asset": d.asset, "closed_at": d.disposed_at, "quantity": ZERO,
                                  "proceeds": ZERO, "cost": ZERO, "fees": ZERO, "_weighted_seconds": ZERO,
                                  "_timed_qty": ZERO, "flagged": False, "opened_at": None}
        g["quantity"] += d.quantity
        g["proceeds"] += d.proceeds
        g["cost"] += d.cost_basis
        g["fees"] += d.fees
        if d.acquired_at is None:
            g["flagged"] = True
        else:
            g["_weighted_seconds"] += d.quantity * Decimal((d.disposed_at - d.acquired_at).total_seconds())
            g["_timed_qty"] += d.quantity
            if g["opened_at"] is None or d.acquired_at < g["opened_at"]:
                g["opened_at"] = d.acquired_at
    out = []
    for g in grouped.values():
        timed = g.pop("_timed_qty")
        seconds = g.pop("_weighted_seconds")
        g["duration_seconds"] = seconds / timed if timed else None
        g["pnl"] = g["proceeds"] - g["cost"] - g["fees"]
        out.append(g)
    out.sort(key=lambda g: g["closed_at"])
    return out
