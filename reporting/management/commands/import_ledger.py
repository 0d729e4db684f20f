import sys
from pathlib import Path

from accounts.selectors import account_get
from core.errors import ApplicationError
from core.management.base import NijaCommand
from reporting.services import ledger_import_csv


class Command(NijaCommand):
    help = ("Import ledger entries from a CSV (occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,"
            "fee_asset,fee_amount,external_id). All or nothing; external ids already imported are skipped.")

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--csv", required=True, dest="csv_path", help="CSV file, or - for stdin")
        parser.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        path = opts["csv_path"]
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ApplicationError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:  # found by the command fuzz: a traceback before
            line = exc.object[:exc.start].count(b"\n") + 1
            byte = exc.object[exc.start]
            raise ApplicationError(f"{path}: not UTF-8 text (byte 0x{byte:02x} on line {line})") from None
        try:
            result = ledger_import_csv(
                actor=self.cli_actor(), account=account, text=text, dry_run=opts["dry_run"], source_name=path,
                progress=lambda n: self.stderr.write(f"  validated {n} rows..."),
            )
        except ApplicationError as exc:
            errors = exc.extra.get("errors") or [str(exc)]
            for line in errors:
                self.stderr.write(line)
            raise ApplicationError(f"{len(errors)} bad row(s); nothing imported") from None
        verb = "would import" if opts["dry_run"] else "imported"
        self.stdout.write(f"{account.user_id}: {verb} {result.created} entries, "
                          f"{result.skipped} already in the ledger (skipped)")
