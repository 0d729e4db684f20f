"""Issue 10 "Done means": invariants of lot matching over random ledgers with deposits, trades against cash
and crypto-for-crypto, and fees in the quote, base, received and a third asset, under every method.

- quantity is conserved per asset: what came in less what went out (fees included) is what the open lots hold;
- money is conserved: every dollar of cost is in a disposal's basis or an open lot, and the per-lot gains
  add up to the proceeds less the cost less the fees, each computed from the ledger rows on their own;
- FIFO, LIFO and HIFO agree on every total that does not depend on which lot is chosen;
- exporting the ledger (`export_transactions --ledger-csv`) and importing it into an empty account
  reproduces the tax report, every method, with the same prices used."""

import csv
import datetime as dt
import io
import itertools
from decimal import ROUND_DOWN
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.services import account_onboard
from core.assets import USD_EQUIVALENTS
from core.decimals import format_decimal
from reporting.lots import (
    EntryRow,
    PriceBook,
    fee_value_usd,
    lot_events_from_entries,
    lots_match,
    trade_prices_add,
    trade_value_usd,
)
from reporting.models import PricePoint
from reporting.selectors import LEDGER_CSV_COLUMNS, tax_report
from reporting.services import ledger_import_csv, price_point_record

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
COINS = ("BTC", "ETH", "SOL", "BNB")
START_PRICES = {"BTC": D("40000"), "ETH": D("2000"), "SOL": D("100"), "BNB": D("300")}
CENT = D("0.01")
TOLERANCE = D("1e-12")  # Decimal arithmetic rounds at 28 digits; figures here are below 1e9


def _units(draw, low, high, places=4):
    return D(draw(st.integers(low, high))).scaleb(-places)


@st.composite
def ledgers(draw):
    """Rows in time order, built against a running balance so nothing is sold that was never held."""
    held = {"USD": D("0")} | {c: D("0") for c in COINS}
    rows: list[EntryRow] = []
    when = T0

    def add(kind, asset, amount, counter_asset="", counter_amount=None, fee_asset="", fee_amount=None):
        nonlocal when
        when += dt.timedelta(hours=draw(st.integers(1, 48)))
        side = ("buy" if amount > 0 else "sell") if kind == "trade" else ""
        rows.append(EntryRow(len(rows) + 1, when, kind, "paper", asset, amount, counter_asset, counter_amount, side,
                             fee_asset, fee_amount))
        held[asset] += amount
        if counter_asset:
            held[counter_asset] += counter_amount
        if fee_asset:
            held[fee_asset] -= fee_amount

    add("deposit", "USD", D(draw(st.integers(10_000, 1_000_000))))
    for coin in draw(st.lists(st.sampled_from(COINS), max_size=2, unique=True)):
        add("deposit", coin, _units(draw, 1, 50_000))
    for _ in range(draw(st.integers(1, 30))):
        base = draw(st.sampled_from(COINS))
        quote = draw(st.sampled_from(("USD",) + tuple(c for c in COINS if c != base)))
        rate = START_PRICES[base] / (START_PRICES.get(quote) or D(1)) * D(draw(st.integers(50, 200))) / 100
        buy = draw(st.booleans())
        if buy:
            budget = held[quote] * D(draw(st.integers(1, 60))) / 100
            qty = (budget / rate).quantize(D("0.0001"), rounding=ROUND_DOWN)
            paid = (qty * rate).quantize(CENT if quote == "USD" else D("0.00000001"))
            if qty <= 0 or paid <= 0 or paid > held[quote]:
                continue
            amount, counter = qty, -paid
        else:
            qty = (held[base] * D(draw(st.integers(1, 100))) / 100).quantize(D("0.0001"), rounding=ROUND_DOWN)
            got = (qty * rate).quantize(CENT if quote == "USD" else D("0.00000001"))
            if qty <= 0 or got <= 0:
                continue
            amount, counter = -qty, got
        # Fee: none, in the quote, the base, or a third asset we hold (BNB, or USD when the quote is a coin).
        where = draw(st.sampled_from(("none", "quote", "base", "third")))
        fee_asset, fee = "", None
        if where == "quote":
            fee_asset, fee = quote, (abs(counter) * D("0.001")).quantize(D("0.00000001"))
            if buy and held[quote] + counter - fee < 0:
                fee_asset, fee = "", None
        elif where == "base":
            fee_asset, fee = base, (qty * D("0.001")).quantize(D("0.00000001"))
            if not buy and held[base] - qty - fee < 0:
                fee_asset, fee = "", None
        elif where == "third":
            third = next((a for a in ("BNB", "USD") if a not in (base, quote) and held[a] > 0), None)
            if third is not None:
                fee_asset, fee = third, (held[third] * D("0.01")).quantize(D("0.00000001"))
        if fee is not None and fee <= 0:
            fee_asset, fee = "", None
        add("trade", base, amount, quote, counter, fee_asset, fee)
    return rows


def price_book(rows):
    prices = PriceBook()
    for coin, price in START_PRICES.items():
        prices.add(coin, T0, price)
    trade_prices_add(rows, prices)
    return prices


