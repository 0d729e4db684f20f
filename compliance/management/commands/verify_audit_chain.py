import json

from django.core.management.base import BaseCommand, CommandError

from compliance.services import audit_chain_verification_record


class Command(BaseCommand):
    help = ("Recompute the audit chain's hashes and record the result (the dashboard and the daily check "
            "read it); exit non-zero naming the first broken event.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable result")

    def handle(self, *args, **opts):
        result = audit_chain_verification_record()
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        elif result.valid:
            self.stdout.write(self.style.SUCCESS(f"Audit chain valid: {result.events_checked} events."))
        if not result.valid:
            raise CommandError(
                f"Audit chain broken at event #{result.first_broken_seq}: {result.problem} "
                f"({result.events_checked} events before it are valid)."
            )
