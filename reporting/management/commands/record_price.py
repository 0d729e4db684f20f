import sys
from pathlib import Path

from core.errors import ApplicationError
from core.management.base import NijaCommand
from reporting.services import manual_price_build, manual_prices_from_csv, manual_prices_record


class Command(NijaCommand):
    help = ("Record USD prices by hand for assets no venue prices (a delisted token, a missing day): "
            "record_price ASSET PRICE --at ISO_TIME --reason TEXT, or record_price --csv FILE --reason TEXT "
            "(columns asset,price,observed_at). Stored with source manual, audited, used like any other "
            "price. All or nothing: a bad row is named by file:line and nothing is stored.")

    def add_arguments(self, parser):
        parser.add_argument("asset", nargs="?", help="asset code, e.g. LUNA")
        parser.add_argument("price", nargs="?", help="USD per unit, a decimal, e.g. 0.000123")
        parser.add_argument("--at", dest="observed_at", help="when the price held, ISO 8601 (naive = UTC)")
        parser.add_argument("--csv", dest="csv_path", help="CSV file (asset,price,observed_at), or - for stdin")
        parser.add_argument("--reason", required=True, help="why the price is entered by hand (audited)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        if opts["csv_path"]:
            if opts["asset"] or opts["price"] or opts["observed_at"]:
                raise ApplicationError("give either ASSET PRICE --at TIME or --csv FILE, not both")
            path = opts["csv_path"]
            try:
                text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
            except (OSError, ValueError) as exc:
                raise ApplicationError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
            try:
                prices = manual_prices_from_csv(text=text, name=path)
            except ApplicationError as exc:
                errors = exc.extra.get("errors")
                if not errors:
                    raise
                for line in errors:
                    self.stderr.write(line)
                raise ApplicationError(f"{len(errors)} bad row(s) in {path}; nothing stored") from None
        else:
            if not opts["asset"] or not opts["price"] or not opts["observed_at"]:
                raise ApplicationError("give ASSET PRICE --at ISO_TIME (or --csv FILE)")
            prices = [manual_price_build(asset=opts["asset"], price=opts["price"], observed_at=opts["observed_at"])]
            path = ""
        result = manual_prices_record(actor=self.cli_actor(), prices=prices, reason=opts["reason"],
                                      source_name=path)
        if opts["json"]:
            self.write_json({"currency": "USD", "created": [
                {"id": p.pk, "asset": p.asset, "quote": p.quote, "price": p.price, "observed_at": p.observed_at,
                 "source": p.source} for p in result.created], "unchanged": result.unchanged})
            return
        for p in result.created:
            self.stdout.write(f"{p.asset}/USD {p.price} at {p.observed_at.isoformat()} (manual)")
        self.stdout.write(f"{len(result.created)} manual price(s) recorded, {result.unchanged} already stored")
