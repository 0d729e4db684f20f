"""Reads: ledger rows, prices, lots, positions, NAV, metrics, tax and fee reports, exports."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, QuerySet, Sum
from django.utils import timezone

from copytrading.selectors import entry_stop_prices
from core.assets import USD_EQUIVALENTS, asset_canonical, asset_code, symbol_base
from core.decimals import format_decimal, format_money, to_jsonable
from core.errors import ApplicationError

from .lots import (
    ENTRY_ROW_FIELDS,
    FEE_PAYMENT,
    FLAG_UNPRICED,
    METHODS,
    ZERO,
    EntryRow,
    MatchResult,
    PriceBook,
    closed_trades,
    fee_value_usd,
    lot_events_from_entries,
    lots_match,
    trade_prices_add,
    trade_value_usd,
)
from .models import (
    INVESTOR_FEE_VENUE,
    BookDailyNav,
    DailyNav,
    FeeCharge,
    FeeSchedule,
    LedgerEntry,
    PricePoint,
    ReconciliationBreak,
    Report,
    TaxYearClose,
)
from .overview_store import overview_latest, overview_latest_store, overview_refresh_queue
from .performance import NavDay, day_end, drawdown_curve, nav_series, period_metrics, trade_statistics

if TYPE_CHECKING:
    from accounts.models import Account


def ledger_rows(*, account: Account, until: dt.datetime | None = None,
                investor_fees: bool = True) -> list[EntryRow]:
    """The account's entries in time order. Without `investor_fees` the posted FeeCharges are left
    out: fees are computed on the NAV gross of the investor fees themselves."""
    qs = LedgerEntry.objects.filter(account=account)
    if until is not None:
        qs = qs.filter(occurred_at__lte=until)
    if not investor_fees:
        qs = qs.exclude(source=LedgerEntry.Source.FEE_CHARGE)
    return [EntryRow(*row) for row in qs.order_by("occurred_at", "id").values_list(*ENTRY_ROW_FIELDS)]


def price_book_for(*, rows: list[EntryRow], until: dt.datetime | None = None) -> PriceBook:
    """Stored price points of every asset the rows touch (venue, manual and demo), plus the prices the
    rows' own trades carry. Points recorded from ledger fills are left out: they may be another
    account's trades, and importing someone else's fill must never change this account's books (issue
    10 §1.4); this account's own fills are in `rows` and price it directly."""
    assets = {r.asset for r in rows} | {r.counter_asset for r in rows if r.counter_asset}
    assets |= {r.fee_asset for r in rows if r.fee_asset}
    assets -= USD_EQUIVALENTS
    book = PriceBook()
    qs = PricePoint.objects.filter(asset__in=assets, quote="USD").exclude(source=PricePoint.Source.LEDGER)
    if until is not None:
        qs = qs.filter(observed_at__lte=until)
    for asset, when, price, source in qs.values_list("asset", "observed_at", "price", "source"):
        book.add(asset, when, price, source)
    trade_prices_add(rows, book)
    return book


def method_check(method: str | None) -> str:
    """The lot-matching method; None means the default, anything else (even "") must be one by name."""
    method = "fifo" if method is None else method
    if method not in METHODS:
        raise ApplicationError(f"method must be one of {', '.join(METHODS)}", code="invalid")
    return method


class AccountBooks:
    """Everything computed from one account's ledger, once: rows, prices, lots, round trips, NAV."""

    def __init__(self, *, account: Account, method: str = "fifo", until: dt.datetime | None = None,
                 end_day: dt.date | None = None, investor_fees: bool = True, record_prices: bool = False) -> None:
        self.account = account
        self.method = method_check(method)
        self.rows = ledger_rows(account=account, until=until, investor_fees=investor_fees)
        self.prices = price_book_for(rows=self.rows)
        if record_prices:  # the lots' prices (what a tax report lists), not the NAV's
            self.prices.record_used()
        self.match: MatchResult = lots_match(lot_events_from_entries(self.rows, self.prices), method=self.method)
        self.trades = closed_trades(self.match.disposals)
        self._end_day = end_day
        self._series: list[NavDay] | None = None

    @property
    def series(self) -> list[NavDay]:
        if self._series is None:
            self._series = nav_series(self.rows, self.prices, end_day=self._end_day)
        return self._series

    def metrics(self, *, start: dt.date, end: dt.date, rf_annual: float = 0.0) -> dict:
        return period_metrics(self.series, start=start, end=end, trades=self.trades, rf_annual=rf_annual)


# --- positions ------------------------------------------------------------------------------
def positions_view(*, books: AccountBooks) -> list[dict]:
    """Open positions: quantity, average cost, current price, unrealized P&L, stop, opened_at."""
    risk = getattr(books.account, "risk_profile", None)
    stop_pct = risk.stop_loss_pct if risk is not None and risk.stop_loss_pct else None
    copy_stops = _copy_order_stops(books.account)
    unpriced = books.match.unpriced_assets()
    out = []
    for asset, (qty, cost, opened_at) in sorted(books.match.positions().items()):
        latest = books.prices.latest(asset)
        price, priced_at = latest if latest else (None, None)
        avg_cost = cost / qty
        value = qty * price if price is not None else None
        out.append({
            "asset": asset, "quantity": qty, "avg_cost": avg_cost, "cost_basis": cost, "current_price": price,
            "price_at": priced_at, "market_value": value,
            "unrealized_pnl": value - cost if value is not None else None,
            # The stop the copy engine set on the latest entry, else the risk profile's distance from cost.
            "stop": copy_stops.get(asset) or (avg_cost * (1 - stop_pct / 100) if stop_pct else None),
            "opened_at": opened_at,
            "unpriced": asset in unpriced,  # a lot's cost is not known in USD: cost basis understated
        })
    return out


