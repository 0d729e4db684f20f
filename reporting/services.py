"""Writes: ledger entries (import, manual, venue history, copy fills), prices, daily NAV, investor
fees and stored reports. Validate first, then write in one transaction."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import escape as html_escape

from accounts.choices import AccountStatus
from accounts.selectors import accounts_in
from brokers.market_data import venue_price_readers
from brokers.selectors import balances_for_accounts
from compliance.services import audit_event_record, notification_queue
from copytrading.selectors import copy_fills_for_ledger
from core.actors import Actor, reason_required
from core.assets import USD_EQUIVALENTS, asset_canonical, asset_code
from core.decimals import decimal_for_field, format_money, to_decimal, to_jsonable
from core.errors import ApplicationError
from core.validation import model_values_check

from .lots import ZERO
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
from .overview_store import overview_refresh_claim, overview_refresh_queue, overview_refresh_release
from .performance import day_end
from .reports import report_data, report_html, report_text, report_window
from .selectors import (
    LEDGER_CSV_COLUMNS,
    AccountBooks,
    account_ids_with_ledger,
    account_overview_compute_keep,
    account_overview_current,
    fee_report,
    fee_statement,
    ledger_venue_quantities,
    ledger_venues,
    method_check,
    price_usd_at,
    reconcile_tolerance,
    tax_report_compute,
    tax_report_filed_data,
    tax_year_close_get,
)

if TYPE_CHECKING:
    from accounts.models import Account

CSV_COLUMNS = LEDGER_CSV_COLUMNS  # the import format, which `export_transactions --ledger-csv` writes


# --- ledger ---------------------------------------------------------------------------------
def _parse_when(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        when = value
    else:
        text = str(value or "").strip()
        when = parse_datetime(text.replace(" UTC", "Z")) if text else None
        if when is None and text:
            day = parse_date(text)
            when = dt.datetime.combine(day, dt.time()) if day else None
        if when is None:
            raise ValueError(f"occurred_at '{value}' is not an ISO 8601 date/time")
    if timezone.is_naive(when):
        when = when.replace(tzinfo=dt.UTC)  # naive times are UTC (DESIGN §7)
    return when.astimezone(dt.UTC)


def _opt_decimal(value: Any, name: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_decimal(value, field=name)


def ledger_entry_build(
    *, account: Account, kind: str, venue: str, asset: str, amount: Any, occurred_at: Any, external_id: str,
    counter_asset: str = "", counter_amount: Any = None, fee_asset: str = "", fee_amount: Any = None,
    source: str = LedgerEntry.Source.IMPORT, note: str = "", created_by: str = "",
) -> LedgerEntry:
    """Validate one entry and return it unsaved. Raises ApplicationError naming every problem."""
    problems: list[str] = []
    kind = (kind or "").strip().lower()
    venue = (venue or "").strip().lower()
    asset, counter_asset, fee_asset = asset_code(asset), asset_code(counter_asset), asset_code(fee_asset)
    external_id = (external_id or "").strip()
    when = qty = counter = fee = None
    if kind not in LedgerEntry.Kind.values:
        problems.append(f"kind '{kind}' is not one of {', '.join(LedgerEntry.Kind.values)}")
    if not venue:
        problems.append("venue is required")
    if not asset:
        problems.append("asset is required")
    if not external_id:
        problems.append("external_id is required")
    elif len(external_id) > 128:
        problems.append("external_id is longer than 128 characters")
    try:
        when = _parse_when(occurred_at)
    except ValueError as exc:
        problems.append(str(exc))
    for name, raw in (("amount", amount), ("counter_amount", counter_amount), ("fee_amount", fee_amount)):
        try:
            value = _opt_decimal(raw, name)
        except ApplicationError as exc:
            problems.append(str(exc))
            continue
        if name == "amount":
            qty = value
        elif name == "counter_amount":
            counter = value
        else:
            fee = value
    for name, value in (("amount", qty), ("counter_amount", counter), ("fee_amount", fee)):
        # The ledger stores 18 decimal places and 36 digits: refuse what it would round or overflow.
        if value is not None and (value.as_tuple().exponent < -18 or abs(value) >= Decimal(10) ** 18):
            problems.append(f"{name} {value} has more than 18 decimal places or is too large")
    if qty is None and not any(p.startswith("amount") for p in problems):
        problems.append("amount is required")
    if qty is not None:
        if qty == 0:
            problems.append("amount must not be zero")
        elif kind == "deposit" and qty < 0:
            problems.append("a deposit has a positive amount")
        elif kind in ("withdrawal", "fee") and qty > 0:
            problems.append(f"a {kind} has a negative amount")
    side = ""
    price = None
    if kind == "trade":
        if not counter_asset or counter is None:
            problems.append("a trade needs counter_asset and counter_amount")
        elif counter_asset == asset:
            problems.append("counter_asset must differ from asset")
        elif qty is not None and qty != 0:
            if counter == 0 or (counter > 0) == (qty > 0):
                problems.append("counter_amount must have the opposite sign of amount")
            else:
                side = "buy" if qty > 0 else "sell"
                price = abs(counter) / abs(qty)
    elif counter_asset or counter is not None:
        problems.append(f"a {kind or 'non-trade'} entry has no counter_asset/counter_amount")
    if (fee is None) != (not fee_asset):
        problems.append("fee_asset and fee_amount go together")
    elif fee is not None and fee < 0:
        problems.append("fee_amount must not be negative")
    if problems:
        raise ApplicationError("; ".join(problems), code="invalid", extra={"problems": problems})
    return LedgerEntry(
        account=account, kind=kind, venue=venue, asset=asset, amount=qty, counter_asset=counter_asset,
        counter_amount=counter, price=price, side=side, fee_asset=fee_asset if fee else "",
        fee_amount=fee if fee else None, external_id=external_id, occurred_at=when, source=source, note=note,
        created_by=created_by,
    )


@dataclass
class LedgerWriteResult:
    created: int = 0
    skipped: int = 0  # external ids already in the ledger
    errors: list[str] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)


def _existing_ids(account: Account, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    venues = {v for v, _ in keys}
    for venue in venues:
        ids = [i for v, i in keys if v == venue]
        for start in range(0, len(ids), 500):
            found |= {(venue, i) for i in LedgerEntry.objects.filter(
                account=account, venue=venue, external_id__in=ids[start:start + 500]).values_list("external_id",
                                                                                                   flat=True)}
    return found


def _ledger_prices_record(entries: Iterable[LedgerEntry]) -> None:
    """Each trade against cash carries a USD price; keep the day's last one per asset as a price point."""
    last: dict[tuple[str, dt.date], LedgerEntry] = {}
    for e in entries:
        if e.kind == "trade" and e.counter_asset in USD_EQUIVALENTS and e.price:
            key = (e.asset, e.occurred_at.date())
            if key not in last or e.occurred_at >= last[key].occurred_at:
                last[key] = e
    PricePoint.objects.bulk_create(
        [PricePoint(asset=e.asset, quote="USD", price=e.price, observed_at=e.occurred_at,
                    source=PricePoint.Source.LEDGER) for e in last.values()],
        ignore_conflicts=True, batch_size=1000,
    )


