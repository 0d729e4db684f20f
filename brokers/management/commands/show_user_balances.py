from __future__ import annotations

from accounts.selectors import account_get
from brokers.presenters import balance_table_text
from brokers.selectors import balance_report, balances_all
from brokers.services import balances_fresh_ensure
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Balances of the MASTER and every user per venue, with totals (table, or --json)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--fresh", action="store_true", help="fetch now instead of using cached snapshots")
        parser.add_argument("--user", help="only this USER_ID ('master' = MASTER)")

    def handle(self, *args, **opts):
        user_id = opts["user"]
        account_ids = [account_get(user_id=user_id).pk] if user_id else None
        if opts["fresh"]:
            balances_fresh_ensure(account_ids=account_ids, max_age_seconds=0)
        else:
            balances_fresh_ensure(account_ids=account_ids)  # refetch only what is older than the cache TTL
        if opts["json"]:
            self.write_json(balance_report(user_id=user_id))
            return
        self.stdout.write(balance_table_text(balances_all(user_id=user_id)))
