from accounts.selectors import account_get
from copytrading.models import CopySettings
from copytrading.services import copy_mode_set
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = ("Set the copy engine mode (off, observe, live), or with --account switch one account's "
            "copying off/on. A reason is required; LIVE also needs --confirm-live.")

    def add_arguments(self, parser):
        parser.add_argument("mode", choices=["off", "observe", "live"])
        parser.add_argument("--reason", required=True)
        parser.add_argument("--account", default="", metavar="USER_ID")
        parser.add_argument("--confirm-live", action="store_true",
                            help="required to go LIVE: real orders will be sent")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["account"]) if opts["account"] else None
        result = copy_mode_set(actor=self.cli_actor(), mode=opts["mode"], reason=opts["reason"], account=account,
                               confirm_live=opts["confirm_live"])
        if isinstance(result, CopySettings):
            state = "on" if result.copy_enabled else "off"
            self.stdout.write(self.style.SUCCESS(f"Copying for {account.user_id} is now {state}."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Copy engine mode is now {result.mode}."))
            if result.mode == "LIVE":
                self.stdout.write(self.style.WARNING("LIVE: planned copies are sent to the venues."))