def ledger_entries_write(*, account: Account, entries: list[LedgerEntry], dry_run: bool = False) -> LedgerWriteResult:
    """Insert validated entries; ids already in the ledger are skipped, so re-running changes nothing."""
    result = LedgerWriteResult()
    keys = {(e.venue, e.external_id) for e in entries}
    existing = _existing_ids(account, keys)
    seen: set[tuple[str, str]] = set()
    new = []
    for e in entries:
        key = (e.venue, e.external_id)
        if key in existing or key in seen:
            result.skipped += 1
            continue
        seen.add(key)
        new.append(e)
    result.created = len(new)
    result.entries = new
    if not dry_run and new:
        with transaction.atomic():
            LedgerEntry.objects.bulk_create(new, batch_size=2000)
            _ledger_prices_record(new)
            ledger_changed(account=account)
    return result


def ledger_changed(*, account: Account) -> None:
    """What follows any write to an account's ledger, once it commits: the investor overview is
    computed again in the background (one refresh per burst), so the portal shows it warm. Only for
    an account with a portal login: nobody else reads the overview often enough to keep it warm
    (staff opening one with ?user_id= pay one computation, then it refreshes on their views)."""
    if account.portal_user_id:
        overview_refresh_queue(account_id=account.pk)


def ledger_import_csv(
    *, actor: Actor, account: Account, text: str, dry_run: bool = False, source_name: str = "",
    progress: Callable[[int], None] | None = None,
) -> LedgerWriteResult:
    """All or nothing: every bad row is reported with its line number, and any bad row means no write."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ApplicationError(f"line 1: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}",
                               code="invalid", extra={"errors": [f"line 1: missing {', '.join(missing)}"]})
    reader.fieldnames = header
    errors: list[str] = []
    entries: list[LedgerEntry] = []
    first_line: dict[tuple[str, str], int] = {}
    actor_label = actor if isinstance(actor, str) else getattr(actor, "username", "")
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        if None in row:  # DictReader files surplus cells under None
            errors.append(f"line {line}: {len(header) + len(row[None])} fields, expected {len(header)}")
            continue
        try:
            entry = ledger_entry_build(account=account, source=LedgerEntry.Source.IMPORT, created_by=actor_label,
                                       **{c: row.get(c) or "" for c in CSV_COLUMNS})
        except ApplicationError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        key = (entry.venue, entry.external_id)
        if key in first_line:
            errors.append(f"line {line}: external_id '{entry.external_id}' repeats line {first_line[key]}")
            continue
        first_line[key] = line
        entries.append(entry)
        if progress and len(entries) % 10000 == 0:
            progress(len(entries))
    if errors:
        raise ApplicationError(
            f"{len(errors)} bad row(s), nothing imported: " + " | ".join(errors[:20]), code="invalid",
            extra={"errors": errors},
        )
    with transaction.atomic():
        result = ledger_entries_write(account=account, entries=entries, dry_run=dry_run)
        if not dry_run and result.created:
            audit_event_record(
                actor=actor, action="ledger.imported", target_type="account", target_id=account.user_id,
                reason=f"CSV import {source_name}".strip(),
                after={"created": result.created, "skipped": result.skipped},
            )
    return result


def ledger_entry_manual_record(
    *, actor: Actor, account: Account, kind: str, venue: str, asset: str, amount: Any, reason: str,
    occurred_at: Any = None, counter_asset: str = "", counter_amount: Any = None, fee_asset: str = "",
    fee_amount: Any = None, external_id: str = "",
) -> LedgerEntry:
    """A staff entry (e.g. a correcting adjustment). Needs a reason; recorded in the audit chain."""
    reason = reason_required(reason, "record a manual ledger entry")
    actor_label = actor if isinstance(actor, str) else getattr(actor, "username", "")
    entry = ledger_entry_build(
        account=account, kind=kind, venue=venue, asset=asset, amount=amount,
        occurred_at=occurred_at or timezone.now(), external_id=external_id or f"manual-{uuid.uuid4().hex[:16]}",
        counter_asset=counter_asset, counter_amount=counter_amount, fee_asset=fee_asset, fee_amount=fee_amount,
        source=LedgerEntry.Source.MANUAL, note=reason, created_by=actor_label or "",
    )
    # the columns' limits before the write (found by the command fuzz: a long venue was a DataError)
    model_values_check(LedgerEntry, {name: getattr(entry, name) for name in (
        "venue", "asset", "counter_asset", "fee_asset", "external_id", "note", "created_by")})
    with transaction.atomic():
        if LedgerEntry.objects.filter(account=account, venue=entry.venue, external_id=entry.external_id).exists():
            raise ApplicationError(f"external_id '{entry.external_id}' is already in the ledger", code="duplicate")
        entry.save()
        _ledger_prices_record([entry])
        ledger_changed(account=account)
        audit_event_record(
            actor=actor, action="ledger.manual_entry", target_type="account", target_id=account.user_id,
            reason=reason, after=ledger_entry_snapshot(entry),
        )
    return entry


def ledger_entry_snapshot(entry: LedgerEntry) -> dict:
    return {
        "id": entry.pk, "kind": entry.kind, "venue": entry.venue, "asset": entry.asset, "amount": entry.amount,
        "counter_asset": entry.counter_asset, "counter_amount": entry.counter_amount, "fee_asset": entry.fee_asset,
        "fee_amount": entry.fee_amount, "external_id": entry.external_id, "occurred_at": entry.occurred_at,
    }


def _entry_from_trade(*, account: Account, venue: str, trade: Any, source: str) -> LedgerEntry:
    """A venue fill (brokers.clients.base.Trade or a CopyFill) as a trade entry."""
    base, _, quote = trade.symbol.partition("/")
    quote = quote.split(":")[0]  # "BTC/USDT:USDT" style symbols
    sign = 1 if trade.side == "buy" else -1
    cost = trade.cost if trade.cost is not None else trade.amount * trade.price
    return ledger_entry_build(
        account=account, kind="trade", venue=venue, asset=base, amount=sign * abs(trade.amount),
        counter_asset=quote, counter_amount=-sign * abs(cost), fee_asset=(trade.fee_asset or "") if trade.fee else "",
        fee_amount=trade.fee if trade.fee else None, external_id=str(trade.trade_id), occurred_at=trade.occurred_at,
        source=source,
    )


def ledger_entries_from_trades(
    *, account: Account, venue: str, trades: Iterable[Any], source: str = LedgerEntry.Source.VENUE,
) -> LedgerWriteResult:
    entries = [_entry_from_trade(account=account, venue=venue, trade=t, source=source) for t in trades]
    return ledger_entries_write(account=account, entries=entries)


def ledger_entries_from_venue(
    *, account: Account, client: Any, since: dt.datetime | None = None, symbol: str | None = None,
) -> LedgerWriteResult:
    """Venue history import through a BrokerClient (`fetch_my_trades`). Deposits and withdrawals come
    through the CSV import or manual entries: the client interface has no call for them."""
    trades = client.fetch_my_trades(symbol=symbol, since=since)
    return ledger_entries_from_trades(account=account, venue=client.venue, trades=trades)


def ledger_entries_from_copy_fills(*, account: Account | None = None, since: dt.datetime | None = None) -> int:
    """Fills of copy orders become trade entries, idempotent on (account, venue, trade id)."""
    by_key: dict[tuple[int, str], list] = {}
    accounts: dict[int, Account] = {}
    for fill in copy_fills_for_ledger(account=account, since=since):
        order = fill.copy_order
        accounts[order.account_id] = order.account
        by_key.setdefault((order.account_id, order.venue or "unknown"), []).append(fill)
    created = 0
    for (account_id, venue), fills in by_key.items():
        created += ledger_entries_from_trades(account=accounts[account_id], venue=venue, trades=fills,
                                              source=LedgerEntry.Source.COPY_FILL).created
    return created


# --- prices ---------------------------------------------------------------------------------
def price_point_record(*, asset: str, price: Any, observed_at: dt.datetime | None = None, quote: str = "USD",
                       source: str = PricePoint.Source.MANUAL) -> PricePoint:
    value = to_decimal(price, field="price")
    if value <= 0:
        raise ApplicationError("price must be positive", code="invalid")
    point, _ = PricePoint.objects.get_or_create(
        asset=asset.upper(), quote=quote.upper(), observed_at=observed_at or timezone.now(), source=source,
        defaults={"price": value},
    )
    return point


@dataclass(frozen=True)
class ManualPrice:
    """One validated manual price: USD per unit of `asset` at `observed_at`."""

    asset: str
    price: Decimal
    observed_at: dt.datetime


def manual_price_build(*, asset: Any, price: Any, observed_at: Any, now: dt.datetime | None = None) -> ManualPrice:
    """Validate one manual price (USD). Raises ApplicationError naming every problem."""
    problems: list[str] = []
    code = asset_code(asset)
    value = when = None
    if not code:
        problems.append("asset is required")
    elif len(code) > PricePoint._meta.get_field("asset").max_length or not code.replace(".", "").isalnum():
        problems.append(f"asset '{code}' is not an asset code")
    elif code in USD_EQUIVALENTS:
        problems.append(f"asset {code} is valued at 1 USD and takes no price")
    try:
        value = to_decimal(price, field="price")
        if value <= 0:
            problems.append("price must be positive")
        else:
            value = decimal_for_field(value, model_field=PricePoint._meta.get_field("price"))
    except ApplicationError as exc:
        problems.append(exc.message)
    try:
        when = _parse_when(observed_at)
        if when > (now or timezone.now()):
            problems.append(f"observed_at {when.isoformat()} is in the future")
    except ValueError:
        problems.append(f"observed_at '{observed_at}' is not an ISO 8601 date/time" if str(observed_at or "").strip()
                        else "observed_at is required (ISO 8601, e.g. 2024-03-01T00:00:00Z)")
    if problems:
        raise ApplicationError("; ".join(problems), code="invalid")
    return ManualPrice(asset=code, price=value, observed_at=when)


MANUAL_PRICE_COLUMNS = ("asset", "price", "observed_at")


def manual_prices_from_csv(*, text: str, name: str) -> list[ManualPrice]:
    """Every row of an asset,price,observed_at file (USD), or ApplicationError listing each bad row as
    `name:line: problem` (nothing is returned, so nothing is written, while any row is bad)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in MANUAL_PRICE_COLUMNS if c not in header]
    if missing:
        raise ApplicationError(f"{name}:1: missing column(s) {', '.join(missing)}; expected "
                               f"{','.join(MANUAL_PRICE_COLUMNS)}", code="invalid")
    reader.fieldnames = header
    now = timezone.now()
    errors: list[str] = []
    prices: list[ManualPrice] = []
    first_line: dict[tuple[str, dt.datetime], int] = {}
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        if None in row:
            errors.append(f"{name}:{line}: {len(header) + len(row[None])} fields, expected {len(header)}")
            continue
        try:
            price = manual_price_build(asset=row.get("asset"), price=row.get("price"),
                                       observed_at=row.get("observed_at"), now=now)
        except ApplicationError as exc:
            errors.append(f"{name}:{line}: {exc.message}")
            continue
        key = (price.asset, price.observed_at)
        if key in first_line:
            errors.append(f"{name}:{line}: {price.asset} at {price.observed_at.isoformat()} repeats line "
                          f"{first_line[key]}")
            continue
        first_line[key] = line
        prices.append(price)
    if errors:
        raise ApplicationError(f"{len(errors)} bad row(s), nothing stored: " + " | ".join(errors[:20]),
                               code="invalid", extra={"errors": errors})
    if not prices:
        raise ApplicationError(f"{name}: no prices in the file", code="invalid")
    return prices


