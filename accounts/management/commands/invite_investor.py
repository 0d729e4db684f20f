from django.conf import settings

from accounts.selectors import account_get
from accounts.services import portal_invitation_send
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = ("Create the investor's portal login for an account (username = user_id) and e-mail a one-time link "
            "to set its password; inviting again replaces the older link.")

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--reset", action="store_true",
                            help="also when the investor already set a password (it stops working until the new "
                                 "link is used)")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        account = portal_invitation_send(actor=self.cli_actor(), account=account, reset_login=opts["reset"])
        self.stdout.write(self.style.SUCCESS(
            f"{account.user_id}: portal login '{account.portal_user.get_username()}' invited; the set-password link "
            f"went to {account.email} (valid {settings.NIJA_PORTAL_INVITE_DAYS} days)."))
