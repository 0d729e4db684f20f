"""Reconciliation benchmark (not a test): prints figures, and the ratio against a sequential
baseline measured in the same run.

The case from issue 9: 250 filled copy orders whose fills are not stored yet, one per follower on
PAPER, 300 ms simulated latency on every venue call (injected by PAPER's behaviour, at its client:
the call sleeps after the venue answers). One reconciliation batch fetches each order's trades and
stores the fills. Measured: the batch with the default bound (all orders at once, one call at a
time per credential through its lock) and the same batch one order after another
(max_concurrency=1, what reconciliation did before), the ratio, and that both stored every fill.
Target: "a few seconds" (the sequential run took 78 s in production).

PAPER is a simulated venue whose work is database work on this machine's cores, serialized on the
reconciling thread (as its async client does under async_to_sync). `--stub-venue` replaces the venue
by an in-memory double answering the same trades after the same latency, for the reconciliation's
own figures (at the venue-client edge, as bench/copy_fanout.py --stub-venue does).

Runs on a throw-away SQLite database (or $BENCH_DATABASE_URL), never the demo database.
    .venv/bin/python bench/reconcile_latency.py [--orders 250] [--latency-ms 300] [--per-credential 1]
                                                [--stub-venue]
                                                [--record bench/results/reconcile_latency.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
from decimal import Decimal

from harness import django_setup, record_append  # bench/harness.py, before any project import

django_setup("reconcile")

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Account, RiskProfile  # noqa: E402
from brokers import crypto  # noqa: E402
from brokers.clients.base import Trade  # noqa: E402
from brokers.models import BalanceSnapshot, BrokerCredential, PaperBalance, PaperBehaviour, PaperOrder  # noqa: E402
from copytrading import execution  # noqa: E402
from copytrading.models import CopyFill, CopyOrder  # noqa: E402
from copytrading.reconciliation import copy_orders_reconcile  # noqa: E402
from copytrading.services import engine_mode_set, signal_receive  # noqa: E402
from nija_site.celery import app as celery_app  # noqa: E402


class StubVenue:
    """One credential's venue, in memory: its orders' trades, answered after the latency."""

    venue = "paper"

    def __init__(self, trades: list[Trade], latency_s: float) -> None:
        self.trades, self.latency_s = trades, latency_s

    async def fetch_order_by_client_id(self, symbol: str, client_order_id: str):
        await asyncio.sleep(self.latency_s)
        return None

    async def fetch_my_trades(self, *, symbol: str | None = None, since: dt.datetime | None = None) -> list[Trade]:
        await asyncio.sleep(self.latency_s)
        return [t for t in self.trades if (symbol is None or t.symbol == symbol)
                and (since is None or t.occurred_at >= since)]


def stub_venue_install(latency_ms: int) -> None:
    by_credential: dict[int, list[Trade]] = {}
    for order in CopyOrder.objects.all():
        by_credential.setdefault(order.credential_id, []).append(Trade(
            trade_id=f"T-{order.pk}", venue_order_id=order.venue_order_id, client_order_id=order.client_order_id,
            symbol=order.symbol, side=order.side, amount=order.filled_quantity, price=order.average_price,
            cost=order.cost, fee=order.fee, fee_asset=order.fee_asset, occurred_at=order.updated_at))
    venues = {pk: StubVenue(trades, latency_ms / 1000) for pk, trades in by_credential.items()}
    execution._caller_for = lambda credential: execution._Caller(venues[credential.pk], threaded=False)


def setup(followers: int) -> None:
    """Bulk rows: the setup is not what is measured, so it skips the per-row services."""
    call_command("migrate", verbosity=0)
    now = timezone.now()
    Account.objects.create(kind="MASTER", user_id="bench_master", full_name="Bench Master", email="m@example.com",
                           status="ACTIVE", trading_enabled=True)
    Account.objects.bulk_create([
        Account(kind="USER", user_id=f"f{i:05d}", full_name=f"Follower {i}", email=f"f{i}@example.com",
                status="ACTIVE", trading_enabled=True) for i in range(followers)], batch_size=1000)
    everyone = list(Account.objects.order_by("id"))
    RiskProfile.objects.bulk_create([RiskProfile(account=a, max_position_notional=Decimal("100000"),
                                                 max_position_pct=Decimal("50")) for a in everyone])
    key, secret = crypto.encrypt("bench-key"), crypto.encrypt("bench-secret")
    BrokerCredential.objects.bulk_create([
        BrokerCredential(account=a, venue="paper", is_paper=True, api_key_encrypted=key, api_secret_encrypted=secret,
                         passphrase_encrypted="", hint="-key") for a in everyone])
    creds = list(BrokerCredential.objects.select_related("account").order_by("id"))
    PaperBalance.objects.bulk_create([PaperBalance(credential=c, asset="USD", free=Decimal("100000")) for c in creds])
    PaperBehaviour.objects.bulk_create([PaperBehaviour(credential=c, latency_ms=0) for c in creds])
    BalanceSnapshot.objects.bulk_create([
        BalanceSnapshot(account=c.account, credential=c, venue="paper", asset="USD", free=Decimal("100000"),
                        used=Decimal("0"), total=Decimal("100000"), is_latest=True, is_latest_ok=True,
                        usd_value=Decimal("1000000") if c.account.kind == "MASTER" else Decimal("100000"),
                        fetched_at=now) for c in creds])
    engine_mode_set(actor="bench", mode="live", reason="benchmark on PAPER", confirm_live=True)


def orders_fill(signals: int) -> None:
    """`signals` LIVE master signals fanned out in this process at no latency: every follower gets
    one FILLED copy order per signal, its fills not stored yet."""
    celery_app.conf.task_always_eager = True
    for n in range(signals):
        signal_receive(source="manual", data={
            "source_id": f"bench-{n}", "venue": "paper", "symbol": "BTC/USD", "side": "buy", "amount": "0.1",
            "price": "50000", "order_type": "market", "master_order_id": f"B-{n}",
            "executed_at": timezone.now().isoformat()})
    statuses = set(CopyOrder.objects.values_list("status", flat=True))
    if statuses != {"FILLED"}:
        raise SystemExit(f"setup: copy orders not all FILLED: {statuses}")


def fills_forget() -> None:
    CopyFill.objects.all().delete()
    CopyOrder.objects.update(fills_synced=False)


def timed(orders: int, max_concurrency: int | None) -> tuple[float, int]:
    fills_forget()
    started = time.perf_counter()
    report = copy_orders_reconcile(limit=orders, max_concurrency=max_concurrency)
    elapsed = time.perf_counter() - started
    if report.errors or report.fills_stored != orders or CopyFill.objects.count() != orders:
        raise SystemExit(f"reconciliation incomplete: {report.as_dict()}")
    return elapsed, report.fills_stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=250)
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--per-credential", type=int, default=1,
                        help="orders per follower credential (they go one at a time through its lock)")
    parser.add_argument("--stub-venue", action="store_true",
                        help="an in-memory venue double (same latency, no database work) instead of PAPER")
    parser.add_argument("--record", help="append the figures to this Markdown file")
    args = parser.parse_args()
    followers = -(-args.orders // args.per_credential)
    t0 = time.perf_counter()
    setup(followers)
    orders_fill(args.per_credential)
    CopyOrder.objects.filter(pk__in=list(CopyOrder.objects.order_by("-id").values_list("id", flat=True)
                                         [: CopyOrder.objects.count() - args.orders])).delete()
    PaperBehaviour.objects.update(latency_ms=args.latency_ms)
    if args.stub_venue:
        stub_venue_install(args.latency_ms)
    venue = "in-memory stub venue" if args.stub_venue else "PAPER"
    db = settings.DATABASES["default"]["ENGINE"].split(".")[-1]
    print(f"setup: {args.orders} FILLED copy orders on {followers} credentials ({venue}), "
          f"{PaperOrder.objects.count()} venue orders ({time.perf_counter() - t0:.1f} s); latency {args.latency_ms} ms "
          f"per call; database {db}, {'Redis' if settings.REDIS_URL else 'file'} locks")
    concurrent_s, stored = timed(args.orders, None)
    print(f"concurrent batch: {concurrent_s:.2f} s, {stored} fills stored")
    sequential_s, _ = timed(args.orders, 1)
    print(f"sequential baseline (one order after another): {sequential_s:.2f} s")
    ideal = args.per_credential * args.latency_ms / 1000
    lines = [
        f"concurrent batch: {concurrent_s:.2f} s for {args.orders} orders ({stored} fills stored), "
        f"{args.per_credential} order(s) per credential, {venue}, latency {args.latency_ms} ms per call "
        f"(floor: {ideal:.1f} s of latency per credential)",
        f"sequential baseline (max_concurrency=1, as before): {sequential_s:.2f} s",
        f"ratio sequential / concurrent: {sequential_s / concurrent_s:.1f}x",
        f"target \"a few seconds\" (<= 5 s): {'met' if concurrent_s <= 5 else 'NOT met'}",
    ]
    for line in lines[2:]:
        print(line)
    if args.record:
        record_append(args.record, lines=lines, details=(
            f"{db}, {'Redis' if settings.REDIS_URL else 'file'} locks; `bench/reconcile_latency.py --orders "
            f"{args.orders} --latency-ms {args.latency_ms} --per-credential {args.per_credential}"
            f"{' --stub-venue' if args.stub_venue else ''}`"))


if __name__ == "__main__":
    main()