@dataclass
class ManualPricesResult:
    created: list[PricePoint] = field(default_factory=list)
    unchanged: int = 0  # the same manual price at the same moment was already stored


def manual_prices_record(*, actor: Actor, prices: list[ManualPrice], reason: str,
                         source_name: str = "") -> ManualPricesResult:
    """Store validated manual prices (source `manual`), all or nothing, with one audit event. A price
    already stored for the asset at that moment is left as it is when equal, and refused when it
    differs (a correction is a new moment, never a rewrite of a price reports may have used)."""
    reason = reason_required(reason, "record a manual price")
    result = ManualPricesResult()
    with transaction.atomic():
        existing = {}
        for asset in sorted({p.asset for p in prices}):
            times = [p.observed_at for p in prices if p.asset == asset]
            for start in range(0, len(times), 500):
                existing |= {(asset, when): price for when, price in PricePoint.objects.filter(
                    asset=asset, quote="USD", source=PricePoint.Source.MANUAL,
                    observed_at__in=times[start:start + 500]).values_list("observed_at", "price")}
        conflicts = [f"{p.asset} at {p.observed_at.isoformat()} already has the manual price "
                     f"{existing[(p.asset, p.observed_at)]}" for p in prices
                     if (p.asset, p.observed_at) in existing and existing[(p.asset, p.observed_at)] != p.price]
        if conflicts:
            raise ApplicationError(f"{len(conflicts)} price(s) conflict, nothing stored: " + " | ".join(conflicts[:20]),
                                   code="conflict", extra={"errors": conflicts})
        new = [PricePoint(asset=p.asset, quote="USD", price=p.price, observed_at=p.observed_at,
                          source=PricePoint.Source.MANUAL) for p in prices if (p.asset, p.observed_at) not in existing]
        result.unchanged = len(prices) - len(new)
        result.created = PricePoint.objects.bulk_create(new, batch_size=1000)
        if new:
            audit_event_record(
                actor=actor, action="reporting.manual_prices_recorded", target_type="price",
                target_id=",".join(sorted({p.asset for p in new}))[:128], reason=reason,
                after={"source": source_name or "command line", "count": len(new),
                       "prices": [{"asset": p.asset, "price": p.price, "observed_at": p.observed_at} for p in new]},
            )
    return result


