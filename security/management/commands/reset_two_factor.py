"""reset_two_factor USERNAME --reason TEXT: remove a staff member's authenticator and recovery
codes (a lost phone); they set it up again at their next sign-in. Audited."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from core.errors import ApplicationError
from core.management.base import NijaCommand
from security.services import otp_disable


class Command(NijaCommand):
    help = "Remove a user's two-factor authenticator and recovery codes (audited)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="why (audited)")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise ApplicationError(f"no user {options['username']!r}")
        otp_disable(actor=self.cli_actor(), user=user, reason=options["reason"])
        self.stdout.write(f"two-factor sign-in removed for {user.get_username()}; they set it up again at next sign-in")
