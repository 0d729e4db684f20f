import sys
import time

from django.core.management.base import CommandError

from accounts.selectors import account_get
from brokers.selectors import audit_account_ids_batch
from core.decimals import format_decimal, format_money, money_round
from core.management.base import NijaCommand, render_table
from reporting.models import ReconciliationBreak
from reporting.services import BooksReconciliation, books_reconcile

BATCH = 500
# Exit status: 0 the books agree (or every break is explained), 1 bad input or a failure, 2 at least one
# open break (the report is printed in full first), so a cron job or a monitor can tell them apart.
EXIT_OPEN_BREAKS = 2


def _usd(value) -> str | None:
    return None if value is None else format(money_round(value), "f")


class Command(NijaCommand):
    help = ("Compare the ledger with the venues' latest good balances per account, venue and asset (venue codes "
            "such as Kraken's XXBT or ZUSD count as BTC and USD); a difference above the asset's tolerance is a "
            "reconciliation break (admin: Reconciliation breaks). Exit status: 0 when no break is open "
            "(explained breaks do not count), 2 when at least one is open (the report is printed first), "
            "1 for bad input.")

    def add_arguments(self, parser):
        parser.add_argument("--user", dest="user_id", default=None, help="one account (user id, or master)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        result = BooksReconciliation()
        if opts["user_id"]:
            books_reconcile(account_ids=[account_get(user_id=opts["user_id"]).pk], result=result)
        else:
            self._reconcile_all(result, show_progress=not opts["json"] and self.is_terminal())
        if opts["json"]:
            self.write_json(self._as_json(result))
        else:
            self._write_text(result)
        still_open = self._open_count(result)
        if still_open:
            raise CommandError(f"{still_open} open reconciliation break(s)", returncode=EXIT_OPEN_BREAKS)

    @staticmethod
    def _open_count(result: BooksReconciliation) -> int:
        return sum(1 for b in result.breaks if b.status == ReconciliationBreak.Status.OPEN)

    def _reconcile_all(self, result: BooksReconciliation, *, show_progress: bool) -> None:
        started, after = time.monotonic(), 0
        while ids := audit_account_ids_batch(after_id=after, limit=BATCH):
            books_reconcile(account_ids=ids, result=result)
            after = ids[-1]
            if show_progress:
                sys.stderr.write(f"\r{result.accounts} accounts reconciled, {len(result.breaks)} break(s), "
                                 f"{time.monotonic() - started:.1f} s")
        if show_progress:
            sys.stderr.write("\n")

    @staticmethod
    def _as_json(result: BooksReconciliation) -> dict:
        return {
            "accounts": result.accounts,
            "compared": len(result.compared),
            "breaks": [
                {"id": b.pk, "account": b.account.user_id, "venue": b.venue, "asset": b.asset,
                 "ledger_quantity": format_decimal(b.ledger_quantity),
                 "venue_quantity": format_decimal(b.venue_quantity),
                 "difference": format_decimal(b.difference), "difference_usd": _usd(b.difference_usd),
                 "status": b.status, "reason": b.reason, "first_seen_at": b.first_seen_at,
                 "last_seen_at": b.last_seen_at, "snapshot_at": b.snapshot_at}
                for b in result.breaks
            ],
            "new": result.new,
            "open": Command._open_count(result),
            "resolved": [{"id": b.pk, "account": b.account.user_id, "venue": b.venue, "asset": b.asset}
                         for b in result.resolved],
            "unavailable": result.unavailable,
        }

    def _write_text(self, result: BooksReconciliation) -> None:
        if result.breaks:
            rows = [[b.account.user_id, b.venue, b.asset, format_decimal(b.ledger_quantity),
                     format_decimal(b.venue_quantity), format_decimal(b.difference),
                     format_money(b.difference_usd) if b.difference_usd is not None else "unpriced",
                     b.status, f"{b.first_seen_at:%Y-%m-%d %H:%M}"] for b in result.breaks]
            self.stdout.write(render_table(["account", "venue", "asset", "ledger", "venue qty", "difference",
                                            "difference USD", "status", "first seen"], rows))
        for b in result.resolved:
            self.stdout.write(f"resolved: {b.account.user_id} {b.venue} {b.asset} (books agree again)")
        for u in result.unavailable:
            self.stdout.write(f"not compared: {u['account']} {u['venue']}: unavailable ({u['reason']})")
        self.stdout.write(f"{result.accounts} account(s), {len(result.compared)} balance(s) compared, "
                          f"{len(result.breaks)} break(s) ({result.new} new), {len(result.resolved)} resolved, "
                          f"{len(result.unavailable)} venue(s) not compared")
