from accounts.selectors import login_user_get
from accounts.services import API_TOKEN_MAX_DAYS, api_token_create
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = ("Create a personal API access token for a login (staff or investor). The token is printed once "
            "and stored only as a digest.")

    def add_arguments(self, parser):
        parser.add_argument("username", help="the Django login the token acts as")
        parser.add_argument("--name", default="cli token", help="what the token is for")
        parser.add_argument("--expires-days", type=int, default=90,
                            help=f"days until it expires, 1..{API_TOKEN_MAX_DAYS} (default 90)")
        parser.add_argument("--never-expires", action="store_true", help="no expiry (revoke it when done)")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, **opts):
        user = login_user_get(username=opts["username"])
        days = None if opts["never_expires"] else opts["expires_days"]
        token, text = api_token_create(actor=self.cli_actor(), user=user, name=opts["name"], expires_days=days)
        if opts["json"]:
            self.write_json({"id": token.pk, "user": user.get_username(), "name": token.name, "token": text,
                             "expires_at": token.expires_at})
            return
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
        self.stdout.write(f"Token {token.pk} '{token.name}' for {user.get_username()} ({expiry}).")
        self.stdout.write("Copy it now; it is not stored and will not be shown again:")
        self.stdout.write(text)
