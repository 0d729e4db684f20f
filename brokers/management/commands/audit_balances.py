import sys
import time

from accounts.selectors import account_get
from brokers.services import balance_audit_run
from core.decimals import format_money
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Fetch every account's balances now (concurrently), store snapshots, raise balance alerts."

    def add_arguments(self, parser):
        parser.add_argument("--user", action="append", help="only this USER_ID (repeatable; 'master' = MASTER)")
        parser.add_argument("--concurrency", type=int, help="credentials fetched at once")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        account_ids = [account_get(user_id=u).pk for u in opts["user"]] if opts["user"] else None
        started = time.monotonic()
        show = not opts["json"] and sys.stderr.isatty()

        def progress(done: int, total: int) -> None:
            if show and (done == total or done % 10 == 0):
                self.stderr.write(f"\r  {done}/{total} credentials, {time.monotonic() - started:.1f}s", ending="")

        summary = balance_audit_run(account_ids=account_ids, concurrency=opts["concurrency"], progress=progress)
        if show:
            self.stderr.write("")
        if opts["json"]:
            self.write_json(summary.as_dict())
            return
        self.stdout.write(
            f"balance audit: {summary.accounts} accounts, {summary.credentials} credentials, "
            f"{summary.ok} ok, {summary.failed} failed, {summary.snapshots} snapshots, "
            f"{summary.alerts_opened} new alerts, total {format_money(summary.total_usd)}, "
            f"{summary.elapsed_seconds:.2f}s"
        )
        for failure in summary.failures:
            self.stdout.write(f"  unavailable: {failure['account']} {failure['venue']}: {failure['error']}")
