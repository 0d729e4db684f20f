from accounts.selectors import account_get
from core.dates import year_parse
from core.decimals import format_money
from core.management.base import NijaCommand, render_table
from reporting.presenters import TAX_HEADER, TAX_PRICES_HEADER, tax_csv_write, tax_price_rows, tax_rows
from reporting.selectors import tax_report


class Command(NijaCommand):
    help = ("Every lot disposed in a tax year with proceeds, basis, fees, gain, holding days and term (USD), and "
            "every price the lots used with its source and time. A closed year (tax_year_close) shows the "
            "figures as filed, with a warning listing what a recomputation would change.")

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--year", required=True, help="YYYY, 2000 to the current year")
        parser.add_argument("--method", default="fifo", choices=["fifo", "lifo", "hifo"])
        fmt = parser.add_mutually_exclusive_group()
        fmt.add_argument("--csv", action="store_true")
        fmt.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        year = year_parse(opts["year"], name="--year")
        report = tax_report(account=account_get(user_id=opts["user_id"]), year=year, method=opts["method"])
        if opts["json"]:
            self.write_json(report)
            return
        if opts["csv"]:
            tax_csv_write(self.stdout, report)
            for warning in report["warnings"]:
                self.stderr.write(f"warning: {warning}")
            return
        rows = tax_rows(report)
        filed = (f", as filed on {report['closed']['closed_at']:%Y-%m-%d} by {report['closed']['closed_by']}"
                 if report["closed"] else "")
        self.stdout.write(f"Tax report {report['year']} for {report['user_id']} ({report['method'].upper()}, "
                          f"USD{filed})")
        self.stdout.write(render_table(TAX_HEADER, rows))
        for term, t in sorted(report["totals_by_term"].items()):
            self.stdout.write(f"{term:>7} term: {t['count']} disposals, proceeds {format_money(t['proceeds'])}, "
                              f"basis {format_money(t['cost_basis'])}, fees {format_money(t['fees'])}, "
                              f"gain {format_money(t['gain'])}")
        if report["flagged"]:
            self.stdout.write(f"{report['flagged']} disposal(s) flagged: no known acquisition (zero basis) or unpriced")
        if report["unpriced"]:
            self.stdout.write(f"{report['unpriced']} disposal(s) unpriced: a value with no known USD price counts as 0")
        if report["prices"]:
            self.stdout.write("Prices used (USD):")
            self.stdout.write(render_table(TAX_PRICES_HEADER, tax_price_rows(report)))
        for warning in report["warnings"]:
            self.stdout.write(f"Warning: {warning}")
