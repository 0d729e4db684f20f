
from django.utils import timezone

from accounts.selectors import account_get
from core.dates import day_parse
from core.decimals import format_money
from core.management.base import NijaCommand, render_table
from reporting.reports import pct
from reporting.selectors import fee_report


class Command(NijaCommand):
    help = "Fees paid by kind and by venue (USD at fill time) and as % of traded volume."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--from", dest="start", default=None, help="YYYY-MM-DD (default: 1 January this year)")
        parser.add_argument("--to", dest="end", default=None, help="YYYY-MM-DD (default today)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        today = timezone.now().date()
        start = day_parse(opts["start"], name="--from", default=today.replace(month=1, day=1))
        end = day_parse(opts["end"], name="--to", default=today)
        report = fee_report(account=account_get(user_id=opts["user_id"]), start=start, end=end)
        if opts["json"]:
            self.write_json(report)
            return
        self.stdout.write(f"Fees for {report['user_id']} from {start} to {end} (USD)")
        self.stdout.write(render_table(["kind", "total"], [[k, format_money(v)] for k, v in
                                                         sorted(report["by_kind"].items())]))
        self.stdout.write("")
        self.stdout.write(render_table(
            ["venue", "fees", "volume", "% of volume"],
            [[name, format_money(v["fees"]), format_money(v["volume"]),
              pct(v["fees_fraction_of_volume"], places=4)]
             for name, v in report["by_venue"].items()]))
        self.stdout.write(f"Total {format_money(report['total'])}; venue fees are "
                          f"{pct(report['fees_fraction_of_volume'], places=4)} of "
                          f"{format_money(report['volume'])} volume")
        if report["unpriced_fees"]:
            self.stdout.write(f"{report['unpriced_fees']} fee(s) in an asset with no known price are not in the totals")