def prices_refresh(*, clients: Iterable[Any] | None = None) -> dict[str, str]:
    """Ask venue clients for the USD price of every non-cash asset in any ledger. Returns
    asset -> price or the error; a failure is recorded as such, never as a zero price."""
    assets = sorted(set(LedgerEntry.objects.values_list("asset", flat=True).distinct()) - USD_EQUIVALENTS)
    if clients is None:
        clients = _venue_clients()
    clients = list(clients)
    out: dict[str, str] = {}
    now = timezone.now()
    for asset in assets:
        for client in clients:
            for quote in ("USD", "USDT"):  # USDT counts as USD at par (see USD_EQUIVALENTS)
                try:
                    price = client.fetch_price(f"{asset}/{quote}")
                except Exception as exc:  # noqa: BLE001 - a venue failure is reported per asset
                    out[asset] = f"error: {type(exc).__name__}: {exc}"
                    continue
                price_point_record(asset=asset, price=price, observed_at=now, source=PricePoint.Source.VENUE)
                out[asset] = str(price)
                break
            if asset in out and not out[asset].startswith("error"):
                break
    return out


def _venue_clients() -> list[Any]:
    """One public market data reader per venue in use (brokers.market_data)."""
    return venue_price_readers()


# --- investor overview ----------------------------------------------------------------------
# Passes of one refresh at most: books that keep moving are left to the next write's refresh (or
# the next view), never chased for ever.
OVERVIEW_REFRESH_PASSES = 3


def account_overview_refresh(*, account: Account) -> int:
    """Compute and keep the account's investor overview for its books as they stand (the worker's
    side of reporting.selectors.account_overview). The refresh marker was taken when this was
    queued: while it is held no other refresh is queued, so writes during the computation are
    caught here instead: if the books moved meanwhile, compute again (at most
    OVERVIEW_REFRESH_PASSES times). The marker is released before the last look at the books, so a
    write committed after that look queues a refresh of its own. Returns the computations made."""
    computed = 0
    for attempt in range(1, OVERVIEW_REFRESH_PASSES + 1):
        try:
            seen, did = account_overview_compute_keep(account=account)
            computed += did
        finally:
            overview_refresh_release(account_id=account.pk)
        if attempt == OVERVIEW_REFRESH_PASSES or account_overview_current(account=account) == seen:
            break
        if not overview_refresh_claim(account_id=account.pk):
            break  # a write after the release queued its own refresh
    return computed


# --- tax years ------------------------------------------------------------------------------
def tax_year_close(*, actor: Actor, account: Account, year: int, method: str, reason: str = "",
                   today: dt.date | None = None) -> TaxYearClose:
    """Store the account's tax report for a finished year and lot method as filed (audited). From
    then on `tax_report` shows these figures, whatever later ledger entries or prices would change."""
    method = method_check(method)
    today = today or timezone.now().date()
    if year >= today.year:
        raise ApplicationError(f"{year} has not ended yet: only a past year can be closed", code="invalid")
    actor_label = actor if isinstance(actor, str) else getattr(actor, "username", "") or "unknown"
    with transaction.atomic():
        found = tax_year_close_get(account=account, year=year, method=method)
        if found is not None:
            raise ApplicationError(f"{account.user_id}'s {year} ({method.upper()}) was already closed on "
                                   f"{found.closed_at:%Y-%m-%d} by {found.closed_by}", code="duplicate")
        report = tax_report_compute(account=account, year=year, method=method)
        try:
            with transaction.atomic():  # two closes at once: the database's unique key lets one through
                closed = TaxYearClose.objects.create(account=account, year=year, method=method,
                                                     report=tax_report_filed_data(report), closed_at=timezone.now(),
                                                     closed_by=actor_label, reason=(reason or "").strip())
        except IntegrityError:
            raise ApplicationError(f"{account.user_id}'s {year} ({method.upper()}) was closed meanwhile",
                                   code="duplicate") from None
        audit_event_record(
            actor=actor, action="reporting.tax_year_closed", target_type="account", target_id=account.user_id,
            reason=closed.reason or f"tax year {year} closed",
            after={"year": year, "method": method, "disposals": len(report["disposals"]),
                   "prices": len(report["prices"]), "totals_by_term": report["totals_by_term"]},
        )
    return closed


