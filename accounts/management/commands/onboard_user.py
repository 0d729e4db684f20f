from accounts.models import Account, RiskProfile
from accounts.selectors import account_summary
from accounts.services import account_onboard
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Create an account (PENDING, trading off) with its risk profile."

    def add_arguments(self, parser):
        parser.add_argument("--user-id", required=True)
        parser.add_argument("--name", required=True, help="full legal name")
        parser.add_argument("--email", required=True)
        parser.add_argument("--phone", default="")
        parser.add_argument("--account-type", choices=Account.AccountType.values, default="retail")
        parser.add_argument("--tier", choices=Account.Tier.values, default="starter")
        parser.add_argument("--risk-tolerance", choices=RiskProfile.Tolerance.values, default="MEDIUM")
        parser.add_argument("--initial-capital", default="0")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--master", action="store_true", help="create the MASTER account")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        account = account_onboard(
            actor=self.cli_actor(), user_id=opts["user_id"], full_name=opts["name"], email=opts["email"],
            phone=opts["phone"], account_type=opts["account_type"], tier=opts["tier"],
            risk_tolerance=opts["risk_tolerance"], initial_capital=opts["initial_capital"],
            currency=opts["currency"], master=opts["master"],
        )
        if opts["json"]:
            self.write_json(account_summary(account))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Onboarded {account.user_id} ({account.kind}, {account.status}, trading disabled). "
                f"Enable with: manage.py set_trading {account.user_id} enable"
            ))
