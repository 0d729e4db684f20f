"""Balance audit benchmark (not a test): prints figures, and the ratio against a sequential
baseline measured in the same run.

1,000 accounts, each with one PAPER credential holding USD and BTC, 100 ms latency on every venue
call. Measured: the wall time of balance_audit_run with its default bound (concurrent: many
credentials at once, one call at a time per credential through its lock), the same audit with
concurrency 1 (sequential baseline), their ratio, and peak memory (Python heap via tracemalloc,
and process max RSS). Target: <= 3 s for 1,000 accounts on 2 cores.

Runs on a throw-away SQLite database (or $BENCH_DATABASE_URL), never the demo database.
    .venv/bin/python bench/balance_audit.py [--accounts 1000] [--latency-ms 100] [--concurrency N]
                                            [--baseline-accounts N] [--record bench/results/balance_audit.md]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from decimal import Decimal

from harness import django_setup, record_append  # bench/harness.py, before any project import

django_setup("balance")

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from accounts.models import Account, RiskProfile  # noqa: E402
from brokers import crypto  # noqa: E402
from brokers.models import BalanceSnapshot, BrokerCredential, PaperBalance, PaperBehaviour  # noqa: E402
from brokers.paper_venue import paper_price_set  # noqa: E402
from brokers.services import balance_audit_run  # noqa: E402


def setup(accounts: int, latency_ms: int) -> list[int]:
    """Bulk rows: the setup is not what is measured, so it skips the per-row services."""
    call_command("migrate", verbosity=0)
    paper_price_set(symbol="BTC/USD", price="50000")
    with transaction.atomic():
        rows = Account.objects.bulk_create([
            Account(user_id=f"bench_{n:05d}", full_name=f"Bench {n}", email=f"bench{n}@example.com",
                    status=Account.Status.ACTIVE) for n in range(accounts)
        ])
        rows = list(Account.objects.filter(user_id__startswith="bench_").order_by("pk"))
        RiskProfile.objects.bulk_create([RiskProfile(account=a, max_position_notional=Decimal("1000")) for a in rows])
        key, secret = crypto.encrypt("paper-bench-key-0000"), crypto.encrypt("paper-bench-secret")
        BrokerCredential.objects.bulk_create([
            BrokerCredential(account=a, venue="paper", is_paper=True, api_key_encrypted=key,
                             api_secret_encrypted=secret, hint="0000") for a in rows
        ])
        credentials = list(BrokerCredential.objects.order_by("pk"))
        PaperBalance.objects.bulk_create(
            [PaperBalance(credential=c, asset="USD", free=Decimal("1000") + c.pk) for c in credentials]
            + [PaperBalance(credential=c, asset="BTC", free=Decimal("0.01")) for c in credentials]
        )
        PaperBehaviour.objects.bulk_create([PaperBehaviour(credential=c, latency_ms=latency_ms) for c in credentials])
    return [a.pk for a in rows]


def timed_audit(account_ids: list[int], concurrency: int, label: str, trace: bool = False) -> tuple[float, object, int]:
    last = {"shown": 0.0}
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if sys.stderr.isatty() and (now - last["shown"] > 0.5 or done == total):
            last["shown"] = now
            sys.stderr.write(f"\r  {label}: {done}/{total} credentials, {now - started:.1f}s   ")
            if done == total:
                sys.stderr.write("\n")

    if trace:  # tracing slows Python down a lot: memory is measured in its own, untimed run
        tracemalloc.start()
    started = time.perf_counter()
    summary = balance_audit_run(account_ids=account_ids, concurrency=concurrency, progress=progress)
    elapsed = time.perf_counter() - started
    peak = 0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    if summary.failed:
        raise SystemExit(f"{label}: {summary.failed} fetches failed: {summary.failures[:3]}")
    return elapsed, summary, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=settings.NIJA_BALANCE_AUDIT_CONCURRENCY)
    parser.add_argument("--baseline-accounts", type=int, default=None,
                        help="accounts in the sequential baseline (default: all; fewer are scaled up linearly)")
    parser.add_argument("--record", help="append the figures to this Markdown file")
    args = parser.parse_args()

    t0 = time.perf_counter()
    ids = setup(args.accounts, args.latency_ms)
    print(f"setup: {len(ids)} accounts with PAPER credentials ({time.perf_counter() - t0:.1f}s), "
          f"latency {args.latency_ms} ms per call, database {settings.DATABASES['default']['ENGINE'].split('.')[-1]}")

    concurrent_s, summary, _ = timed_audit(ids, args.concurrency, f"concurrent ({args.concurrency})")
    rows_per_run = BalanceSnapshot.objects.count()
    rss_after_concurrent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _, _, peak_heap = timed_audit(ids, args.concurrency, "concurrent, traced for memory", trace=True)
    baseline_ids = ids[: args.baseline_accounts] if args.baseline_accounts else ids
    sequential_s, _, _ = timed_audit(baseline_ids, 1, "sequential")
    scale = len(ids) / len(baseline_ids)
    sequential_full = sequential_s * scale
    lines = [
        f"concurrent audit ({args.concurrency} at once): {concurrent_s:.2f} s for {summary.credentials} accounts "
        f"({summary.ok} ok, {rows_per_run} snapshot rows, total ${summary.total_usd:,.2f})",
        f"sequential baseline (concurrency 1): {sequential_s:.2f} s for {len(baseline_ids)} accounts"
        + (f" -> {sequential_full:.1f} s scaled to {len(ids)}" if scale != 1 else ""),
        f"ratio sequential / concurrent: {sequential_full / concurrent_s:.1f}x",
        f"peak memory: Python heap allocated during one concurrent audit {peak_heap / 2**20:.1f} MiB "
        f"(tracemalloc, separate run), process max RSS after the timed audit {rss_after_concurrent:.0f} MiB",
        f"target <= 3 s for 1,000 accounts: {'met' if concurrent_s <= 3 and len(ids) >= 1000 else 'NOT met'}",
    ]
    for line in lines:
        print(line)
    if args.record:
        record_append(args.record, lines=lines, details=(
            f"{settings.DATABASES['default']['ENGINE'].split('.')[-1]}, {'Redis' if settings.REDIS_URL else 'file'} "
            f"locks; `bench/balance_audit.py --accounts {args.accounts} --latency-ms {args.latency_ms} "
            f"--concurrency {args.concurrency}"
            + (f" --baseline-accounts {args.baseline_accounts}" if args.baseline_accounts else "") + "`"))


if __name__ == "__main__":
    main()