# --- daily NAV ------------------------------------------------------------------------------
def daily_nav_refresh(*, account: Account, through: dt.date | None = None) -> int:
    """Recompute and store the account's daily NAV series (derived data, replaced as a whole), and
    in the same transaction the book's NAV of each day whose figure for this account changed."""
    books = AccountBooks(account=account, end_day=through)
    rows = [
        DailyNav(account=account, day=d.day, nav_usd=d.nav, units=d.units, unit_nav=d.unit_nav,
                 net_flow_usd=d.net_flow, cash_usd=d.cash, invested_usd=d.invested, missing_prices=d.missing_prices)
        for d in books.series
    ]
    with transaction.atomic():
        stored = DailyNav.objects.filter(account=account)
        before = dict(stored.values_list("day", "nav_usd"))
        stored.delete()
        DailyNav.objects.bulk_create(rows, batch_size=1000)
        # Compared as stored (rounded to the column), so an unchanged day is not summed again.
        after = dict(stored.values_list("day", "nav_usd"))
        book_nav_days_refresh(days=[day for day in before.keys() | after.keys() if before.get(day) != after.get(day)])
    return len(rows)


BOOK_NAV_BATCH = 500


def book_nav_days_refresh(*, days: Iterable[dt.date], navs=DailyNav, book=BookDailyNav) -> int:
    """THE way BookDailyNav changes: recompute these days' book NAV (sum and count of DailyNav per
    day, one grouped query per batch of days) in one transaction, the caller's when inside one. The
    days' rows are locked first, in day order, so two accounts refreshed at once take turns and the
    later one sums what the earlier committed. A day with no DailyNav left has no book row. The
    models are parameters so the data migration runs this same code. Returns how many days."""
    days = sorted(set(days))
    with transaction.atomic():
        for start in range(0, len(days), BOOK_NAV_BATCH):
            batch = days[start:start + BOOK_NAV_BATCH]
            book.objects.bulk_create([book(day=day, nav_usd=ZERO, accounts=0) for day in batch], ignore_conflicts=True)
            list(book.objects.select_for_update().filter(day__in=batch).order_by("day").values_list("day", flat=True))
            sums = {row["day"]: (row["nav"], row["n"]) for row in navs.objects.filter(day__in=batch).order_by()
                    .values("day").annotate(nav=Sum("nav_usd"), n=Count("id"))}
            book.objects.filter(day__in=[day for day in batch if day not in sums]).delete()
            now = timezone.now()
            book.objects.bulk_create(
                [book(day=day, nav_usd=nav, accounts=n, updated_at=now) for day, (nav, n) in sums.items()],
                update_conflicts=True, unique_fields=["day"], update_fields=["nav_usd", "accounts", "updated_at"])
    return len(days)


# --- investor fees --------------------------------------------------------------------------
def fee_schedule_set(*, actor: Actor, account: Account, performance_fee_rate: Any = None,
                     management_fee_rate: Any = None, reason: str = "") -> FeeSchedule:
    values = {}
    for name, raw in (("performance_fee_rate", performance_fee_rate), ("management_fee_rate", management_fee_rate)):
        if raw is None:
            continue
        value = to_decimal(raw, field=name)
        if not (0 <= value < 1):
            raise ApplicationError(f"{name} is a fraction in [0, 1), e.g. 0.2 for 20%", code="invalid")
        values[name] = value
    with transaction.atomic():
        schedule, _ = FeeSchedule.objects.select_for_update().get_or_create(account=account)
        before = {"performance_fee_rate": schedule.performance_fee_rate,
                  "management_fee_rate": schedule.management_fee_rate}
        for name, value in values.items():
            setattr(schedule, name, value)
        schedule.save()
        audit_event_record(actor=actor, action="reporting.fee_schedule_set", target_type="account",
                           target_id=account.user_id, reason=reason, before=before,
                           after={k: getattr(schedule, k) for k in before})
    return schedule


def _month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def fees_compute(*, series: list, performance_rate: Decimal, management_rate: Decimal,
                 crystallize: Callable[[dt.date], bool] = _month_end) -> list[dict]:
    """Pure fee schedule over a NAV series (DESIGN §8).

    Management: rate/365 × the day's NAV, every day. Performance: high-water mark that starts at the
    first deposit, moves up with deposits and down pro rata with withdrawals, each flow in time order
    at its own moment (never netted over a day); at each scheduled crystallization
    fee = rate × max(0, NAV − HWM) and the HWM becomes the NAV; a withdrawal crystallizes the
    withdrawn share of the gain above the HWM first, on the account's value just before it."""
    charges: list[dict] = []
    hwm = ZERO
    daily = management_rate / 365
    for d in series:
        perf = ZERO
        gain_basis = ZERO
        hwm_before = hwm
        trigger = ""
        for flow in d.flows:  # one after the other, each valued at its own time
            if flow.amount > 0:
                hwm += flow.amount
            elif flow.amount < 0:
                share = min(-flow.amount / flow.value_before, Decimal(1)) if flow.value_before > 0 else Decimal(1)
                gain = max(ZERO, flow.value_before - hwm)
                if gain > 0 and performance_rate > 0:
                    perf += performance_rate * gain * share
                    gain_basis += gain * share
                    trigger = "withdrawal"
                hwm -= hwm * share
        if crystallize(d.day) and performance_rate > 0 and hwm > 0:
            gain = max(ZERO, d.nav - hwm)
            if gain > 0:
                perf += performance_rate * gain
                gain_basis += gain
                hwm = d.nav
                trigger = trigger or "schedule"
        if perf > 0:
            charges.append({"kind": "performance", "day": d.day, "basis": gain_basis, "rate": performance_rate,
                            "amount": perf, "hwm_before": hwm_before, "hwm_after": hwm, "trigger": trigger})
        if management_rate > 0 and d.nav > 0:
            charges.append({"kind": "management", "day": d.day, "basis": d.nav, "rate": management_rate,
                            "amount": d.nav * daily, "hwm_before": None, "hwm_after": None, "trigger": "daily"})
    return charges


