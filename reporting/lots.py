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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Context, Decimal

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

UNPRICED_FEE = "fee_unpriced"  # an asset spent to pay a fee whose USD value is unknown (flagged, proceeds 0)

FLAG_MISSING = "missing_acquisition"
FLAG_UNPRICED = "unpriced"
FLAG_UNPRICED_ACQUISITION = "unpriced_acquisition"  # e.g. a coin deposited when no price was known: zero basis
UNPRICED_ACQUISITION = "acquire_unpriced"
# A disposal purpose with no known USD value -> the purpose it counts as; its rows are flagged `unpriced`.
UNPRICED_PURPOSES = {UNPRICED_TRADE: TRADE, UNPRICED_FEE: FEE_PAYMENT}

# HIFO compares unit costs in this context: ledger amounts have at most 36 digits, so a lot's cost
# (a sum of two) and cost / quantity at 100 digits are exact or correctly rounded far below any real
# difference: equal unit costs compare equal and the older lot goes first (28 digits made noise).
EXACT = Context(prec=100)


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
    flag: str = ""  # e.g. `unpriced`: the cost is not known in USD


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

    def unpriced_assets(self) -> set[str]:
        """Assets with an open lot whose cost is not known in USD (flagged, cost counted as 0)."""
        return {asset for asset, lots in self.open_lots.items() if any(lot.flag for lot in lots)}


