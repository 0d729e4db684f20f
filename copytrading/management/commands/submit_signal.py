from django.core.management.base import CommandError
from django.utils import timezone

from copytrading.models import MasterSignal
from copytrading.selectors import signal_outcome
from copytrading.services import signal_receive
from core.management.base import NijaCommand, render_table


class Command(NijaCommand):
    help = "Submit a master signal by hand (staff). Same fields and idempotency as the webhook."

    def add_arguments(self, parser):
        parser.add_argument("--source-id", required=True,
                            help="unique id of this master trade (a replay changes nothing)")
        parser.add_argument("--venue", default="paper")
        parser.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USD")
        parser.add_argument("--side", required=True, choices=["buy", "sell"])
        parser.add_argument("--amount", required=True, help="master quantity, decimal string")
        parser.add_argument("--price", required=True, help="master fill price, decimal string")
        parser.add_argument("--order-type", default="market", choices=["market", "limit"])
        parser.add_argument("--master-order-id", default="")
        parser.add_argument("--executed-at", default="", help="ISO 8601 with zone; default now")
        parser.add_argument("--exit-fraction", default="", help="sells: fraction of the master position closed")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        data = {
            "source_id": opts["source_id"], "venue": opts["venue"], "symbol": opts["symbol"], "side": opts["side"],
            "amount": opts["amount"], "price": opts["price"], "order_type": opts["order_type"],
            "master_order_id": opts["master_order_id"],
            "executed_at": opts["executed_at"] or timezone.now().isoformat(),
        }
        if opts["exit_fraction"]:
            data["exit_fraction"] = opts["exit_fraction"]
        signal, created = signal_receive(source=MasterSignal.Source.MANUAL, data=data,
                                         raw_payload={**data, "submitted_by": self.cli_actor()})
        body = signal_outcome(signal=signal)
        if opts["json"]:
            self.write_json({**body, "created": created})
            return
        if not created:
            self.stdout.write(f"Signal '{signal.source_id}' was already received as #{signal.pk}; nothing changed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Signal #{signal.pk} stored ({signal.status}, mode {signal.mode})."))
        counts = body["copy_orders"]
        self.stdout.write(f"copy orders: planned {counts['planned']}, observed {counts['observed']}, "
                          f"skipped {counts['skipped']}")
        if counts["by_reason"]:
            self.stdout.write(render_table(["reason", "count"], sorted(counts["by_reason"].items())))
        if signal.status == MasterSignal.Status.RECEIVED:
            raise CommandError(f"signal #{signal.pk} was stored but not planned; see the log")
