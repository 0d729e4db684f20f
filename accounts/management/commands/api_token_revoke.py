from accounts.selectors import api_token_get
from accounts.services import api_token_revoke
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Revoke a personal API access token by its id (refused from its next request)."

    def add_arguments(self, parser):
        parser.add_argument("token_id", type=int)
        parser.add_argument("--reason", default="")

    def handle(self, *args, **opts):
        token = api_token_revoke(actor=self.cli_actor(), token=api_token_get(token_id=opts["token_id"]),
                                 reason=opts["reason"])
        self.stdout.write(self.style.SUCCESS(f"Token {token.pk} '{token.name}' of {token.user} revoked."))
