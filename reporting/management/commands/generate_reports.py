import datetime as dt
import time

from django.utils import timezone

from accounts.selectors import account_get
from core.dates import day_bounded, day_parse
from core.errors import ApplicationError
from core.management.base import NijaCommand
from reporting.reports import report_window
from reporting.services import reports_generate


class Command(NijaCommand):
    help = ("Generate and store periodic reports. --date is a day inside the period (default yesterday, UTC): "
            "daily = that day, weekly = the 7 days ending that day, monthly = that day's calendar month.")

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, choices=["daily", "weekly", "monthly"])
        parser.add_argument("--user", default=None, help="one USER_ID (default: every account with a ledger)")
        parser.add_argument("--date", default=None, help="YYYY-MM-DD")

    def handle(self, *args, **opts):
        day = day_bounded(day_parse(opts["date"], name="--date", default=timezone.now().date() - dt.timedelta(days=1)),
                          name="--date")
        accounts = [account_get(user_id=opts["user"])] if opts["user"] else None
        start, end = report_window(period=opts["period"], day=day)
        self.stdout.write(f"{opts['period']} reports for {start} .. {end}")
        began = time.monotonic()

        def progress(n: int, total: int, account, outcome: str) -> None:
            self.stdout.write(f"  [{n}/{total}] {account.user_id}: {outcome} ({time.monotonic() - began:.1f}s)")

        done = reports_generate(period=opts["period"], day=day, accounts=accounts, progress=progress)
        self.stdout.write(f"generated {len(done['generated'])}, failed {len(done['failed'])} "
                          f"in {time.monotonic() - began:.1f}s")
        if done["failed"]:
            raise ApplicationError(f"{len(done['failed'])} report(s) failed: {done['failed'][0]}")
