from copytrading.selectors import copy_order_row, signal_copy_orders, signal_counts, signal_get, signal_summary
from core.decimals import format_decimal
from core.management.base import NijaCommand, render_table


class Command(NijaCommand):
    help = "Show a master signal and its copy orders."

    def add_arguments(self, parser):
        parser.add_argument("signal_id")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        signal = signal_get(signal_id=opts["signal_id"])
        orders = list(signal_copy_orders(signal=signal))
        if opts["json"]:
            self.write_json({"signal": signal_summary(signal=signal),
                             "copy_orders": [copy_order_row(o) for o in orders]})
            return
        s = signal_summary(signal=signal)
        self.stdout.write(
            f"Signal #{signal.pk} [{signal.status}, mode {signal.mode}] {signal.source}:{signal.source_id}\n"
            f"  {signal.side.upper()} {format_decimal(signal.amount)} {signal.symbol} @ {format_decimal(signal.price)}"
            f" on {signal.venue}, executed {s['executed_at']:%Y-%m-%d %H:%M:%S} UTC"
            + (f", exit fraction {format_decimal(signal.exit_fraction)}" if signal.exit_fraction else "")
        )
        counts = signal_counts(signal=signal)
        self.stdout.write(f"  copy orders: planned {counts['planned']}, observed {counts['observed']}, "
                          f"skipped {counts['skipped']} {counts['by_reason'] or ''}")
        rows = [[o.account.user_id, format_decimal(o.quantity), format_decimal(o.notional), o.status, o.reason or "-",
                 o.client_order_id] for o in orders]
        self.stdout.write(render_table(["account", "quantity", "notional", "status", "reason", "client order id"],
                                       rows))
