"""Demo ledger for `make run`: four weeks of deposits, trades with fees and daily prices for the demo
accounts, then their reports and a fee statement, so the admin and reports show real figures.

Also every app's demo up to reporting (`demo_seed`): reporting is the top-most of those apps, so it
may name their seeders; each app keeps its own seeder in its demo.py. `seed_demo` (operations, the
top layer) runs this, then operations.demo."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import demo_accounts_seed
from accounts.selectors import accounts_by_user_id
from brokers.demo import DEMO_FUNDS, demo_brokers_seed
from brokers.paper_venue import paper_price_get
from compliance.demo import demo_communications_seed
from copytrading.demo import demo_copytrading_seed

from .lots import ZERO
from .models import LedgerEntry, PricePoint
from .selectors import reports_of_account
from .services import (
    daily_nav_refresh,
    fee_schedule_set,
    fee_statement_generate,
    ledger_entries_write,
    ledger_entry_build,
    report_generate,
    report_notification_queue,
)

DEMO_ACTOR = "system:demo"
DEMO_DAYS = 28
ASSETS = {"BTC": Decimal("50000"), "ETH": Decimal("3000"), "SOL": Decimal("150")}
QTY_STEP = {"BTC": Decimal("0.00001"), "ETH": Decimal("0.0001"), "SOL": Decimal("0.001")}
FEE_RATE = Decimal("0.001")  # 0.1 % taker fee, in USD
CENT = Decimal("0.01")
# user_id -> (deposit on day 0, extra deposit (day, amount) or None, trades per day, stops trading after day)
PLANS = {
    "nija_master": (Decimal("50000"), None, 3, DEMO_DAYS),
    "daivon_frazier": (Decimal("5000"), None, 2, DEMO_DAYS),
    "tania_gilbert": (Decimal("20000"), (14, Decimal("5000")), 2, DEMO_DAYS),
    "marcus_reed": (Decimal("1500"), None, 1, 14),
}


def _end_prices() -> dict[str, Decimal]:
    """End the history at the PAPER venue's current prices, so ledger and venue agree."""
    try:
        return {asset: paper_price_get(symbol=f"{asset}/USD") for asset in ASSETS}
    except Exception:  # noqa: BLE001 - PAPER has no price yet: the defaults are the same figures
        return dict(ASSETS)


def _price_history(rng: random.Random, start: dt.date) -> dict[str, list[Decimal]]:
    """A seeded daily random walk per asset, scaled to end at today's prices."""
    history = {}
    for asset, end_price in _end_prices().items():
        walk = [Decimal(1)]
        for _ in range(DEMO_DAYS):
            walk.append(walk[-1] * (Decimal(1) + Decimal(str(round(rng.gauss(0.002, 0.025), 5)))))
        scale = end_price / walk[-1]
        history[asset] = [(w * scale).quantize(CENT) for w in walk]
    return history