def expected_money(rows, prices):
    """Proceeds, sale fees and cost taken in, in USD, from the rows alone (the module's fee rules)."""
    proceeds = fees = cost_in = D(0)
    for r in rows:
        if r.asset in USD_EQUIVALENTS:
            continue
        if r.kind == "deposit":
            cost_in += r.amount * prices.at(r.asset, r.occurred_at)
            continue
        value = trade_value_usd(r, prices)
        fee = fee_value_usd(r, prices)
        fee_in = r.fee_asset if r.fee_amount else ""
        cash_counter = r.counter_asset in USD_EQUIVALENTS
        paid_as_asset = fee_in and fee_in not in USD_EQUIVALENTS and fee_in != r.asset and (
            fee_in != r.counter_asset or r.amount > 0)  # a third-asset fee, or the paid-out quote on a buy
        if paid_as_asset:
            proceeds += fee  # the fee's coins are a disposal at market value
        if r.amount > 0:  # buy
            cost_in += value + (fee if fee_in and fee_in != r.asset else 0)
            if not cash_counter:
                proceeds += value
        else:  # sell
            proceeds += value
            fees += fee if fee_in and fee_in != r.asset else 0
            if not cash_counter:
                cost_in += value - (fee if fee_in == r.counter_asset else 0)
    return proceeds, fees, cost_in


def net_quantities(rows):
    net: dict[str, D] = {}
    for r in rows:
        net[r.asset] = net.get(r.asset, D(0)) + r.amount
        if r.counter_asset:
            net[r.counter_asset] = net.get(r.counter_asset, D(0)) + r.counter_amount
        if r.fee_amount:
            net[r.fee_asset] = net.get(r.fee_asset, D(0)) - r.fee_amount
    return {a: q for a, q in net.items() if a not in USD_EQUIVALENTS}


def close(a, b):
    return abs(a - b) <= TOLERANCE * max(D(1), abs(a), abs(b))


@settings(max_examples=40, deadline=None)
@given(rows=ledgers())
def test_quantity_and_money_are_conserved_and_the_methods_agree(rows):
    prices = price_book(rows)
    events = lot_events_from_entries(rows, prices)
    proceeds, fees, cost_in = expected_money(rows, prices)
    net = net_quantities(rows)
    totals = {}
    for method in ("fifo", "lifo", "hifo"):
        result = lots_match(events, method=method)
        disposals = result.disposals
        open_qty = {a: sum((lot.quantity for lot in lots), D(0)) for a, lots in result.open_lots.items()}
        open_cost = sum((lot.cost for lots in result.open_lots.values() for lot in lots), D(0))
        # Nothing is spent before it arrives (a fee in the received asset included), and nothing is unpriced.
        assert [d for d in disposals if d.flag] == []
        # Quantity conserved per asset: acquired - disposed - fees = held.
        for asset in set(net) | set(open_qty):
            assert open_qty.get(asset, D(0)) == net.get(asset, D(0)), asset
        got_proceeds = sum((d.proceeds for d in disposals), D(0))
        got_fees = sum((d.fees for d in disposals), D(0))
        got_basis = sum((d.cost_basis for d in disposals), D(0))
        assert close(got_proceeds, proceeds) and close(got_fees, fees)
        assert close(got_basis + open_cost, cost_in)  # every dollar of cost is in a sale or an open lot
        gains = sum((d.gain for d in disposals), D(0))
        assert close(gains, proceeds - (cost_in - open_cost) - fees)
        disposed = {}
        for d in disposals:
            disposed[d.asset] = disposed.get(d.asset, D(0)) + d.quantity
        totals[method] = (disposed, open_qty)
    assert totals["fifo"] == totals["lifo"] == totals["hifo"]


ACCOUNT_NUMBERS = itertools.count(1)


def _ledger_csv(rows) -> str:
    """Generated rows in the import format (import_ledger --csv)."""
    def text(value):
        return "" if value is None else format_decimal(value)

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LEDGER_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({"occurred_at": r.occurred_at.isoformat(), "kind": r.kind, "venue": r.venue, "asset": r.asset,
                         "amount": text(r.amount), "counter_asset": r.counter_asset,
                         "counter_amount": text(r.counter_amount), "fee_asset": r.fee_asset,
                         "fee_amount": text(r.fee_amount), "external_id": f"x-{r.id}"})
    return out.getvalue()


def _account(name: str):
    return account_onboard(actor="test", user_id=f"{name}_{next(ACCOUNT_NUMBERS)}", full_name=name,
                           email=f"{name}@example.com", initial_capital=D("1000"))


@pytest.mark.django_db
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ledgers())
def test_ledger_csv_export_imported_into_an_empty_account_reproduces_the_tax_report(rows):
    for coin, price in START_PRICES.items():  # the venue's prices, shared by both accounts
        price_point_record(asset=coin, price=price, observed_at=T0, source=PricePoint.Source.VENUE)
    original, copy = _account("original"), _account("copy")
    ledger_import_csv(actor="test", account=original, text=_ledger_csv(rows))
    exported = io.StringIO()
    call_command("export_transactions", original.user_id, "--ledger-csv", stdout=exported)
    assert ledger_import_csv(actor="test", account=copy, text=exported.getvalue()).created == len(rows)
    disposing = {r.occurred_at.year for r in rows if r.kind == "trade" and (
        r.amount < 0 or r.counter_asset not in USD_EQUIVALENTS)}
    for year in disposing:  # not vacuous: a year with a sale or a swap has disposals in both
        assert tax_report(account=copy, year=year)["disposals"]
    for year in sorted({r.occurred_at.year for r in rows}):
        for method in ("fifo", "lifo", "hifo"):
            a, b = (tax_report(account=acc, year=year, method=method) for acc in (original, copy))
            assert a["disposals"] == b["disposals"], (year, method)
            assert a["totals_by_term"] == b["totals_by_term"] and a["prices"] == b["prices"], (year, method)