def _copy_order_stops(account: Account) -> dict[str, Decimal]:
    """asset -> stop price of the account's latest filled copy entry that has one."""
    stops: dict[str, Decimal] = {}
    for symbol, stop in entry_stop_prices(account=account):
        stops.setdefault(symbol_base(symbol), stop)
    return stops


# --- tax ----------------------------------------------------------------------------------
def one_year_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February: the anniversary is 28 February
        return dt.date(day.year + 1, 2, 28)


def holding_term(*, acquired: dt.date | None, disposed: dt.date) -> str:
    """The holding period counts from the day after acquisition; more than one year is long term,
    so a sale on the anniversary is short term and the day after is long term."""
    if acquired is None:
        return "unknown"
    return "long" if disposed > one_year_after(acquired) else "short"


def tax_report_compute(*, account: Account, year: int, method: str = "fifo") -> dict:
    """The tax report computed now from the ledger and the prices (closed or not): every lot disposed
    in the year, totals by term, and every price the lots used with its source and time."""
    end = dt.datetime(year, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
    books = AccountBooks(account=account, method=method, until=end, record_prices=True)
    rows = []
    totals: dict[str, dict[str, Decimal]] = {}
    for d in books.match.disposals:
        disposed = d.disposed_at.astimezone(dt.UTC).date()
        if disposed.year != year:
            continue
        acquired = d.acquired_at.astimezone(dt.UTC).date() if d.acquired_at else None
        term = holding_term(acquired=acquired, disposed=disposed)
        flags = [f for f in d.flag.split(";") if f] + (["fee_payment"] if d.purpose == FEE_PAYMENT else [])
        unpriced = any(f.startswith(FLAG_UNPRICED) for f in flags)
        rows.append({
            "asset": d.asset, "quantity": d.quantity, "acquired": acquired, "disposed": disposed,
            "proceeds": d.proceeds, "cost_basis": d.cost_basis, "fees": d.fees, "gain": d.gain,
            "holding_days": (disposed - acquired).days if acquired else None, "term": term,
            "flag": ";".join(flags), "unpriced": unpriced,
        })
        t = totals.setdefault(term, {"proceeds": ZERO, "cost_basis": ZERO, "fees": ZERO, "gain": ZERO, "count": 0,
                                     "unpriced": 0})
        for key in ("proceeds", "cost_basis", "fees", "gain"):
            t[key] += rows[-1][key]
        t["count"] += 1
        t["unpriced"] += unpriced
    return {
        "user_id": account.user_id, "year": year, "method": books.method, "currency": "USD",
        "disposals": rows, "totals_by_term": totals,
        "flagged": sum(1 for r in rows if "missing_acquisition" in r["flag"] or r["unpriced"]),
        "unpriced": sum(1 for r in rows if r["unpriced"]),  # rows with a value unknown in USD, counted as 0
        # Every USD price the lots used (deposits in kind, crypto-for-crypto legs, fees in coins), with
        # its source (venue, manual, demo, or `trade`: this account's own trade against cash) and time.
        "prices": [{"asset": asset, "quote": "USD", "price": price, "observed_at": at, "source": source}
                   for asset, at, price, source in books.prices.used()],
        "flags": {
            "missing_acquisition": "sold with no known acquisition: cost basis 0",
            "unpriced": "no USD price for a value of this row (the trade, its fee or the lot's cost): counted as 0",
            "unpriced_acquisition": "acquired (deposit/adjustment) when no price was known: cost basis 0",
            "fee_payment": "the asset was spent to pay a fee (a disposal at market value)",
        },
    }



TAX_MONEY_FIELDS = ("proceeds", "cost_basis", "fees", "gain")


def tax_report_filed_data(report: dict) -> dict:
    """A computed tax report as stored in TaxYearClose.report: decimals and times as exact text."""
    return to_jsonable(report)


def tax_report_filed_load(data: dict) -> dict:
    """A stored tax report back with Decimals, dates and times, so it presents exactly as when filed."""
    def day(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    report = dict(data)
    report["disposals"] = [
        {**r, "quantity": Decimal(r["quantity"]), "acquired": day(r["acquired"]), "disposed": day(r["disposed"]),
         **{k: Decimal(r[k]) for k in TAX_MONEY_FIELDS}} for r in data["disposals"]]
    report["totals_by_term"] = {term: {**t, **{k: Decimal(t[k]) for k in TAX_MONEY_FIELDS}}
                                for term, t in data["totals_by_term"].items()}
    report["prices"] = [{**p, "price": Decimal(p["price"]), "observed_at": dt.datetime.fromisoformat(p["observed_at"])}
                        for p in data.get("prices", [])]
    return report


def _disposal_key(row: dict) -> tuple:
    return tuple(row[k] for k in ("asset", "quantity", "acquired", "disposed", *TAX_MONEY_FIELDS, "term", "flag"))


def tax_report_differences(*, filed: dict, recomputed: dict) -> list[dict]:
    """What a recomputation would change in a filed tax report: totals by term, the disposals, the prices."""
    out = []
    for term in sorted(set(filed["totals_by_term"]) | set(recomputed["totals_by_term"])):
        was = filed["totals_by_term"].get(term, {})
        now = recomputed["totals_by_term"].get(term, {})
        for key in ("count", *TAX_MONEY_FIELDS):
            if was.get(key, 0) != now.get(key, 0):
                out.append({"what": f"{term}-term {key.replace('_', ' ')}", "filed": was.get(key, 0),
                            "recomputed": now.get(key, 0)})
    was_rows = sorted(map(_disposal_key, filed["disposals"]), key=str)
    now_rows = sorted(map(_disposal_key, recomputed["disposals"]), key=str)
    if was_rows != now_rows:
        gone = len([r for r in was_rows if r not in now_rows])
        new = len([r for r in now_rows if r not in was_rows])
        out.append({"what": "disposal rows", "filed": len(was_rows), "recomputed": len(now_rows),
                    "detail": f"{gone} filed row(s) would change or go, {new} row(s) would be new"})

    def price_keys(report: dict) -> set[tuple]:
        return {(p["asset"], p["observed_at"], p["price"], p["source"]) for p in report["prices"]}

    was_prices, now_prices = price_keys(filed), price_keys(recomputed)
    if was_prices != now_prices:
        out.append({"what": "prices used", "filed": len(was_prices), "recomputed": len(now_prices),
                    "detail": f"{len(was_prices - now_prices)} no longer used, {len(now_prices - was_prices)} new"})
    return out


def _difference_text(difference: dict) -> str:
    def shown(value: object) -> str:
        return format_money(value) if isinstance(value, Decimal) else str(value)

    detail = f" ({difference['detail']})" if difference.get("detail") else ""
    return f"{difference['what']} {shown(difference['filed'])} -> {shown(difference['recomputed'])}{detail}"


TAX_REPORT_CACHE_SECONDS = 24 * 3600


def tax_report_computed(*, account: Account, year: int, method: str) -> dict:
    """tax_report_compute, kept in the cache until the account's ledger or any price changes (the
    overview's books_version), so the statements page, its CSV and a closed year's comparison with
    the filed figures compute a year once per change instead of once per request. Filing
    (tax_year_close) computes afresh."""
    created = account.created_at.timestamp() if account.created_at else 0
    key = f"nija:tax:v1:{account.pk}:{created}:{year}:{method}:{books_version(account=account)}"
    found = cache.get(key)
    if found is None:
        found = tax_report_compute(account=account, year=year, method=method)
        cache.set(key, found, timeout=TAX_REPORT_CACHE_SECONDS)
    return found


def tax_year_close_get(*, account: Account, year: int, method: str) -> TaxYearClose | None:
    return TaxYearClose.objects.filter(account=account, year=year, method=method).first()


def tax_report(*, account: Account, year: int, method: str = "fifo") -> dict:
    """The account's tax report for a year: as filed when the year is closed for this method (with a
    warning listing what a recomputation would change), else computed now. The commands, the portal
    and the API all read this."""
    method = method_check(method)
    recomputed = tax_report_computed(account=account, year=year, method=method)
    closed = tax_year_close_get(account=account, year=year, method=method)
    if closed is None:
        filed_with = sorted(TaxYearClose.objects.filter(account=account, year=year).values_list("method", flat=True))
        warnings = [f"{year} was closed (filed) with {', '.join(m.upper() for m in filed_with)}; this "
                    f"{method.upper()} report is computed now, not as filed"] if filed_with else []
        return {**recomputed, "closed": None, "differences": [], "warnings": warnings}
    filed = tax_report_filed_load(closed.report)
    differences = tax_report_differences(filed=filed, recomputed=recomputed)
    warnings = []
    if differences:
        listed = "; ".join(_difference_text(d) for d in differences)
        warnings.append(f"{year} ({method.upper()}) was closed on {closed.closed_at:%Y-%m-%d} and these are the "
                        f"figures as filed; recomputed today they would differ: {listed}")
    return {**filed, "closed": {"closed_at": closed.closed_at, "closed_by": closed.closed_by,
                                "reason": closed.reason},
            "differences": differences, "warnings": warnings}


# --- fees -----------------------------------------------------------------------------------
def fee_report(*, account: Account, start: dt.date, end: dt.date) -> dict:
    """Fees paid in the period by kind and by venue, in USD at fill time, and as % of volume."""
    rows = ledger_rows(account=account, until=day_end(end))
    prices = price_book_for(rows=rows)
    by_kind: dict[str, Decimal] = {}
    by_venue: dict[str, dict[str, Decimal]] = {}
    volume = ZERO
    unpriced = 0
    for r in rows:
        if r.occurred_at.astimezone(dt.UTC).date() < start or r.venue == INVESTOR_FEE_VENUE:
            continue  # investor fees are counted once, from their FeeCharges below
        venue = by_venue.setdefault(r.venue, {"fees": ZERO, "volume": ZERO})
        fee = None
        kind = None
        if r.kind == "trade":
            notional = trade_value_usd(r, prices)
            if notional is not None:
                volume += notional
                venue["volume"] += notional
            if r.fee_amount:
                fee, kind = fee_value_usd(r, prices), "trading"
        elif r.kind == "fee":
            price = prices.at(r.asset, r.occurred_at)
            fee, kind = (-r.amount * price if price is not None else None), "venue"
        if kind is None:
            continue
        if fee is None:
            unpriced += 1
            continue
        by_kind[kind] = by_kind.get(kind, ZERO) + fee
        venue["fees"] += fee
    charges = FeeCharge.objects.filter(account=account, day__gte=start, day__lte=end)
    for kind, amount in charges.values_list("kind", "amount_usd"):
        by_kind[kind] = by_kind.get(kind, ZERO) + amount
    venue_fees = sum((v["fees"] for v in by_venue.values()), ZERO)
    return {
        "user_id": account.user_id, "start": start, "end": end, "currency": "USD",
        "by_kind": by_kind,
        "by_venue": {
            name: {**v, "fees_fraction_of_volume": v["fees"] / v["volume"] if v["volume"] > 0 else None}
            for name, v in sorted(by_venue.items()) if v["fees"] or v["volume"]
        },
        "venue_fees_total": venue_fees,
        "total": sum(by_kind.values(), ZERO),
        "volume": volume,
        "fees_fraction_of_volume": venue_fees / volume if volume > 0 else None,  # a fraction: 0.001 = 0.1%
        "unpriced_fees": unpriced,
    }


def fee_statement(*, account: Account, start: dt.date, end: dt.date) -> dict:
    charges = list(FeeCharge.objects.filter(account=account, day__gte=start, day__lte=end).order_by("day", "kind"))
    mgmt = [c for c in charges if c.kind == FeeCharge.Kind.MANAGEMENT]
    perf = [c for c in charges if c.kind == FeeCharge.Kind.PERFORMANCE]
    schedule = getattr(account, "fee_schedule", None)
    return {
        "user_id": account.user_id, "name": account.full_name, "start": start, "end": end, "currency": "USD",
        "management_fee_rate": schedule.management_fee_rate if schedule else None,
        "performance_fee_rate": schedule.performance_fee_rate if schedule else None,
        "management": {
            "days": len(mgmt), "total": sum((c.amount_usd for c in mgmt), ZERO),
            "avg_nav": sum((c.basis_usd for c in mgmt), ZERO) / len(mgmt) if mgmt else None,
        },
        "performance": {
            "total": sum((c.amount_usd for c in perf), ZERO),
            "crystallizations": [
                {"day": c.day, "trigger": c.trigger, "gain_above_hwm": c.basis_usd, "amount": c.amount_usd,
                 "hwm_before": c.hwm_before, "hwm_after": c.hwm_after} for c in perf
            ],
        },
        "total": sum((c.amount_usd for c in charges), ZERO),
    }


# --- exports --------------------------------------------------------------------------------
# The ledger's import format (`import_ledger --csv`); `export_transactions --ledger-csv` writes it.
LEDGER_CSV_COLUMNS = ["occurred_at", "kind", "venue", "asset", "amount", "counter_asset", "counter_amount",
                      "fee_asset", "fee_amount", "external_id"]


def ledger_csv_rows(*, account: Account) -> Iterator[dict[str, str]]:
    """The account's ledger in the import format, in time order, at full precision (amounts are
    not presented here: an export imported into an empty account must give back the same ledger)."""
    def text(value: Decimal | None) -> str:
        return "" if value is None else format_decimal(value)

    entries = LedgerEntry.objects.filter(account=account).order_by("occurred_at", "id")
    for e in entries.iterator(chunk_size=2000):
        yield {"occurred_at": e.occurred_at.astimezone(dt.UTC).isoformat(), "kind": e.kind, "venue": e.venue,
               "asset": e.asset, "amount": text(e.amount), "counter_asset": e.counter_asset,
               "counter_amount": text(e.counter_amount), "fee_asset": e.fee_asset, "fee_amount": text(e.fee_amount),
               "external_id": e.external_id}


def transaction_row(e: LedgerEntry, balances: dict[str, Decimal]) -> dict:
    """One ledger entry as a transaction-log row, moving the running `balances` (asset -> total).
    `amount` and `balance_after` are in the entry's balance asset: the quote of a trade's pair,
    otherwise the entry's asset. `fee` is in the fee asset, which the note names when it is not
    that balance asset."""
    fee = e.fee_amount or ZERO
    if e.fee_amount:
        balances[e.fee_asset] = balances.get(e.fee_asset, ZERO) - fee
    balances[e.asset] = balances.get(e.asset, ZERO) + e.amount
    notes = [e.note] if e.note else []
    if e.kind == LedgerEntry.Kind.TRADE:
        balances[e.counter_asset] = balances.get(e.counter_asset, ZERO) + e.counter_amount
        pair, balance_asset = f"{e.asset}/{e.counter_asset}", e.counter_asset
        amount = e.counter_amount - (fee if e.fee_asset == e.counter_asset else ZERO)
    else:
        pair, balance_asset = e.asset, e.asset
        amount = e.amount - (fee if e.fee_asset == e.asset else ZERO)
    if e.fee_amount and e.fee_asset != balance_asset:
        notes.append(f"fee in {e.fee_asset}")
    return {
        "date": e.occurred_at, "type": e.kind, "pair": pair, "side": e.side or None,
        "size": abs(e.amount), "price": e.price, "fee": e.fee_amount, "amount": amount,
        "balance_after": balances.get(balance_asset, ZERO), "note": "; ".join(notes) or None,
        "asset": e.asset, "balance_asset": balance_asset, "fee_asset": e.fee_asset or None,
    }


EXPORT_FIELDS = ("date", "type", "pair", "side", "size", "price", "fee", "amount", "balance_after", "note")


def transactions_export(*, account: Account, start: dt.date | None = None, end: dt.date | None = None,
                        pair: str = "") -> dict:
    """The user's transaction log (see transaction_row), optionally only the rows of UTC days
    start..end and of one pair; balances still run from the first entry."""
    balances: dict[str, Decimal] = {}
    out = []
    entries = LedgerEntry.objects.filter(account=account).order_by("occurred_at", "id")
    if end is not None:
        entries = entries.filter(occurred_at__lte=day_end(end))
    for e in entries.iterator(chunk_size=2000):
        row = transaction_row(e, balances)
        if start is not None and e.occurred_at.astimezone(dt.UTC).date() < start:
            continue
        if pair and row["pair"] != pair:
            continue
        out.append(row)
    return {"user_id": account.user_id, "transactions": out}


def ledger_pairs(*, account: Account) -> list[str]:
    """The pairs (trades) and assets (other entries) of an account's ledger, for a filter."""
    rows = (LedgerEntry.objects.filter(account=account).order_by()
            .values_list("kind", "asset", "counter_asset").distinct())
    return sorted({f"{a}/{c}" if kind == LedgerEntry.Kind.TRADE else a for kind, a, c in rows})


def ledger_entries_filtered(*, account: Account, start: dt.date | None = None, end: dt.date | None = None,
                            pair: str = "") -> QuerySet[LedgerEntry]:
    """An account's ledger entries, newest first, in UTC days start..end and of one pair (BTC/USD) or
    asset (USD); the portal pages through it."""
    qs = LedgerEntry.objects.filter(account=account)
    if start is not None:
        qs = qs.filter(occurred_at__gte=dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC))
    if end is not None:
        qs = qs.filter(occurred_at__lte=day_end(end))
    if pair:
        base, _, quote = pair.partition("/")
        qs = (qs.filter(kind=LedgerEntry.Kind.TRADE, asset=base, counter_asset=quote) if quote
              else qs.filter(asset=base).exclude(kind=LedgerEntry.Kind.TRADE))
    return qs.order_by("-occurred_at", "-id")


def reports_for_account(*, account: Account, limit: int) -> list[Report]:
    """An account's stored reports, newest period first (the portal's and the API's report list)."""
    return list(Report.objects.filter(account=account).order_by("-period_start", "period")[:limit])


REPORT_PERIODS = (Report.Period.DAILY, Report.Period.WEEKLY, Report.Period.MONTHLY)
FEE_STATEMENT_PERIODS = (Report.Period.FEE_STATEMENT,)


def fee_schedule_of(*, account: Account) -> FeeSchedule | None:
    return FeeSchedule.objects.filter(account=account).first()


def reports_of_account(*, account: Account, periods: tuple[str, ...]) -> QuerySet[Report]:
    """An account's stored reports of these periods, newest first, without their heavy columns
    (the portal pages through them)."""
    return (Report.objects.filter(account=account, period__in=periods).defer("data", "html", "text")
            .order_by("-period_start", "period", "-id"))


def report_body_html(report: Report) -> str:
    """The inside of a stored report's <body> (our own rendered template), to show it in a page layout."""
    html = report.html
    start, end = html.find("<body>"), html.rfind("</body>")
    return html[start + len("<body>"):end] if start != -1 and end > start else html


def report_get(*, report_id: int, account: Account | None = None) -> Report | None:
    """One stored report (of `account` when given), or None."""
    qs = Report.objects.select_related("account").filter(pk=report_id)
    return (qs.filter(account=account) if account is not None else qs).first()


def stored_nav_days(*, account: Account) -> int:
    return DailyNav.objects.filter(account=account).count()


def fee_schedules() -> QuerySet[FeeSchedule]:
    """Every account's fee schedule, with its account."""
    return FeeSchedule.objects.select_related("account").order_by("account_id")


def account_ids_with_ledger() -> QuerySet:
    """Ids of the accounts that have ledger entries (a values queryset: a subquery or a list)."""
    return LedgerEntry.objects.order_by().values_list("account_id", flat=True).distinct()  # no ordering columns


# --- batches for periodic tasks -------------------------------------------------------------
def ledger_account_ids_batch(*, after_id: int = 0, limit: int) -> list[int]:
    """Ids of the accounts that have a ledger, in id order after `after_id`: one batch of a periodic
    task (reports) that queues itself for the next."""
    return list(LedgerEntry.objects.filter(account_id__gt=after_id).order_by("account_id")
                .values_list("account_id", flat=True).distinct()[:limit])


def fee_schedules_batch(*, after_id: int = 0, limit: int) -> list[FeeSchedule]:
    """Fee schedules (with their account) in account id order after `after_id`: one batch of fee accrual."""
    return list(FeeSchedule.objects.filter(account_id__gt=after_id).select_related("account")
                .order_by("account_id")[:limit])


# --- books against the venues ---------------------------------------------------------------
def ledger_venue_quantities(*, account: Account, venue: str, until: dt.datetime) -> dict[str, Decimal]:
    """asset -> quantity the ledger says the account holds at `venue` at `until`: every entry's
    amount in its asset, a trade's counter amount in the counter asset, minus fees in the fee asset.
    Summed in the database (a million-row ledger is three grouped queries). Assets are keyed by their
    canonical code (core.assets.asset_canonical: an imported Kraken ledger's XXBT counts as BTC)."""
    qs = LedgerEntry.objects.filter(account=account, venue=venue, occurred_at__lte=until).order_by()
    held: dict[str, Decimal] = {}
    legs = (
        (qs, "asset", "amount", 1),
        (qs.exclude(counter_asset=""), "counter_asset", "counter_amount", 1),
        (qs.filter(fee_amount__isnull=False), "fee_asset", "fee_amount", -1),
    )
    for rows, asset_column, amount_column, sign in legs:
        for asset, total in rows.values(asset_column).annotate(total=Sum(amount_column)).values_list(
                asset_column, "total"):
            asset = asset_canonical(asset)
            held[asset] = held.get(asset, ZERO) + sign * (total or ZERO)
    return held


def ledger_venues(*, account: Account) -> list[str]:
    """The venues an account's ledger names."""
    return sorted(LedgerEntry.objects.filter(account=account).order_by().values_list("venue", flat=True).distinct())


def price_usd_at(*, asset: str, when: dt.datetime) -> Decimal | None:
    """USD price of `asset` at `when`: 1 for the dollar and its stablecoins, else the last stored
    price point at or before `when` (None when there is none)."""
    if asset in USD_EQUIVALENTS:
        return Decimal(1)
    return (PricePoint.objects.filter(asset=asset, quote="USD", observed_at__lte=when)
            .order_by("-observed_at").values_list("price", flat=True).first())


def reconcile_tolerance(asset: str) -> Decimal:
    """The largest ledger/venue difference in `asset` that is rounding, not a break (settings)."""
    configured = {asset_code(k): v for k, v in settings.NIJA_RECONCILE_TOLERANCES.items()}
    return abs(Decimal(str(configured.get(asset, settings.NIJA_RECONCILE_TOLERANCE_DEFAULT))))


def reconciliation_breaks_current(*, account: Account | None = None,
                                  account_ids: list[int] | None = None) -> list[ReconciliationBreak]:
    """Breaks not resolved yet (open or explained), oldest first: what the account page, the
    dashboard and the daily compliance check show."""
    qs = ReconciliationBreak.objects.exclude(status=ReconciliationBreak.Status.RESOLVED).select_related("account")
    if account is not None:
        qs = qs.filter(account=account)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    return list(qs.order_by("first_seen_at", "id"))


def reconciliation_breaks_open_before(*, before: dt.datetime) -> list[ReconciliationBreak]:
    """OPEN breaks (not explained, not resolved) first seen before `before`, oldest first."""
    return list(ReconciliationBreak.objects.filter(status=ReconciliationBreak.Status.OPEN, first_seen_at__lt=before)
                .select_related("account").order_by("first_seen_at", "id"))


def reconciliation_breaks_summary() -> dict:
    """Counts by status of the breaks not resolved, and the oldest open one's first sighting."""
    current = ReconciliationBreak.objects.exclude(status=ReconciliationBreak.Status.RESOLVED)
    counts = dict(current.order_by().values("status").annotate(n=Count("id")).values_list("status", "n"))
    oldest = (current.filter(status=ReconciliationBreak.Status.OPEN).order_by("first_seen_at")
              .values_list("first_seen_at", flat=True).first())
    return {"open": counts.get("open", 0), "explained": counts.get("explained", 0), "oldest_open_since": oldest}


def reconciliation_breaks_filtered(*, status: str | None = None, venue: str | None = None, asset: str | None = None,
                                   user_id: str | None = None) -> QuerySet[ReconciliationBreak]:
    """Breaks (every status unless one is given) with their account, unordered (a paginator orders them)."""
    qs = ReconciliationBreak.objects.select_related("account")
    exact = {"status": status, "venue": venue, "asset": asset.upper() if asset else None, "account__user_id": user_id}
    return qs.filter(**{k: v for k, v in exact.items() if v is not None})


# --- the staff dashboard ------------------------------------------------------------------------
@dataclass
class AccountActivity:
    """One card's trading figures. P&L comes from the stored DailyNav rows (refreshed with the daily
    report): `pnl_note` says why today's figure is unknown instead of showing a zero."""

    trades: int = 0  # trade entries (fills) in the ledger
    closed_trades: int = 0  # lot-matched round trips
    win_rate: Decimal | None = None  # wins / closed round trips; None with no closed trade
    total_pnl: Decimal | None = None
    today_pnl: Decimal | None = None
    nav_day: dt.date | None = None
    pnl_note: str = ""
    last_trades: list[dict] = field(default_factory=list)  # newest first


def _fill_row(row: EntryRow) -> dict:
    size = abs(row.amount)
    price = abs(row.counter_amount) / size if row.counter_amount is not None and size else None
    return {"at": row.occurred_at, "venue": row.venue, "pair": f"{row.asset}/{row.counter_asset}",
            "side": row.side or ("buy" if row.amount > 0 else "sell"), "size": size, "price": price,
            "quote": row.counter_asset}


def account_activity_many(*, account_ids: list[int], today: dt.date, last: int = 5) -> dict[int, AccountActivity]:
    """Trades, win rate, today's and total P&L and the last trades of a page of accounts, in four
    queries whatever the page size (ledger rows, prices, the NAV totals, the last two NAV days)."""
    result = {pk: AccountActivity() for pk in account_ids}
    rows_by_account: dict[int, list[EntryRow]] = defaultdict(list)
    for account_id, *values in (LedgerEntry.objects.filter(account_id__in=account_ids)
                                .order_by("account_id", "occurred_at", "id")
                                .values_list("account_id", *ENTRY_ROW_FIELDS)):
        rows_by_account[account_id].append(EntryRow(*values))
    prices = price_book_for(rows=[r for rows in rows_by_account.values() for r in rows])
    for account_id, rows in rows_by_account.items():
        match = lots_match(lot_events_from_entries(rows, prices), method="fifo")
        stats = trade_statistics(closed_trades(match.disposals))
        fills = [r for r in rows if r.kind == LedgerEntry.Kind.TRADE]
        activity = result[account_id]
        activity.trades, activity.closed_trades, activity.win_rate = len(fills), stats["count"], stats["win_rate"]
        activity.last_trades = [_fill_row(r) for r in reversed(fills[-last:])]
    totals = (DailyNav.objects.filter(account_id__in=account_ids).values("account_id")
              .annotate(flows=Sum("net_flow_usd"), last_day=Max("day")).order_by())
    last_day = {t["account_id"]: (t["last_day"], t["flows"]) for t in totals}
    yesterday = today - dt.timedelta(days=1)
    recent: dict[tuple[int, dt.date], tuple[Decimal, Decimal]] = {
        (a, d): (nav, flow) for a, d, nav, flow in DailyNav.objects.filter(
            account_id__in=account_ids, day__in=[today, yesterday] + sorted({d for d, _ in last_day.values()}))
        .values_list("account_id", "day", "nav_usd", "net_flow_usd")}
    for account_id, activity in result.items():
        if account_id not in last_day:
            activity.pnl_note = "no NAV computed yet"
            continue
        day, flows = last_day[account_id]
        nav, flow = recent[(account_id, day)]
        activity.nav_day, activity.total_pnl = day, nav - flows
        if day != today:
            activity.pnl_note = f"NAV through {day.isoformat()}"
            continue
        before = recent.get((account_id, yesterday))
        activity.today_pnl = nav - flow - (before[0] if before else ZERO)
    return result


def book_nav_daily(*, start: dt.date, end: dt.date) -> list[tuple[dt.date, Decimal, int]]:
    """The whole book's NAV per day (sum over accounts of the stored DailyNav, kept per day in
    BookDailyNav) with how many accounts each day covers, oldest first."""
    return list(BookDailyNav.objects.filter(day__gte=start, day__lte=end).order_by("day")
                .values_list("day", "nav_usd", "accounts"))


# --- investor overview ----------------------------------------------------------------------
# The ranges an investor picks on the overview: key -> label.
OVERVIEW_RANGES = {"30d": "30 days", "90d": "90 days", "ytd": "Year to date", "inception": "Since inception"}
OVERVIEW_KEPT_METRICS = ("start", "end", "days", "nav_start", "nav_end", "net_flows", "total_pnl", "twr",
                         "max_drawdown", "trades", "missing_prices")


def overview_range_start(key: str, *, today: dt.date, first_day: dt.date) -> dt.date:
    if key == "30d":
        start = today - dt.timedelta(days=29)
    elif key == "90d":
        start = today - dt.timedelta(days=89)
    elif key == "ytd":
        start = dt.date(today.year, 1, 1)
    else:
        start = first_day
    return max(start, first_day)


def books_version(*, account: Account) -> str:
    """Changes whenever the account's ledger or a price its books read changes: an indexed aggregate
    and the newest price point's id. Points recorded from ledger fills are left out, as
    `price_book_for` leaves them out: every account's copy fills record them, and they must not make
    every other account's figures stale (the newest-first walk on the primary key stops at the first
    venue, manual or demo point)."""
    ledger = LedgerEntry.objects.filter(account=account).aggregate(n=Count("id"), last=Max("id"),
                                                                   at=Max("created_at"))
    price = (PricePoint.objects.exclude(source=PricePoint.Source.LEDGER).order_by("-id")
             .values_list("id", flat=True).first())
    stamp = ledger["at"].timestamp() if ledger["at"] else 0
    return f"{ledger['n']}.{ledger['last']}.{stamp}.{price}"


def overview_version(*, account: Account, today: dt.date) -> str:
    """What an overview is computed from: the account's books and the day its figures run to."""
    return f"{books_version(account=account)}:{today.isoformat()}"


def _account_created(account: Account) -> float:
    return account.created_at.timestamp() if account.created_at else 0


def account_overview(*, account: Account) -> dict:
    """What the investor overview shows, through the current UTC day, computed from the whole ledger
    (the same AccountBooks and period_metrics as the reports and `track_user_performance`). Per
    range: TWR, P&L, drawdown and trade statistics; the NAV curve (unit NAV too); open positions;
    today's P&L. Plus `computed_at` (when the figures were computed) and `updating`.

    Never cold after the first time: a worker recomputes the figures after every ledger change
    (reporting.services.account_overview_refresh) and keeps the latest computation. If it is of the
    books as they stand now, it is served (`updating` False). If they moved since (a price, a ledger
    write not refreshed yet, a new day), the latest figures are served with their time, `updating`
    True, and a refresh is queued. Computed here only when nothing was ever computed for the account."""
    today = dt.datetime.now(dt.UTC).date()
    created = _account_created(account)
    version = overview_version(account=account, today=today)
    latest = overview_latest(account_id=account.pk, created=created)
    if latest is not None and latest["version"] != version:
        overview_refresh_queue(account_id=account.pk)
        # A refresh that ran at once (eager tasks, outside a transaction) has stored the figures already.
        latest = overview_latest(account_id=account.pk, created=created)
    if latest is None:
        latest = _overview_compute_keep(account=account, created=created, version=version, today=today)
    return {**latest["overview"], "computed_at": latest["computed_at"], "updating": latest["version"] != version}


def account_overview_compute_keep(*, account: Account) -> tuple[str, bool]:
    """Compute and keep the overview of the account's books as they stand now, unless the latest
    computation is of them already: (the version it is of, whether it computed)."""
    today = dt.datetime.now(dt.UTC).date()
    created = _account_created(account)
    version = overview_version(account=account, today=today)
    latest = overview_latest(account_id=account.pk, created=created)
    if latest is not None and latest["version"] == version:
        return version, False
    _overview_compute_keep(account=account, created=created, version=version, today=today)
    return version, True


def account_overview_current(*, account: Account) -> str:
    """The version of the account's books now (two indexed aggregates): compare with what
    account_overview_compute_keep returned to know whether they moved."""
    return overview_version(account=account, today=dt.datetime.now(dt.UTC).date())


def _overview_compute_keep(*, account: Account, created: float, version: str, today: dt.date) -> dict:
    # `version` was read before the books are, so the figures kept under it are never older than it says.
    computed_at = timezone.now()
    overview = account_overview_compute(account=account, today=today)
    overview_latest_store(account_id=account.pk, created=created, version=version, computed_at=computed_at,
                          overview=overview)
    return {"version": version, "computed_at": computed_at, "overview": overview}


def account_overview_compute(*, account: Account, today: dt.date) -> dict:
    books = AccountBooks(account=account, until=day_end(today), end_day=today)
    series = books.series
    if not series:
        return {"empty": True, "ranges": {}, "curve": [], "positions": [], "today": today}
    first_day = series[0].day
    ranges = {}
    for key in OVERVIEW_RANGES:
        start = overview_range_start(key, today=today, first_day=first_day)
        metrics = period_metrics(series, start=start, end=today, trades=books.trades)
        ranges[key] = {k: metrics[k] for k in OVERVIEW_KEPT_METRICS}
    today_metrics = period_metrics(series, start=today, end=today, trades=books.trades)
    last = series[-1]
    return {
        "empty": False, "today": today, "first_day": first_day,
        "nav": last.nav, "nav_day": last.day, "missing_prices": last.missing_prices,
        "today_pnl": today_metrics["total_pnl"] if today_metrics["days"] else None,
        "ranges": ranges,
        "curve": [(d.day, d.nav, d.unit_nav) for d in series],
        "positions": positions_view(books=books),
    }


def overview_curve(*, overview: dict, start: dt.date) -> dict:
    """The NAV points of a range and the drawdown (from unit NAV, so flows are no drawdown)."""
    points = [(day, nav, unit) for day, nav, unit in overview["curve"] if day >= start]
    priced = [(day, float(unit)) for day, _, unit in points if unit is not None]
    return {"days": [p[0] for p in points], "nav": [p[1] for p in points],
            "drawdown_days": [day for day, _ in priced], "drawdown": drawdown_curve([u for _, u in priced])}


def unit_navs_between(*, start: dt.date, end: dt.date) -> dict[int, list[tuple[dt.date, Decimal]]]:
    """account id -> [(day, unit NAV)] of the stored daily NAV from `start` to `end`, oldest first
    (days without a unit NAV left out): flows never move the unit NAV, so it shows performance."""
    found: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    rows = (DailyNav.objects.filter(day__gte=start, day__lte=end, unit_nav__isnull=False)
            .order_by("account_id", "day").values_list("account_id", "day", "unit_nav"))
    for account_id, day, unit_nav in rows:
        found[account_id].append((day, unit_nav))
    return dict(found)
