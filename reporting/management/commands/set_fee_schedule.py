from accounts.selectors import account_get
from core.management.base import NijaCommand
from reporting.services import fee_schedule_set


class Command(NijaCommand):
    help = "Set an account's investor fee rates (fractions: 0.2 = 20%). Audited; a reason is required."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--performance-rate", default=None)
        parser.add_argument("--management-rate", default=None, help="annual, accrued daily on NAV")
        parser.add_argument("--reason", required=True)

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        schedule = fee_schedule_set(actor=self.cli_actor(), account=account,
                                    performance_fee_rate=opts["performance_rate"],
                                    management_fee_rate=opts["management_rate"], reason=opts["reason"])
        self.stdout.write(f"{account.user_id}: performance fee {schedule.performance_fee_rate}, "
                          f"management fee {schedule.management_fee_rate} a year")
