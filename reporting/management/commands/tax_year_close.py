from accounts.selectors import account_get
from core.dates import year_parse
from core.decimals import format_money
from core.management.base import NijaCommand
from reporting.selectors import tax_report
from reporting.services import tax_year_close


class Command(NijaCommand):
    help = ("Close a finished tax year: store the account's tax report for the year and lot method as filed "
            "(audited). From then on tax_report, the portal and the API show the stored figures, with a "
            "warning listing what a recomputation would change.")

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--year", required=True, help="YYYY, a year that has ended")
        parser.add_argument("--method", required=True, choices=["fifo", "lifo", "hifo"])
        parser.add_argument("--reason", default="", help="e.g. 'filed with the 2025 return' (audited)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        year = year_parse(opts["year"], name="--year")
        closed = tax_year_close(actor=self.cli_actor(), account=account, year=year, method=opts["method"],
                                reason=opts["reason"])
        report = tax_report(account=account, year=year, method=closed.method)
        if opts["json"]:
            self.write_json({"user_id": account.user_id, "year": year, "method": closed.method, "currency": "USD",
                             "closed_at": closed.closed_at, "closed_by": closed.closed_by,
                             "disposals": len(report["disposals"]), "prices": len(report["prices"]),
                             "totals_by_term": report["totals_by_term"]})
            return
        self.stdout.write(f"{account.user_id}: tax year {year} ({closed.method.upper()}) closed, "
                          f"{len(report['disposals'])} disposal(s), {len(report['prices'])} price(s) used")
        for term, t in sorted(report["totals_by_term"].items()):
            self.stdout.write(f"{term:>7} term: {t['count']} disposals, gain {format_money(t['gain'])}")
