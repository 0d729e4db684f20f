from django.utils import timezone

from accounts.selectors import account_get
from core.management.base import NijaCommand
from reporting.management.commands.fee_report import parse_day
from reporting.services import fee_statement_generate


class Command(NijaCommand):
    help = "Accrue management and performance fees and store/print the fee statement for a period."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="end", default=None, help="YYYY-MM-DD (default today)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        start = parse_day(opts["start"], None, "--from")
        end = parse_day(opts["end"], timezone.now().date(), "--to")
        report = fee_statement_generate(account=account_get(user_id=opts["user_id"]), start=start, end=end)
        if opts["json"]:
            self.write_json(report.data)
            return
        self.stdout.write(report.text.rstrip("\n"))
