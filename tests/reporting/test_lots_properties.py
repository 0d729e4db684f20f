"""Properties of lot matching that hold for any sequence of buys and sells, under every method."""

import datetime as dt
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.lots import EntryRow, PriceBook, lot_events_from_entries, lots_match

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

fills = st.lists(
    st.tuples(st.booleans(), st.integers(1, 1000), st.integers(1, 100_000), st.integers(0, 50)), min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(fills=fills, method=st.sampled_from(["fifo", "lifo", "hifo"]))
def test_quantity_cost_and_proceeds_are_conserved(fills, method):
    rows = []
    for i, (buy, qty_units, price_cents, fee_cents) in enumerate(fills):
        qty = D(qty_units) / 100
        notional = qty * D(price_cents) / 100
        sign = 1 if buy else -1
        rows.append(EntryRow(i, T0 + dt.timedelta(hours=i), "trade", "paper", "BTC", sign * qty, "USD",
                             -sign * notional, "buy" if buy else "sell", "USD", D(fee_cents) / 100))
    result = lots_match(lot_events_from_entries(rows, PriceBook()), method=method)
    bought = sum((-r.counter_amount + r.fee_amount for r in rows if r.amount > 0), D(0))
    sold_qty = sum((-r.amount for r in rows if r.amount < 0), D(0))
    proceeds = sum((r.counter_amount for r in rows if r.amount < 0), D(0))
    sell_fees = sum((r.fee_amount for r in rows if r.amount < 0), D(0))
    open_cost = sum((lot.cost for lots in result.open_lots.values() for lot in lots), D(0))
    known_basis = sum((d.cost_basis for d in result.disposals if d.acquired_at is not None), D(0))
    assert sum((d.quantity for d in result.disposals), D(0)) == sold_qty
    assert abs(sum((d.proceeds for d in result.disposals), D(0)) - proceeds) < D("1e-18")
    assert abs(sum((d.fees for d in result.disposals), D(0)) - sell_fees) < D("1e-18")
    assert abs(known_basis + open_cost - bought) < D("1e-15")  # every dollar of cost is in a lot or a sale
    assert all(d.cost_basis == 0 for d in result.disposals if d.acquired_at is None)
    assert all(lot.quantity > 0 for lots in result.open_lots.values() for lot in lots)
