from accounts.selectors import account_get
from core.errors import ApplicationError
from core.management.base import NijaCommand
from operations.selectors import offboarding_for
from operations.services import (
    offboarding_advance,
    offboarding_keep_positions,
    offboarding_start,
    offboarding_summary_lines,
)


class Command(NijaCommand):
    help = ("Offboard an account: trading off, positions closed (unless --keep-positions), final P&L and "
            "report, credentials archived, INACTIVE. Resumable: running it again continues where it stopped.")

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--reason", default="", help="why the account leaves (required; audited)")
        parser.add_argument("--keep-positions", action="store_true",
                            help="do not sell: the investor takes the assets in kind")
        parser.add_argument("--confirm", action="store_true", help="needed to start an offboarding")
        parser.add_argument("--wait", type=int, default=60, metavar="SECONDS",
                            help="how long to wait for close orders and fills before leaving it to beat (default 60)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        if not 0 <= opts["wait"] <= 600:
            raise ApplicationError("--wait is between 0 and 600 seconds")
        account = account_get(user_id=opts["user_id"])
        offboarding = offboarding_for(account=account)
        if offboarding is None:
            offboarding = offboarding_start(actor=self.cli_actor(), account=account, reason=opts["reason"],
                                            keep_positions=opts["keep_positions"], confirm=opts["confirm"])
        elif opts["reason"] and opts["reason"].strip() != offboarding.reason:
            raise ApplicationError(f"{account.user_id} is already offboarding (reason: {offboarding.reason!r}); "
                                   "run it again without a new --reason to continue")
        elif opts["keep_positions"]:
            offboarding = offboarding_keep_positions(actor=self.cli_actor(), offboarding=offboarding)
        last = [""]

        def progress(o) -> None:
            line = o.progress_text()
            if line != last[0] and not opts["json"]:
                self.stderr.write(f"{account.user_id}: {line}")
                last[0] = line

        offboarding = offboarding_advance(actor=self.cli_actor(), offboarding=offboarding,
                                          wait_seconds=opts["wait"], progress=progress)
        if opts["json"]:
            self.write_json({"user_id": account.user_id, "step": offboarding.step, "done": offboarding.is_done,
                             "waiting_on": offboarding.waiting_on, "summary": offboarding.summary or None,
                             "closes": offboarding.closes})
            return
        if offboarding.waiting_on.startswith("blocked"):
            raise ApplicationError(f"{account.user_id}: OFFBOARDING, {offboarding.progress_text()}")
        if offboarding.is_done:
            self.stdout.write(self.style.SUCCESS(f"{account.user_id} offboarded."))
            self.stdout.write("\n".join(offboarding_summary_lines(offboarding)))
        else:
            self.stdout.write(f"{account.user_id}: OFFBOARDING, {offboarding.progress_text()}. "
                              "Beat continues it every minute; run this command again to follow it.")
