from django.utils.dateparse import parse_datetime

from accounts.selectors import account_get
from brokers.clients.base import BrokerError
from brokers.clients.registry import client_for
from brokers.selectors import credentials_active_of
from core.errors import ApplicationError
from core.management.base import NijaCommand
from reporting.services import ledger_entries_from_venue


class Command(NijaCommand):
    help = "Import an account's trade history from each of its active venue credentials (fetch_my_trades)."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--since", default=None, help="ISO 8601 date/time (UTC)")
        parser.add_argument("--symbol", default=None, help="e.g. BTC/USD (some venues need one)")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        since = parse_datetime(opts["since"]) if opts["since"] else None
        if opts["since"] and since is None:
            raise ApplicationError(f"--since '{opts['since']}' is not an ISO 8601 date/time")
        credentials = credentials_active_of(account=account)
        if not credentials:
            raise ApplicationError(f"{account.user_id} has no active venue credential")
        failed = 0
        for credential in credentials:
            try:
                result = ledger_entries_from_venue(account=account, client=client_for(credential), since=since,
                                                   symbol=opts["symbol"])
            except BrokerError as exc:
                failed += 1
                self.stderr.write(f"{credential.venue}: unavailable: {exc}")
                continue
            self.stdout.write(f"{credential.venue}: imported {result.created} trades, {result.skipped} already there")
        if failed:
            raise ApplicationError(f"{failed} venue(s) failed; the others were imported")
