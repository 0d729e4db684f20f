from core.management.base import NijaCommand
from reporting.services import prices_refresh


class Command(NijaCommand):
    help = "Ask the venues for the USD price of every asset in any ledger and store them (beat does this every 15 min)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        result = prices_refresh()
        if opts["json"]:
            self.write_json(result)
            return
        if not result:
            self.stdout.write("no non-cash asset in any ledger, or no active venue credential")
        for asset, outcome in sorted(result.items()):
            self.stdout.write(f"{asset}: {outcome}")
