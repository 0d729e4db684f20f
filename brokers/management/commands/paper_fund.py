import secrets

from django.db import transaction

from accounts.selectors import account_get
from brokers.paper_venue import paper_fund
from brokers.selectors import credential_find
from brokers.services import credential_add
from core.decimals import format_decimal
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Deposit simulated funds on an account's PAPER credential (created if missing); 'master' = MASTER."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--asset", required=True)
        parser.add_argument("--amount", required=True, help="decimal; negative withdraws")
        parser.add_argument("--label", default="default")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        # One transaction: a refused amount or asset leaves no new credential behind (command fuzz).
        with transaction.atomic():
            credential = credential_find(account=account, venue="paper", label=opts["label"])
            created = credential is None
            if created:
                # PAPER keys are not secrets of any real venue; a random one stands in.
                credential = credential_add(
                    actor=self.cli_actor(), account=account, venue="paper", label=opts["label"],
                    api_key=f"paper-{secrets.token_hex(12)}", api_secret=secrets.token_hex(24), paper=True,
                    reason="paper_fund",
                )
            free = paper_fund(credential=credential, asset=opts["asset"], amount=opts["amount"])
        if created:
            self.stdout.write(f"created PAPER credential {opts['label']} for {account.user_id}")
        asset = opts["asset"].upper()
        self.stdout.write(f"{account.user_id} paper/{opts['label']}: {format_decimal(free)} {asset} free")
