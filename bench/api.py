"""Staff API and dashboard benchmark (not a test): SQL queries and p50/p95 latency of the staff
dashboard's first page, /api/v1/users, the accounts list, the balances list and one account's
performance, at the baseline size and at full size in the same run (their ratio shows how each
scales). Targets on 2 cores: /api/v1/users over 10,000 accounts <= 300 ms p95; the lists and the
dashboard's first page <= 100 ms p95; query counts equal at both sizes.

Builds the book with bulk inserts (tests/bulk.py): accounts with a PAPER credential's balance
snapshots (every 50th venue unavailable) and their stored balance summaries, one signal, copy
order, alert and reconciliation break each, and per account a deposit, a buy and a sell in the
ledger with 30 days of stored NAV (and the book's NAV per day, through the service that keeps it).
Then VACUUM ANALYZE on PostgreSQL (what autovacuum does after such inserts), ANALYZE on SQLite.
Runs on a throw-away SQLite database or an empty $BENCH_DATABASE_URL (PostgreSQL), never the demo
database.
    .venv/bin/python bench/api.py [--accounts 10000] [--baseline-accounts 100] [--runs 30]
                                  [--record bench/results/api.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from decimal import Decimal

from harness import django_setup, record_append  # bench/harness.py, before any project import

django_setup("api")

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections, connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

import nija_site.wsgi  # noqa: E402,F401 - the web process's start-up as gunicorn loads it (its gc.freeze)
from reporting.models import DailyNav, LedgerEntry  # noqa: E402
from reporting.services import book_nav_days_refresh  # noqa: E402
from tests.bulk import activity_bulk_create, book_bulk_create  # noqa: E402

NAV_DAYS = 30


def ledger_bulk_create(account_ids: list[int]) -> None:
    now = timezone.now()
    start = now - dt.timedelta(days=NAV_DAYS)
    today = now.date()
    with transaction.atomic():
        entries = []
        for n, pk in enumerate(account_ids):
            entries += [
                LedgerEntry(account_id=pk, venue="paper", kind="deposit", asset="USD", amount=Decimal(1000),
                            external_id=f"d-{pk}", occurred_at=start, source="system"),
                LedgerEntry(account_id=pk, venue="paper", kind="trade", asset="BTC", amount=Decimal("0.01"),
                            counter_asset="USD", counter_amount=Decimal(-500), price=Decimal(50000), side="buy",
                            fee_asset="USD", fee_amount=Decimal("0.5"), external_id=f"b-{pk}",
                            occurred_at=start + dt.timedelta(days=1), source="system"),
                LedgerEntry(account_id=pk, venue="paper", kind="trade", asset="BTC", amount=Decimal("-0.005"),
                            counter_asset="USD", counter_amount=Decimal(260 - n % 20),
                            price=Decimal(52000 - 200 * (n % 20)),
                            side="sell", fee_asset="USD", fee_amount=Decimal("0.25"), external_id=f"s-{pk}",
                            occurred_at=start + dt.timedelta(days=2), source="system"),
            ]
        LedgerEntry.objects.bulk_create(entries, batch_size=5000)
        DailyNav.objects.bulk_create([
            DailyNav(account_id=pk, day=today - dt.timedelta(days=d), nav_usd=Decimal(1000 + (NAV_DAYS - d)),
                     units=Decimal(1000), net_flow_usd=Decimal(1000) if d == NAV_DAYS - 1 else Decimal(0))
            for pk in account_ids for d in range(NAV_DAYS)], batch_size=5000)
        # the book's NAV per day, as daily_nav_refresh keeps it
        book_nav_days_refresh(days=[today - dt.timedelta(days=d) for d in range(NAV_DAYS)])


def book_grow(prefix: str, accounts: int) -> None:
    ids = book_bulk_create(accounts=accounts, prefix=prefix, unavailable_every=50)
    activity_bulk_create(account_ids=ids, prefix=prefix)
    ledger_bulk_create(ids)
    # What autovacuum does after such inserts (it is off on the bench machine): table statistics,
    # without which PostgreSQL plans every join for a handful of rows, and on PostgreSQL the rows'
    # visibility settled, so the timed requests do not pay for the first reads of fresh rows.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def measure(client: Client, url: str, runs: int) -> dict:
    for _ in range(2):  # warm: per-process caches, connection
        assert client.get(url).status_code == 200, url
    queries = [0]

    def counted(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        client.get(url)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return {"queries": queries[0], "p50": statistics.median(times),
            "p95": times[max(0, int(round(0.95 * len(times))) - 1)]}


ENDPOINTS = [
    ("dashboard /users first page", "/admin/users/", 100),
    ("/api/v1/users", "/api/v1/users", 300),
    ("accounts list", "/api/v1/accounts", 100),
    ("balances list", "/api/v1/balances", 100),
    ("one account's performance", "/api/v1/accounts/base_00001/performance?period=monthly", None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--baseline-accounts", type=int, default=100)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--record", help="append the figures to this Markdown file")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    if User.objects.filter(username="bench_viewer").exists():
        raise SystemExit("the benchmark database is not empty: give a fresh BENCH_DATABASE_URL")
    # One persistent connection, as a web worker with CONN_MAX_AGE keeps (and so the queries are counted).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    viewer = User.objects.create_user("bench_viewer", password="bench-pw-1", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    client = Client(HTTP_HOST="localhost")
    client.force_login(viewer)
    database = settings.DATABASES["default"]["ENGINE"].split(".")[-1]

    started = time.perf_counter()
    book_grow("base", args.baseline_accounts)
    print(f"baseline book: {args.baseline_accounts} accounts ({time.perf_counter() - started:.1f}s), {database}",
          file=sys.stderr)
    baseline = {name: measure(client, url, args.runs) for name, url, _ in ENDPOINTS}
    started = time.perf_counter()
    book_grow("full", args.accounts - args.baseline_accounts)
    print(f"full book: {args.accounts} accounts ({time.perf_counter() - started:.1f}s)", file=sys.stderr)
    full = {name: measure(client, url, args.runs) for name, url, _ in ENDPOINTS}

    lines = []
    for name, _, target in ENDPOINTS:
        b, f = baseline[name], full[name]
        if target is None:
            verdict = ""
        else:
            verdict = f" (target p95 <= {target} ms: {'met' if f['p95'] <= target else 'NOT met'})"
        lines.append(f"{name}: {f['queries']} queries (at {args.baseline_accounts}: {b['queries']}), "
                     f"p50 {f['p50']:.1f} ms, p95 {f['p95']:.1f} ms at {args.accounts} accounts; "
                     f"at {args.baseline_accounts}: p95 {b['p95']:.1f} ms; ratio {f['p95'] / b['p95']:.1f}x" + verdict)
    for line in lines:
        print(line)
    if args.record:
        record_append(args.record, lines=lines, details=(
            f"{database}; `bench/api.py --accounts {args.accounts} --baseline-accounts {args.baseline_accounts} "
            f"--runs {args.runs}` (Django test client, in process)"))


if __name__ == "__main__":
    main()