def demo_reporting_seed() -> bool:
    if LedgerEntry.objects.filter(external_id__startswith="demo-").exists():
        return False
    accounts = accounts_by_user_id(user_ids=PLANS)
    if not accounts:
        return False
    rng = random.Random(20260108)  # noqa: S311 - demo data only
    today = timezone.now().date()
    start = today - dt.timedelta(days=DEMO_DAYS + 1)  # the history ends yesterday: nothing in the future
    history = _price_history(rng, start)
    points = []
    for asset, prices in history.items():
        for i, price in enumerate(prices):
            observed = dt.datetime.combine(start + dt.timedelta(days=i), dt.time(0, 5), tzinfo=dt.UTC)
            points.append(PricePoint(asset=asset, quote="USD", price=price, observed_at=observed, source="demo"))
    PricePoint.objects.bulk_create(points, ignore_conflicts=True)

    for user_id, (deposit, extra, per_day, last_day) in PLANS.items():
        account = accounts.get(user_id)
        if account is None:
            continue
        entries = []
        cash = ZERO
        held = {asset: ZERO for asset in ASSETS}

        def add(n: int, day: int, hour: int, *, _entries=entries, _account=account, _uid=user_id, **kwargs) -> None:
            when = dt.datetime.combine(start + dt.timedelta(days=day), dt.time(hour, rng.randint(0, 59)), tzinfo=dt.UTC)
            _entries.append(ledger_entry_build(account=_account, venue="paper", occurred_at=when,
                                               external_id=f"demo-{_uid}-{n}", source="system",
                                               created_by=DEMO_ACTOR, **kwargs))

        n = 0
        add(n, 0, 8, kind="deposit", asset="USD", amount=deposit)
        cash += deposit
        for day in range(1, min(last_day, DEMO_DAYS) + 1):
            if extra and day == extra[0]:
                n += 1
                add(n, day, 7, kind="deposit", asset="USD", amount=extra[1])
                cash += extra[1]
            for k in range(per_day):
                asset = rng.choice(list(ASSETS))
                price = (history[asset][day] * (Decimal(1) + Decimal(str(round(rng.uniform(-0.01, 0.01), 4))))
                         ).quantize(CENT)
                step = QTY_STEP[asset]
                sell = held[asset] > 0 and rng.random() < 0.45
                if sell:
                    qty = (held[asset] * Decimal(str(rng.choice((0.5, 1))))).quantize(step, rounding=ROUND_DOWN)
                else:
                    budget = cash * Decimal(str(round(rng.uniform(0.08, 0.18), 2)))
                    qty = (budget / price).quantize(step, rounding=ROUND_DOWN)
                if qty <= 0:
                    continue
                notional = (qty * price).quantize(CENT)
                fee = (notional * FEE_RATE).quantize(CENT)
                n += 1
                sign = -1 if sell else 1
                add(n, day, 9 + 3 * k, kind="trade", asset=asset, amount=sign * qty, counter_asset="USD",
                    counter_amount=-sign * notional, fee_asset="USD", fee_amount=fee)
                held[asset] += sign * qty
                cash += sign * -notional - fee
        # The last evening the account is brought to what its PAPER venue holds (brokers.demo), at the
        # day's prices, so the books and the venue agree: `reconcile_books` finds no break.
        venue_holds = {asset: Decimal(q) for asset, q in DEMO_FUNDS.get(user_id, {}).items()}
        for asset in ASSETS:
            qty = venue_holds.get(asset, ZERO) - held[asset]
            if qty:
                price = history[asset][DEMO_DAYS]
                notional = (abs(qty) * price).quantize(CENT)
                fee = (notional * FEE_RATE).quantize(CENT)
                n += 1
                add(n, DEMO_DAYS, 22, kind="trade", asset=asset, amount=qty, counter_asset="USD",
                    counter_amount=notional if qty < 0 else -notional, fee_asset="USD", fee_amount=fee)
                held[asset] += qty
                cash += (notional if qty < 0 else -notional) - fee
        if user_id in DEMO_FUNDS and (flow := venue_holds.get("USD", ZERO) - cash):
            n += 1
            add(n, DEMO_DAYS, 23, kind="deposit" if flow > 0 else "withdrawal", asset="USD", amount=flow)
        ledger_entries_write(account=account, entries=entries)

    yesterday = today - dt.timedelta(days=1)
    if "tania_gilbert" in accounts:
        fee_schedule_set(actor=DEMO_ACTOR, account=accounts["tania_gilbert"], performance_fee_rate="0.2",
                         management_fee_rate="0.02", reason="demo investor agreement")
        # Fees first: they are posted to the ledger, so the NAV and reports below are after fees.
        fee_statement_generate(account=accounts["tania_gilbert"], start=start, end=yesterday)
    for account in accounts.values():
        daily_nav_refresh(account=account, through=yesterday)
        for period in ("daily", "weekly", "monthly"):
            report_generate(account=account, period=period, day=yesterday)
    return True


def demo_communications_with_accounts_seed() -> bool:
    """The demo communication log (compliance.demo), given the demo accounts; then the monthly investor
    update for the latest monthly reports, as beat's run on the 1st would send it."""
    accounts = accounts_by_user_id(user_ids=["daivon_frazier", "tania_gilbert", "marcus_reed"])
    seeded = demo_communications_seed(accounts=accounts)
    if seeded:
        for account in accounts.values():
            report = reports_of_account(account=account, periods=("monthly",)).defer(None).first()
            if report is not None:
                report_notification_queue(report=report)
    return seeded


# Every app's seeder, in dependency order; each is idempotent and returns whether it wrote anything.
DEMO_SEEDERS: tuple[Callable[[], bool], ...] = (
    demo_accounts_seed, demo_brokers_seed, demo_copytrading_seed, demo_reporting_seed,
    demo_communications_with_accounts_seed,
)


def demo_seed(*, progress: Callable[[str], None] = lambda _: None) -> dict[str, bool]:
    """Run every seeder, each in its own transaction; keyed by the seeder's dotted path."""
    results: dict[str, bool] = {}
    for seeder in DEMO_SEEDERS:
        path = f"{seeder.__module__}.{seeder.__qualname__}"
        with transaction.atomic():
            results[path] = bool(seeder())
        progress(f"{path}: {'seeded' if results[path] else 'already there'}")
    return results
