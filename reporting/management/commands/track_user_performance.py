from django.utils import timezone

from accounts.selectors import account_get
from core.dates import day_bounded, day_parse
from core.management.base import NijaCommand
from reporting.reports import report_data, report_text


class Command(NijaCommand):
    help = "Print an account's performance metrics for a period (see README 'Ledger and reporting')."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--period", required=True, choices=["daily", "weekly", "monthly"])
        parser.add_argument("--date", default=None, help="a day inside the period, YYYY-MM-DD (default today, UTC)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        # bounded like the API's (found by the command fuzz: 0001-01-01 overflowed, 9999-12-31 computed for ever)
        day = day_bounded(day_parse(opts["date"], name="--date", default=timezone.now().date()), name="--date")
        account = account_get(user_id=opts["user_id"])
        data = report_data(account=account, period=opts["period"], day=day)
        if opts["json"]:
            data.pop("journal", None)
            self.write_json(data)
            return
        self.stdout.write(report_text(data).rstrip("\n"))
