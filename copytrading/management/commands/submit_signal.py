import time

from django.core.management.base import CommandError
from django.utils import timezone

from copytrading.models import MasterSignal
from copytrading.selectors import signal_get, signal_outcome, signal_planning_state
from copytrading.services import signal_plan_enqueue, signal_receive
from core.management.base import NijaCommand, render_table

WAIT_POLL_SECONDS = 0.2


class Command(NijaCommand):
    help = ("Submit a master signal by hand (staff). Same fields and idempotency as the webhook; planning "
            "is queued for a worker like the webhook's, --wait waits for the plan and prints it.")

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
        parser.add_argument("--wait", action="store_true", help="wait until a worker has planned the signal")
        parser.add_argument("--wait-timeout", type=float, default=60.0, help="seconds --wait waits (default 60)")
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
                                         raw_payload={**data, "submitted_by": self.cli_actor()}, plan=False)
        queued = None
        if created and signal.status == MasterSignal.Status.RECEIVED:
            queued = signal_plan_enqueue(signal)
        signal = signal_get(signal_id=signal.pk)
        if opts["wait"]:
            signal = self._wait_for_plan(signal, timeout=opts["wait_timeout"], quiet=opts["json"])
        body = signal_outcome(signal=signal, planning=signal_planning_state(signal, queued=queued))
        if opts["json"]:
            self.write_json({**body, "created": created})
            return
        if not created:
            self.stdout.write(f"Signal '{signal.source_id}' was already received as #{signal.pk}; nothing changed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Signal #{signal.pk} stored ({signal.status}, mode {signal.mode})."))
        if signal.status == MasterSignal.Status.EXPIRED:
            raise CommandError(f"signal #{signal.pk} expired and will not be copied: {signal.status_reason}")
        if signal.status == MasterSignal.Status.RECEIVED:
            self.stdout.write(f"planning: {body['planning']} (run with --wait, or `show_signal {signal.pk}` later)")
            return
        counts = body["copy_orders"]
        self.stdout.write(f"copy orders: planned {counts['planned']}, observed {counts['observed']}, "
                          f"skipped {counts['skipped']}")
        if counts["by_reason"]:
            self.stdout.write(render_table(["reason", "count"], sorted(counts["by_reason"].items())))

    def _wait_for_plan(self, signal: MasterSignal, *, timeout: float, quiet: bool) -> MasterSignal:
        deadline = time.monotonic() + timeout
        if signal.status == MasterSignal.Status.RECEIVED and not quiet:
            self.stderr.write(f"waiting for a worker to plan signal #{signal.pk} ...")
        while signal.status == MasterSignal.Status.RECEIVED:
            if time.monotonic() >= deadline:
                raise CommandError(f"signal #{signal.pk} is stored but was not planned within {timeout:g} s; "
                                   f"is a worker running? The pending-signal sweep plans it once one is")
            time.sleep(WAIT_POLL_SECONDS)
            signal = signal_get(signal_id=signal.pk)
        return signal
