from accounts.selectors import account_get
from core.decimals import format_decimal, format_money
from core.management.base import NijaCommand, render_table
from reporting.selectors import AccountBooks, positions_view


class Command(NijaCommand):
    help = "Open positions from the ledger's lots: quantity, average cost, price, unrealized P&L, stop, opened_at."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--method", default="fifo", choices=["fifo", "lifo", "hifo"])
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        positions = positions_view(books=AccountBooks(account=account, method=opts["method"]))
        if opts["json"]:
            self.write_json({"user_id": account.user_id, "currency": "USD", "positions": positions})
            return
        rows = [[p["asset"], format_decimal(p["quantity"]), format_money(p["avg_cost"]),
                 format_money(p["current_price"]), format_money(p["unrealized_pnl"]), format_money(p["stop"]),
                 f"{p['opened_at']:%Y-%m-%d %H:%M}", "unpriced" if p["unpriced"] else ""] for p in positions]
        self.stdout.write(render_table(["asset", "quantity", "avg cost", "price", "unrealized", "stop", "opened_at",
                                        "flag"], rows))