def fees_accrue(*, account: Account, through: dt.date | None = None) -> int:
    """Store the fee charges up to `through` (default yesterday) that are not stored yet. Charges
    already stored are never rewritten."""
    schedule = FeeSchedule.objects.filter(account=account).first()
    if schedule is None or (not schedule.performance_fee_rate and not schedule.management_fee_rate):
        return 0
    through = through or (timezone.now().date() - dt.timedelta(days=1))
    # Computed on the NAV gross of the investor fees already posted, so a re-run sees the series
    # the stored charges were computed on and creates nothing new.
    books = AccountBooks(account=account, until=dt.datetime.combine(through, dt.time.max, tzinfo=dt.UTC),
                         end_day=through, investor_fees=False)
    charges = fees_compute(series=books.series, performance_rate=schedule.performance_fee_rate,
                           management_rate=schedule.management_fee_rate)
    stored_charges = list(FeeCharge.objects.filter(account=account))
    stored = {(c.kind, c.day) for c in stored_charges}
    new = [
        FeeCharge(account=account, kind=c["kind"], day=c["day"], basis_usd=c["basis"], rate=c["rate"],
                  amount_usd=_charge_amount(c["amount"]), hwm_before=c["hwm_before"], hwm_after=c["hwm_after"],
                  trigger=c["trigger"])
        for c in charges if (c["kind"], c["day"]) not in stored
    ]
    with transaction.atomic():  # a charge and its ledger entry commit together or not at all
        FeeCharge.objects.bulk_create(new, batch_size=1000)
        fee_charges_post(account=account, charges=stored_charges + new)
    return len(new)


def _charge_amount(amount: Decimal) -> Decimal:
    """A charge as its column stores it (half-even at the column's places), so the ledger entry
    posted from it in memory is the same figure as the stored charge."""
    places = FeeCharge._meta.get_field("amount_usd").decimal_places
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def fee_charge_external_id(*, kind: str, day: dt.date) -> str:
    """The ledger id of a FeeCharge's entry: one charge per (account, kind, day), so one entry."""
    return f"fee-{kind}-{day:%Y-%m-%d}"


def fee_charges_post(*, account: Account, charges: Iterable[FeeCharge]) -> int:
    """Post every one of the account's `charges` that is not in the ledger yet as a `fee` entry
    (USD, at the end of the charge's day, at the book-only venue): NAV after fees, the statement
    and the transaction export then agree. Idempotent on the charge (its external id); charges
    stored before fees were posted are posted by the next accrual."""
    entries = [
        ledger_entry_build(
            account=account, kind=LedgerEntry.Kind.FEE, venue=INVESTOR_FEE_VENUE, asset="USD",
            amount=-charge.amount_usd, occurred_at=day_end(charge.day),
            external_id=fee_charge_external_id(kind=charge.kind, day=charge.day), source=LedgerEntry.Source.FEE_CHARGE,
            note=f"{charge.get_kind_display().lower()} {charge.day:%Y-%m-%d} ({charge.trigger or 'schedule'}), "
                 f"rate {charge.rate}",
        )
        for charge in sorted(charges, key=lambda c: (c.day, c.kind)) if charge.amount_usd > 0
    ]
    return ledger_entries_write(account=account, entries=entries).created


# --- reports --------------------------------------------------------------------------------
def report_store(*, account: Account, period: str, start: dt.date, end: dt.date, data: dict, html: str,
                 text: str) -> Report:
    """One stored report per (account, period, start); generating again replaces it."""
    payload = to_jsonable({k: v for k, v in data.items() if k != "journal"})
    if "journal" in data:  # built JSON-ready (100,000 rows would be walked again for nothing)
        payload["journal"] = data["journal"]
    report, _ = Report.objects.update_or_create(
        account=account, period=period, period_start=start,
        defaults={"period_end": end, "data": payload, "html": html, "text": text,
                  "generated_at": timezone.now()},
    )
    return report


def report_generate(*, account: Account, period: str, day: dt.date, books: Any = None) -> Report:
    """Build, render and store one periodic report for the window of `period` that `day` falls in."""
    start, end = report_window(period=period, day=day)
    data = report_data(account=account, period=period, day=day, books=books)
    return report_store(account=account, period=period, start=start, end=end, data=data, html=report_html(data),
                        text=report_text(data))


def report_generate_with_nav(*, account: Account, period: str, day: dt.date) -> Report:
    """What the scheduled task and `generate_reports` both do: a daily report first refreshes the
    account's stored daily NAV through that day, then the report is generated."""
    if period == "daily":
        daily_nav_refresh(account=account, through=day)
    return report_generate(account=account, period=period, day=day)


# The message each scheduled report sends to the account holder (the preferences decide who gets it).
REPORT_NOTIFICATIONS = {"daily": "daily_summary", "weekly": "weekly_summary", "monthly": "monthly_update"}


def report_notification_queue(*, report: Report):
    """The daily summary, weekly summary or monthly investor update for a stored report, once per
    (account, kind, period); nothing for a closed (or closing) account."""
    kind = REPORT_NOTIFICATIONS.get(report.period)
    account = report.account
    if kind is None or account.status in (AccountStatus.INACTIVE, AccountStatus.OFFBOARDING):
        return None
    start, end = report.period_start, report.period_end
    period = {"daily": start.isoformat(), "weekly": f"{start.isoformat()}..{end.isoformat()}",
              "monthly": f"{start:%Y-%m}"}[report.period]
    report_url = settings.NIJA_PORTAL_BASE_URL.rstrip("/") + reverse("portal-report", args=[report.pk])
    context = {"day": start.isoformat(), "start": start.isoformat(), "end": end.isoformat(),
               "month": f"{start:%B %Y}", "report_text": report.text, "report_url": report_url}
    return notification_queue(kind=kind, account=account, period=period, context=context, actor="system:reports")


def report_generate_scheduled(*, account: Account, period: str, day: dt.date) -> Report:
    """What beat's report run does per account: the report (with the NAV first), then its message."""
    report = report_generate_with_nav(account=account, period=period, day=day)
    report_notification_queue(report=report)  # a re-run regenerates the report, never a second message
    return report


