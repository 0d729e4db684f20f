from accounts.models import Account
from accounts.selectors import account_list, account_summary
from core.management.base import NijaCommand, render_table


class Command(NijaCommand):
    help = "List accounts as a table (or --json)."

    def add_arguments(self, parser):
        parser.add_argument("--status", choices=Account.Status.values + [s.lower() for s in Account.Status.values])
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        accounts = list(account_list(status=opts.get("status")))
        if opts["json"]:
            self.write_json({"count": len(accounts), "users": [account_summary(a) for a in accounts]})
            return
        rows = [[a.user_id, a.full_name, a.kind, a.status, "on" if a.trading_enabled else "off", a.tier,
                 a.account_type, a.created_at.strftime("%Y-%m-%d")] for a in accounts]
        headers = ["USER_ID", "NAME", "KIND", "STATUS", "TRADING", "TIER", "TYPE", "CREATED"]
        self.stdout.write(render_table(headers, rows))
        self.stdout.write(f"\n{len(accounts)} account(s)")