def lots_match(events: Iterable[tuple], *, method: str = "fifo") -> MatchResult:
    """Match disposals to acquisitions per asset. Events must be in time order."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    with _gc_paused():
        return _lots_match(events, method)


def _lots_match(events: Iterable[tuple], method: str) -> MatchResult:
    # One container per asset. A lot is a list [qty, cost, acquired_at, ref, flag] so a partial close
    # changes it in place and keeps its acquisition time. FIFO/LIFO: a deque taken from the left or
    # the right. HIFO: a heap of (-unit cost, seq, lot), the unit cost in the EXACT context; ties go to
    # the older lot (events come in time order, so seq follows acquisition time).
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
                lot_flag = (FLAG_UNPRICED_ACQUISITION if purpose == UNPRICED_ACQUISITION
                            else FLAG_UNPRICED if purpose == UNPRICED_TRADE else "")
                cost = usd + fee if not fee else EXACT.add(usd, fee)
                if hifo:
                    seq += 1
                    heappush(lots, (EXACT.divide(cost, qty).copy_negate(), seq, [qty, cost, when, ref, lot_flag]))
                else:
                    lots.append([qty, cost, when, ref, lot_flag])
            continue
        remaining = qty
        proceeds_left = usd
        fee_left = fee
        flag = ""
        if purpose in UNPRICED_PURPOSES:
            flag, purpose = FLAG_UNPRICED, UNPRICED_PURPOSES[purpose]
        while remaining > 0:
            if not lots:
                # Sold more than we know was bought: zero basis, flagged, never hidden.
                if op == DISPOSE:
                    append(Disposal(ref, asset, remaining, None, when, proceeds_left, ZERO, fee_left, purpose,
                                    f"{flag};{FLAG_MISSING}" if flag else FLAG_MISSING))
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
                lot_flag = lot[4]
                append(Disposal(ref, asset, take, lot[2], when, part_proceeds, cost, part_fee, purpose,
                                f"{flag};{lot_flag}" if flag and lot_flag and lot_flag != flag else flag or lot_flag))
            else:
                removed += cost
    result.removed_basis = removed
    for asset, lots in books.items():
        ordered = sorted((entry[2] for entry in lots), key=lambda lot: lot[2]) if hifo else lots
        open_lots = [OpenLot(asset, lot[0], lot[1], lot[2], lot[3], lot[4]) for lot in ordered if lot[0] > 0]
        if open_lots:
            result.open_lots[asset] = open_lots
    return result


# Where a price came from, when it is not a stored PricePoint's own source: the account's own trade
# against cash (its cash leg over its quantity).
TRADE_PRICE = "trade"


class PriceBook:
    """USD prices per asset over time; `at` gives the last price at or before a moment. Every price
    keeps its source; `record_used()` makes `at` remember each (asset, observed_at, price, source) it
    answered with, so a report can list the prices it used (`used()`)."""

    def __init__(self) -> None:
        self._times: dict[str, list[dt.datetime]] = {}
        self._prices: dict[str, list[Decimal]] = {}
        self._sources: dict[str, list[str]] = {}
        self._pending: dict[str, list[tuple[dt.datetime, Decimal, str]]] = {}
        self._used: set[tuple[str, dt.datetime, Decimal, str]] | None = None

    def add(self, asset: str, when: dt.datetime, price: Decimal, source: str = "") -> None:
        self._pending.setdefault(asset, []).append((when, price, source))

    def record_used(self) -> None:
        self._used = set()

    def used(self) -> list[tuple[str, dt.datetime, Decimal, str]]:
        """(asset, observed_at, price, source) of every price `at` answered with since `record_used()`,
        by asset and time."""
        return sorted(self._used or (), key=lambda u: (u[0], u[1], u[3]))

    def _settle(self, asset: str) -> None:
        pending = self._pending.pop(asset, None)
        if pending:
            merged = sorted(list(zip(self._times.get(asset, []), self._prices.get(asset, []),
                                     self._sources.get(asset, []), strict=True)) + pending, key=lambda p: p[0])
            self._times[asset] = [p[0] for p in merged]
            self._prices[asset] = [p[1] for p in merged]
            self._sources[asset] = [p[2] for p in merged]

    def at(self, asset: str, when: dt.datetime) -> Decimal | None:
        if asset in USD_EQUIVALENTS:
            return ONE
        if asset in self._pending:
            self._settle(asset)
        times = self._times.get(asset)
        if not times:
            return None
        i = bisect_right(times, when)
        if not i:
            return None
        if self._used is not None:
            self._used.add((asset, times[i - 1], self._prices[asset][i - 1], self._sources[asset][i - 1]))
        return self._prices[asset][i - 1]

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
    """Every trade against cash carries a USD price of its asset (source `trade`)."""
    for e in entries:
        if e.kind == "trade" and e.counter_asset in USD_EQUIVALENTS and e.counter_amount:
            prices.add(e.asset, e.occurred_at, abs(e.counter_amount) / abs(e.amount), TRADE_PRICE)


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
    """USD value of an entry's fee; None when it cannot be priced. A fee in either leg of a trade is
    valued at the trade's own rate (its share of the trade's USD value)."""
    if not e.fee_amount:
        return ZERO
    if e.fee_asset in USD_EQUIVALENTS:
        return e.fee_amount
    if e.kind == "trade" and e.fee_asset in (e.asset, e.counter_asset):
        value = trade_value_usd(e, prices)
        leg = e.amount if e.fee_asset == e.asset else e.counter_amount
        return e.fee_amount * value / abs(leg) if value is not None else None
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
                add((ACQUIRE, when, asset, e.amount, e.counter_amount.copy_negate(), fee, e.id, TRADE))
            else:
                add((DISPOSE, when, asset, e.amount.copy_negate(), e.counter_amount, fee, e.id, TRADE))
            continue
        if kind == "trade":
            _trade_events(e, prices, add)
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
            if price is None:
                add((DISPOSE, when, asset, -e.amount, ZERO, ZERO, e.id, UNPRICED_FEE))
            else:
                add((DISPOSE, when, asset, -e.amount, -e.amount * price, ZERO, e.id, FEE_PAYMENT))
        elif e.amount < 0 and kind in ("withdrawal", "adjustment"):
            add((REMOVE, when, asset, -e.amount, ZERO, ZERO, e.id, kind))
        # transfers move an asset between venues of the same account: lots are per account, so nothing moves.
    return events


def _trade_events(e: EntryRow, prices: PriceBook, add: Callable[[tuple], None]) -> None:
    """Lot events of a trade that is not plain cash-for-asset with a cash fee (see the module's fee rules).
    What cannot be valued in USD counts as 0 and is flagged `unpriced` on every lot and disposal it touches."""
    when, asset, counter_asset = e.occurred_at, e.asset, e.counter_asset
    cash = USD_EQUIVALENTS
    value = trade_value_usd(e, prices)
    fee_amount = e.fee_amount or ZERO
    fee_asset = e.fee_asset if fee_amount else ""
    fee_usd = fee_value_usd(e, prices) if fee_amount else ZERO
    traded = TRADE if value is not None and fee_usd is not None else UNPRICED_TRADE
    counter_leg = TRADE if value is not None else UNPRICED_TRADE
    value = value if value is not None else ZERO
    fee_paid = FEE_PAYMENT if fee_usd is not None else UNPRICED_FEE
    fee_usd = fee_usd if fee_usd is not None else ZERO
    qty = abs(e.amount)
    counter_qty = abs(e.counter_amount)
    base_fee = fee_amount if fee_asset == asset else ZERO
    if fee_asset and fee_asset not in cash and fee_asset not in (asset, counter_asset):
        # Third-asset fee: its own disposal at market value, a cost of the trade.
        add((DISPOSE, when, fee_asset, fee_amount, fee_usd, ZERO, e.id, fee_paid))
    if e.amount > 0:  # buy: base in, counter out
        if fee_asset == counter_asset and fee_asset not in cash:
            # Fee in the non-cash asset paid out: those units leave the account too.
            add((DISPOSE, when, fee_asset, fee_amount, fee_usd, ZERO, e.id, fee_paid))
        if counter_asset not in cash:
            add((DISPOSE, when, counter_asset, counter_qty, value, ZERO, e.id, counter_leg))
        add((ACQUIRE, when, asset, qty - base_fee, value, ZERO if base_fee else fee_usd, e.id, traded))
        return
    # sell: base out, counter in
    received_fee = fee_amount if fee_asset == counter_asset else ZERO
    add((DISPOSE, when, asset, qty + base_fee, value, ZERO if base_fee else fee_usd, e.id, traded))
    if counter_asset not in cash:
        # The received asset arrives first and the fee is paid out of it: the new lot holds what stays,
        # at its share of the trade's value (the fee's value is a cost of the sale above).
        add((ACQUIRE, when, counter_asset, counter_qty - received_fee, value - fee_usd if received_fee else value,
             ZERO, e.id, counter_leg))


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