def reports_generate(
    *, period: str, day: dt.date, accounts: Iterable[Account] | None = None,
    progress: Callable[[int, int, Account, str], None] | None = None,
) -> dict[str, list[str]]:
    """Reports for many accounts; one account's failure is recorded and does not stop the others."""
    if accounts is None:
        accounts = accounts_in(ids=account_ids_with_ledger())
    accounts = list(accounts)
    done: dict[str, list[str]] = {"generated": [], "failed": []}
    for n, account in enumerate(accounts, 1):
        try:
            report_generate_with_nav(account=account, period=period, day=day)
            done["generated"].append(account.user_id)
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 - reported per account, the batch goes on
            done["failed"].append(f"{account.user_id}: {type(exc).__name__}: {exc}")
            outcome = f"failed: {exc}"
        if progress:
            progress(n, len(accounts), account, outcome)
    return done


def fee_statement_generate(*, account: Account, start: dt.date, end: dt.date) -> Report:
    """Accrue fees through `end`, then store the statement as a Report (period fee_statement)."""
    fees_accrue(account=account, through=end)
    data = fee_statement(account=account, start=start, end=end)
    lines = [
        f"Fee statement: {data['name']} ({data['user_id']})",
        f"Period: {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        f"Management fee ({data['management_fee_rate'] or 0} a year, accrued daily on NAV): "
        f"{format_money(data['management']['total'])} over {data['management']['days']} days",
        f"Performance fee ({data['performance_fee_rate'] or 0} above the high-water mark): "
        f"{format_money(data['performance']['total'])}",
    ]
    for c in data["performance"]["crystallizations"]:
        lines.append(f"  {c['day']:%Y-%m-%d} ({c['trigger']}): {format_money(c['amount'])} on "
                     f"{format_money(c['gain_above_hwm'])} above HWM {format_money(c['hwm_before'])}")
    lines.append(f"Total: {format_money(data['total'])}")
    text = "\n".join(lines) + "\n"
    html = ("<!doctype html><html><head><meta charset='utf-8'><title>Fee statement</title></head><body><pre>"
            + html_escape(text) + "</pre></body></html>")
    return report_store(account=account, period=Report.Period.FEE_STATEMENT, start=start, end=end, data=data,
                        html=html, text=text)


# --- books against the venues ---------------------------------------------------------------
RECONCILE_ACTOR = "system:reconcile_books"
# Venues that exist only in our books (investor fees owed to the operator): no venue holds them.
BOOK_ONLY_VENUES = frozenset({INVESTOR_FEE_VENUE})


@dataclass
class BooksReconciliation:
    """One run: every (account, venue, asset) compared, the breaks found (new or seen again), the
    breaks that agree again and were resolved, and the venues that could not be compared."""

    compared: list[dict] = field(default_factory=list)
    breaks: list[ReconciliationBreak] = field(default_factory=list)
    new: int = 0
    resolved: list[ReconciliationBreak] = field(default_factory=list)
    unavailable: list[dict] = field(default_factory=list)
    accounts: int = 0


def _quantity(value: Decimal) -> Decimal:
    return decimal_for_field(value, model_field=ReconciliationBreak._meta.get_field("difference"), allow_zero=True)


