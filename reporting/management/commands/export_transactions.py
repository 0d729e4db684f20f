import csv

from accounts.selectors import account_get
from core.decimals import format_decimal
from core.management.base import NijaCommand, render_table
from reporting.presenters import transactions_csv_write
from reporting.selectors import EXPORT_FIELDS, LEDGER_CSV_COLUMNS, ledger_csv_rows, transactions_export


class Command(NijaCommand):
    help = "Write an account's transaction log (table by default, --json or --csv for programs)."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        fmt = parser.add_mutually_exclusive_group()
        fmt.add_argument("--json", action="store_true")
        fmt.add_argument("--csv", action="store_true")
        fmt.add_argument("--ledger-csv", action="store_true",
                         help="the ledger in import_ledger's format (venue and external id included)")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        if opts["ledger_csv"]:
            writer = csv.DictWriter(self.stdout, fieldnames=LEDGER_CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(ledger_csv_rows(account=account))
            return
        data = transactions_export(account=account)
        if opts["json"]:
            self.write_json(data)
            return
        if opts["csv"]:
            transactions_csv_write(self.stdout, data)
            return
        rows = [[f"{t['date']:%Y-%m-%d %H:%M}", t["type"], t["pair"], t["side"] or "", format_decimal(t["size"]),
                 format_decimal(t["price"]) if t["price"] is not None else "",
                 format_decimal(t["fee"]) if t["fee"] is not None else "", format_decimal(t["amount"]),
                 format_decimal(t["balance_after"]), t["note"] or ""] for t in data["transactions"]]
        self.stdout.write(render_table(list(EXPORT_FIELDS), rows))
        self.stdout.write(f"{len(rows)} transactions for {data['user_id']}")
