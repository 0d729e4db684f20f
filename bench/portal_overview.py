"""Investor portal overview benchmark (not a test): p95 of GET /portal/ for an account with
100,000 ledger entries over a year (target <= 300 ms), through Django's test client and the real
view, session and middleware. Measured: the first view ever (computes inline), warm views (the
latest figures are of the books as they stand), stale views (a price moved since: the latest
figures are served with their time and a refresh is queued, as after every price refresh), and
the background refresh a worker runs. Baseline in the same run: computing the figures from the
ledger (what the refresh pays, and what track_user_performance pays every time).

Runs against a throw-away SQLite database (or $BENCH_DATABASE_URL), never the demo database; the
queued refreshes go to a throw-away filesystem queue that no worker reads, and the overview cache
is a throw-away folder (the embedded mode's file cache; production's is Redis).
    .venv/bin/python bench/portal_overview.py [--entries 100000] [--requests 60] [--stale 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
TMP = tempfile.mkdtemp(prefix="nija-bench-portal-")
os.environ.setdefault("BENCH_DATABASE_URL", f"sqlite:///{TMP}/bench.sqlite3")
os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
os.environ["NIJA_CELERY_QUEUE_DIR"] = f"{TMP}/celery"
os.environ["NIJA_OVERVIEW_CACHE_DIR"] = f"{TMP}/overview-cache"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nija_site.settings.local")
os.environ.setdefault("NIJA_LOG_LEVEL", "WARNING")
os.environ["DEBUG"] = "false"  # no query log, templates cached: as in production

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache, caches  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from ledger import synthetic_rows  # noqa: E402  (bench/ledger.py: the same synthetic fills)

from accounts.services import account_onboard  # noqa: E402
from reporting.models import LedgerEntry  # noqa: E402
from reporting.overview_store import overview_refresh_release  # noqa: E402
from reporting.selectors import account_overview_compute  # noqa: E402
from reporting.services import (  # noqa: E402
    account_overview_refresh,
    ledger_entries_write,
    ledger_entry_build,
    price_point_record,
)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--stale", type=int, default=20, help="views after a price change")
    args = parser.parse_args()
    load_before = os.getloadavg()

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0, interactive=False)
    account = account_onboard(actor="bench", user_id="bench_investor", full_name="Bench Investor",
                              email="bench@example.com", initial_capital=Decimal("1000000"))
    user = User.objects.create_user("bench_investor", password="bench-password-1")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    today = dt.datetime.now(dt.UTC).date()
    start = dt.datetime.combine(today - dt.timedelta(days=365), dt.time(), tzinfo=dt.UTC)
    rows = synthetic_rows(args.entries - 1, seed=3, span=dt.timedelta(days=364))
    shift = start - rows[0].occurred_at
    entries = [ledger_entry_build(account=account, kind="deposit", venue="paper", asset="USD",
                                  amount=Decimal("10000000"), occurred_at=start, external_id="d-0")]
    entries += [ledger_entry_build(
        account=account, kind="trade", venue="paper", asset=r.asset, amount=r.amount, counter_asset="USD",
        counter_amount=r.counter_amount, fee_asset="USD", fee_amount=r.fee_amount,
        occurred_at=r.occurred_at + shift + dt.timedelta(seconds=1), external_id=f"f-{r.id}") for r in rows]
    t = time.perf_counter()
    ledger_entries_write(account=account, entries=entries)
    for asset, price in (("BTC", "50000"), ("ETH", "3000"), ("SOL", "150"), ("XRP", "0.6")):
        price_point_record(asset=asset, price=price)
    load_s = time.perf_counter() - t
    del entries, rows
    count = LedgerEntry.objects.filter(account=account).count()

    t = time.perf_counter()
    account_overview_compute(account=account, today=today)
    baseline_s = time.perf_counter() - t

    paths = ("/portal/", "/portal/?range=30d", "/portal/?range=ytd", "/portal/?range=inception")
    client = Client()
    client.force_login(user)
    cache.clear()
    caches["overview"].clear()  # nothing ever computed for the account
    t = time.perf_counter()
    first = client.get("/portal/")
    first_s = time.perf_counter() - t
    assert first.status_code == 200 and b'data-figure="as-of"' not in first.content, first.status_code
    samples = []
    for i in range(args.requests):
        t = time.perf_counter()
        response = client.get(paths[i % 4])
        samples.append(time.perf_counter() - t)
        assert response.status_code == 200 and b'data-figure="as-of"' not in response.content
    stale = []
    for i in range(args.stale):
        price_point_record(asset="BTC", price=Decimal("50000") + i + 1)  # what every price refresh does
        overview_refresh_release(account_id=account.pk)  # the last refresh is done: this view queues one
        t = time.perf_counter()
        response = client.get(paths[i % 4])
        stale.append(time.perf_counter() - t)
        assert response.status_code == 200 and b'data-figure="as-of"' in response.content
    t = time.perf_counter()
    computed = account_overview_refresh(account=account)  # what the worker does with the queued task
    refresh_s = time.perf_counter() - t
    assert computed == 1 and b'data-figure="as-of"' not in client.get("/portal/").content
    load = os.getloadavg()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus; "
          f"db {os.environ['DATABASE_URL'].split(':')[0]}; load average before {load_before[0]:.1f} "
          f"{load_before[1]:.1f} {load_before[2]:.1f}, after {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"account with {count:,} ledger entries over 365 days (setup: insert {load_s:.1f} s, not timed)")
    print(f"  baseline, figures computed from the ledger (AccountBooks, every range): {baseline_s * 1000:.0f} ms")
    print(f"  first overview ever (nothing computed yet: computes inline and keeps it): {first_s * 1000:.0f} ms")
    median = statistics.median(samples) * 1000
    print(f"  warm overview, {len(samples)} requests over the four ranges: median {median:.1f} ms, "
          f"p95 {p95(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms  [target p95 <= 300 ms]")
    print(f"  stale overview after a price change, {len(stale)} requests (latest figures with their time, "
          f"refresh queued): median {statistics.median(stale) * 1000:.1f} ms, p95 {p95(stale) * 1000:.1f} ms, "
          f"max {max(stale) * 1000:.1f} ms  [target p95 <= 300 ms]")
    print(f"  background refresh (the worker's task, one computation): {refresh_s * 1000:.0f} ms")
    print(f"  baseline / warm p95: {baseline_s / p95(samples):.0f}x")


if __name__ == "__main__":
    main()
