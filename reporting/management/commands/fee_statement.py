from django.utils import timezone

from accounts.selectors import account_get
from core.dates import day_parse
from core.management.base import NijaCommand
from reporting.services import fee_statement_generate


class Command(NijaCommand):
    help = "Accrue management and performance fees and store/print the fee statement for a period."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="end", default=None, help="YYYY-MM-DD (default today)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        start = day_parse(opts["start"], name="--from")
        end = day_parse(opts["end"], name="--to", default=timezone.now().date())
        report = fee_statement_generate(account=account_get(user_id=opts["user_id"]), start=start, end=end)
        if opts["json"]:
            self.write_json(report.data)
            return
        self.stdout.write(report.text.rstrip("\n"))
