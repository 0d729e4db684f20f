"""unlock_login USERNAME --reason TEXT: clear a locked sign-in (audited)."""

from __future__ import annotations

from core.management.base import NijaCommand
from security.services import login_unlock


class Command(NijaCommand):
    help = "Unlock a username locked after repeated failed sign-ins; the reason goes into the audit chain."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="why it is unlocked (audited)")

    def handle(self, *args, **options):
        failures = login_unlock(actor=self.cli_actor(), username=options["username"], reason=options["reason"])
        self.stdout.write(f"unlocked {options['username']} ({failures} failed sign-ins cleared)")
