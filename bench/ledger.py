"""Ledger benchmark (not a test): prints figures, and ratios against a baseline measured in the same run.

Case 1: lot matching over 1,000,000 fills, in Decimal (target <= 5 s).
Case 2: the full monthly report (NAV, metrics, lots, charts, HTML with the full journal, stored Report)
        for an account with 100,000 fills in the month (target <= 10 s).

Runs against a throw-away SQLite database (or $BENCH_DATABASE_URL), never the demo database.
    .venv/bin/python bench/ledger.py [--fills 1000000] [--report-fills 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import resource
import time
from decimal import Decimal

from harness import django_setup  # bench/harness.py, before any project import

django_setup("ledger")

# After Django is set up (the database this run picked), as every benchmark does:
from django.core.management import call_command  # noqa: E402

from accounts.services import account_onboard  # noqa: E402
from reporting.lots import EntryRow, PriceBook, lot_events_from_entries, lots_match  # noqa: E402
from reporting.models import LedgerEntry, Report  # noqa: E402
from reporting.selectors import ledger_rows  # noqa: E402
from reporting.services import ledger_entries_write, ledger_entry_build, report_generate  # noqa: E402

ASSETS = {"BTC": Decimal("50000"), "ETH": Decimal("3000"), "SOL": Decimal("150"), "XRP": Decimal("0.6")}
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def synthetic_rows(n: int, *, seed: int, span: dt.timedelta) -> list:
    """n trade fills over `span`: buys and sells of four assets against USD, USD fees, no oversells."""
    rng = random.Random(seed)
    held = dict.fromkeys(ASSETS, Decimal(0))
    price = dict(ASSETS)
    step = span / n
    rows = []
    units = {"BTC": Decimal("0.0001"), "ETH": Decimal("0.001"), "SOL": Decimal("0.01"), "XRP": Decimal("1")}
    names = list(ASSETS)
    for i in range(n):
        asset = names[i % 4]
        q = units[asset]
        price[asset] = (price[asset] * Decimal(1 + rng.uniform(-0.002, 0.002))).quantize(Decimal("0.0001"))
        sell = held[asset] > 0 and rng.random() < 0.48
        if sell:
            qty = (held[asset] * Decimal(rng.choice(("0.25", "0.5", "1")))).quantize(q)
            if qty <= 0:
                sell, qty = False, q
        else:
            qty = Decimal(rng.randint(1, 500)) * q
        notional = (qty * price[asset]).quantize(Decimal("0.01"))
        fee = (notional * Decimal("0.001")).quantize(Decimal("0.01"))
        sign = -1 if sell else 1
        held[asset] += sign * qty
        rows.append(EntryRow(i + 1, T0 + step * i, "trade", "paper", asset, sign * qty, "USD", -sign * notional,
                             "buy" if sign > 0 else "sell", "USD", fee))
    return rows


def case_lot_matching(n: int) -> dict:
    rows = synthetic_rows(n, seed=1, span=dt.timedelta(days=365))
    before = current_rss_mib()
    prices = PriceBook()
    t = time.perf_counter()
    events = lot_events_from_entries(rows, prices)
    t_events = time.perf_counter() - t
    out = {"fills": n, "events_s": t_events}
    for method in ("fifo", "lifo", "hifo"):
        t = time.perf_counter()
        result = lots_match(events, method=method)
        out[f"{method}_s"] = time.perf_counter() - t
        out[f"{method}_disposals"] = len(result.disposals)
        del result
    # Baseline in the same run: a bare loop doing one Decimal add per event (the floor for any matcher).
    t = time.perf_counter()
    total = Decimal(0)
    for event in events:
        total += event[3]
    out["baseline_s"] = time.perf_counter() - t
    out["rss_delta_mib"] = current_rss_mib() - before
    out["peak_rss_mib"] = rss_mib()
    return out


def case_monthly_report(n: int) -> dict:
    call_command("migrate", verbosity=0, interactive=False)
    account = account_onboard(actor="bench", user_id="bench_user", full_name="Bench User",
                              email="bench@example.com", initial_capital=Decimal("1000000"))
    rows = synthetic_rows(n, seed=2, span=dt.timedelta(days=30) - dt.timedelta(seconds=1))
    entries = [ledger_entry_build(account=account, kind="deposit", venue="paper", asset="USD",
                                  amount=Decimal("10000000"), occurred_at=T0, external_id="d-0")]
    entries += [ledger_entry_build(
        account=account, kind="trade", venue="paper", asset=r.asset, amount=r.amount, counter_asset="USD",
        counter_amount=r.counter_amount, fee_asset="USD", fee_amount=r.fee_amount,
        occurred_at=r.occurred_at + dt.timedelta(seconds=1), external_id=f"f-{r.id}") for r in rows]
    t = time.perf_counter()
    ledger_entries_write(account=account, entries=entries)
    load_s = time.perf_counter() - t
    del entries, rows
    assert LedgerEntry.objects.filter(account=account).count() == n + 1
    before = current_rss_mib()
    t = time.perf_counter()
    report = report_generate(account=account, period="monthly", day=dt.date(2026, 1, 15))
    report_s = time.perf_counter() - t
    assert Report.objects.filter(pk=report.pk).exists()
    # Baseline in the same run: just reading the 100k rows out of the database.
    t = time.perf_counter()
    ledger_rows(account=account)
    read_s = time.perf_counter() - t
    return {"fills": n, "insert_s": load_s, "report_s": report_s, "read_rows_s": read_s,
            "journal_rows": len(report.data["journal"]), "html_mib": len(report.html) / 2**20,
            "rss_delta_mib": current_rss_mib() - before, "peak_rss_mib": rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--report-fills", type=int, default=100_000)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus; "
          f"db {os.environ['DATABASE_URL'].split(':')[0]}")
    r1 = case_lot_matching(args.fills)
    print(f"case 1: lot matching, {r1['fills']:,} fills (Decimal)")
    print(f"  ledger rows -> lot events: {r1['events_s']:.2f} s")
    for method in ("fifo", "lifo", "hifo"):
        print(f"  {method.upper()}: {r1[f'{method}_s']:.2f} s ({r1[f'{method}_disposals']:,} disposals); "
              f"events + match {r1['events_s'] + r1[f'{method}_s']:.2f} s  [target <= 5 s]")
    print(f"  baseline (one Decimal add per event): {r1['baseline_s']:.2f} s; FIFO/baseline "
          f"{r1['fifo_s'] / r1['baseline_s']:.1f}x")
    print(f"  memory: +{r1['rss_delta_mib']:.0f} MiB RSS during matching, peak RSS {r1['peak_rss_mib']:.0f} MiB "
          f"(includes the 1M input rows)")
    r2 = case_monthly_report(args.report_fills)
    print(f"case 2: full monthly report, {r2['fills']:,} fills in the month")
    print(f"  (setup: bulk insert {r2['insert_s']:.1f} s, not timed)")
    print(f"  report_generate: {r2['report_s']:.2f} s  [target <= 10 s]; journal {r2['journal_rows']:,} rows, "
          f"HTML {r2['html_mib']:.1f} MiB")
    print(f"  baseline (read the rows only): {r2['read_rows_s']:.2f} s; report/baseline "
          f"{r2['report_s'] / r2['read_rows_s']:.1f}x")
    print(f"  memory: +{r2['rss_delta_mib']:.0f} MiB RSS, peak RSS {r2['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