def _usd(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return decimal_for_field(value, model_field=ReconciliationBreak._meta.get_field("difference_usd"),
                             allow_zero=True)


def _canonical_quantities(quantities: dict[str, Decimal]) -> dict[str, Decimal]:
    """asset -> quantity with venue spellings merged into the ledger's code (core.assets.asset_canonical)."""
    merged: dict[str, Decimal] = {}
    for asset, quantity in quantities.items():
        code = asset_canonical(asset)
        merged[code] = merged.get(code, ZERO) + quantity
    return merged


def books_reconcile(*, account_ids: list[int], now: dt.datetime | None = None,
                    result: BooksReconciliation | None = None) -> BooksReconciliation:
    """Compare, per account, venue and asset, the quantity the ledger implies (entries up to the
    snapshot's time) with the latest good balance snapshot. A difference above the asset's
    tolerance is a ReconciliationBreak: the same row while it lasts (figures and last_seen_at
    updated), resolved when a run finds the books agreeing again. A venue whose balance is
    unavailable is listed with its reason and its breaks are left as they are."""
    now = now or timezone.now()
    result = result or BooksReconciliation()
    for balances in balances_for_accounts(account_ids=account_ids):
        account = balances.account
        result.accounts += 1
        found: dict[tuple[str, str], dict] = {}
        compared_venues: set[str] = set()
        for venue, reading in balances.venues.items():
            if reading.last_good_at is None:
                result.unavailable.append({"account": account.user_id, "venue": venue,
                                           "reason": reading.error or "no good balance snapshot"})
                continue
            compared_venues.add(venue)
            ledger = ledger_venue_quantities(account=account, venue=venue, until=reading.last_good_at)
            held = _canonical_quantities(reading.assets)  # the venue's XXBT/XBT is the ledger's BTC
            for asset in sorted(set(ledger) | set(held)):
                ledger_qty, venue_qty = ledger.get(asset, ZERO), held.get(asset, ZERO)
                difference = venue_qty - ledger_qty
                row = {"account": account.user_id, "venue": venue, "asset": asset, "ledger": ledger_qty,
                       "venue_quantity": venue_qty, "difference": difference, "snapshot_at": reading.last_good_at,
                       "tolerance": reconcile_tolerance(asset), "stale_reason": reading.error}
                row["break"] = abs(difference) > row["tolerance"]
                result.compared.append(row)
                if row["break"]:
                    price = price_usd_at(asset=asset, when=reading.last_good_at)
                    row["difference_usd"] = difference * price if price is not None else None
                    found[(venue, asset)] = row
        for venue in ledger_venues(account=account):
            if venue not in balances.venues and venue not in BOOK_ONLY_VENUES:
                result.unavailable.append({"account": account.user_id, "venue": venue,
                                           "reason": "no active credential: the venue's balance is not fetched"})
        with transaction.atomic():
            _breaks_write(account=account, found=found, compared_venues=compared_venues, now=now, result=result)
    return result


def _breaks_write(*, account: Account, found: dict[tuple[str, str], dict], compared_venues: set[str],
                  now: dt.datetime, result: BooksReconciliation) -> None:
    current = {(b.venue, b.asset): b for b in ReconciliationBreak.objects.select_for_update().filter(
        account=account).exclude(status=ReconciliationBreak.Status.RESOLVED)}
    for key, row in found.items():
        figures = {"ledger_quantity": _quantity(row["ledger"]), "venue_quantity": _quantity(row["venue_quantity"]),
                   "difference": _quantity(row["difference"]), "difference_usd": _usd(row["difference_usd"]),
                   "snapshot_at": row["snapshot_at"], "last_seen_at": now}
        existing = current.get(key)
        if existing is None:
            existing = ReconciliationBreak.objects.create(account=account, venue=key[0], asset=key[1],
                                                          first_seen_at=now, **figures)
            result.new += 1
            audit_event_record(actor=RECONCILE_ACTOR, action="reporting.reconciliation_break_found",
                               target_type="account", target_id=account.user_id,
                               reason=f"{key[1]} at {key[0]}: venue and ledger differ", after=_break_snapshot(existing))
        else:
            for name, value in figures.items():
                setattr(existing, name, value)
            existing.save(update_fields=list(figures))
        row["status"] = existing.status
        result.breaks.append(existing)
    for key, existing in current.items():
        if key not in found and key[0] in compared_venues:
            before = _break_snapshot(existing)
            existing.status = ReconciliationBreak.Status.RESOLVED
            existing.resolved_at = now
            existing.reason = "; ".join(r for r in (existing.reason, "books agree again") if r)
            existing.save(update_fields=["status", "resolved_at", "reason"])
            audit_event_record(actor=RECONCILE_ACTOR, action="reporting.reconciliation_break_resolved",
                               target_type="account", target_id=account.user_id, reason="books agree again",
                               before=before, after=_break_snapshot(existing))
            result.resolved.append(existing)


def _break_snapshot(brk: ReconciliationBreak) -> dict:
    return {"id": brk.pk, "venue": brk.venue, "asset": brk.asset, "ledger_quantity": brk.ledger_quantity,
            "venue_quantity": brk.venue_quantity, "difference": brk.difference, "difference_usd": brk.difference_usd,
            "status": brk.status, "reason": brk.reason}


def _break_status_set(*, actor: Actor, reconciliation_break: ReconciliationBreak, status: str, reason: str,
                      action: str) -> ReconciliationBreak:
    reason = reason_required(reason, f"mark a reconciliation break {status}")
    with transaction.atomic():
        brk = ReconciliationBreak.objects.select_for_update().get(pk=reconciliation_break.pk)
        if brk.status == ReconciliationBreak.Status.RESOLVED:
            raise ApplicationError(f"break #{brk.pk} is already resolved", code="invalid")
        before = _break_snapshot(brk)
        brk.status, brk.reason = status, reason
        if status == ReconciliationBreak.Status.RESOLVED:
            brk.resolved_at = timezone.now()
        brk.save(update_fields=["status", "reason", "resolved_at"])
        audit_event_record(actor=actor, action=action, target_type="account", target_id=brk.account.user_id,
                           reason=reason, before=before, after=_break_snapshot(brk))
    return brk


def reconciliation_break_explain(*, actor: Actor, reconciliation_break: ReconciliationBreak,
                                 reason: str) -> ReconciliationBreak:
    """Staff know why the books differ (a deposit not imported yet, a venue's dust): explained,
    with the reason; it stays listed until the books agree or staff resolve it."""
    return _break_status_set(actor=actor, reconciliation_break=reconciliation_break,
                             status=ReconciliationBreak.Status.EXPLAINED, reason=reason,
                             action="reporting.reconciliation_break_explained")


def reconciliation_break_resolve(*, actor: Actor, reconciliation_break: ReconciliationBreak,
                                 reason: str) -> ReconciliationBreak:
    """Staff close a break (e.g. corrected by an adjustment entry). A run that still finds the
    difference opens a new one."""
    return _break_status_set(actor=actor, reconciliation_break=reconciliation_break,
                             status=ReconciliationBreak.Status.RESOLVED, reason=reason,
                             action="reporting.reconciliation_break_resolved")


def final_report_generate(*, account: Account, exit_day: dt.date) -> Report:
    """Offboarding: the account's whole life, inception to exit, stored as a `final` Report. Copy
    fills are brought into the ledger and fees accrued first, so the figures include the closes."""
    ledger_entries_from_copy_fills(account=account)
    books = AccountBooks(account=account, until=day_end(exit_day), end_day=exit_day)
    first = books.rows[0].occurred_at.astimezone(dt.UTC).date() if books.rows else exit_day
    start = min(first, exit_day)
    if FeeSchedule.objects.filter(account=account).exists():
        fees_accrue(account=account, through=exit_day)
    fees = fee_report(account=account, start=start, end=exit_day)
    metrics = books.metrics(start=start, end=exit_day) if books.rows else None
    data = {
        "user_id": account.user_id, "name": account.full_name, "period": Report.Period.FINAL, "start": start,
        "end": exit_day, "currency": "USD",
        "total_pnl": metrics["total_pnl"] if metrics else None,
        "final_nav": metrics["nav_end"] if metrics else None,
        "twr": metrics["twr"] if metrics else None,
        "max_drawdown": metrics["max_drawdown"] if metrics else None,
        "trades": metrics["trades"] if metrics else None,
        "fees": {"by_kind": fees["by_kind"], "total": fees["total"]},
        "positions_left": [{"asset": a, "quantity": q} for a, (q, _c, _t) in sorted(books.match.positions().items())],
        "missing_prices": metrics["missing_prices"] if metrics else [],
    }
    lines = [
        f"Final report: {account.full_name} ({account.user_id})",
        f"From {start:%Y-%m-%d} (inception) to {exit_day:%Y-%m-%d} (exit)",
        f"Total P&L: {format_money(data['total_pnl'])}" + ("" if metrics else " (no ledger entries)"),
        f"Final NAV: {format_money(data['final_nav'])}",
        f"Fees charged: {format_money(fees['total'])}"
        + "".join(f"; {kind} {format_money(amount)}" for kind, amount in sorted(fees["by_kind"].items())),
    ]
    if data["positions_left"]:
        lines.append("Positions kept: " + ", ".join(f"{p['quantity']} {p['asset']}" for p in data["positions_left"]))
    if data["missing_prices"]:
        lines.append("Unpriced assets (not valued): " + ", ".join(data["missing_prices"]))
    text = "\n".join(lines) + "\n"
    html = ("<!doctype html><html><head><meta charset='utf-8'><title>Final report</title></head><body><pre>"
            + html_escape(text) + "</pre></body></html>")
    return report_store(account=account, period=Report.Period.FINAL, start=start, end=exit_day, data=data,
                        html=html, text=text)
