from accounts.selectors import account_get
from core.management.base import NijaCommand
from reporting.services import ledger_entry_manual_record


class Command(NijaCommand):
    help = "Record a manual staff ledger entry (e.g. a correcting adjustment). A reason is required and audited."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--kind", required=True, help="deposit, withdrawal, trade, fee, transfer or adjustment")
        parser.add_argument("--venue", required=True)
        parser.add_argument("--asset", required=True)
        parser.add_argument("--amount", required=True, help="signed: negative goes out")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--occurred-at", default=None, help="ISO 8601, UTC if no offset (default now)")
        parser.add_argument("--counter-asset", default="")
        parser.add_argument("--counter-amount", default=None)
        parser.add_argument("--fee-asset", default="")
        parser.add_argument("--fee-amount", default=None)
        parser.add_argument("--external-id", default="")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        entry = ledger_entry_manual_record(
            actor=self.cli_actor(), account=account, kind=opts["kind"], venue=opts["venue"], asset=opts["asset"],
            amount=opts["amount"], reason=opts["reason"], occurred_at=opts["occurred_at"],
            counter_asset=opts["counter_asset"], counter_amount=opts["counter_amount"], fee_asset=opts["fee_asset"],
            fee_amount=opts["fee_amount"], external_id=opts["external_id"],
        )
        self.stdout.write(f"recorded ledger entry {entry.pk} for {account.user_id}: {entry}")
