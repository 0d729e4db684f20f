from accounts.selectors import account_get
from accounts.services import account_trading_disable, account_trading_enable
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Enable or disable trading for an account (a reason is required to disable)."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("action", choices=["enable", "disable"])
        parser.add_argument("--reason", default="")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        if opts["action"] == "enable":
            account = account_trading_enable(actor=self.cli_actor(), account=account, reason=opts["reason"])
        else:
            account = account_trading_disable(actor=self.cli_actor(), account=account, reason=opts["reason"])
        state = "enabled" if account.trading_enabled else "disabled"
        self.stdout.write(self.style.SUCCESS(f"{account.user_id}: trading {state}, status {account.status}."))
