import os
import secrets
from pathlib import Path

from django.conf import settings

from accounts.selectors import account_find
from accounts.services import portal_login_set_password
from core.management.base import NijaCommand

DEMO_INVESTOR = "tania_gilbert"


class Command(NijaCommand):
    help = ("Give one demo investor (tania_gilbert) a portal login for the embedded demo, with a generated password "
            "kept in var/portal-login.txt, and print it. Does nothing without the demo data.")

    def handle(self, *args, **opts):
        account = account_find(user_id=os.environ.get("NIJA_DEMO_INVESTOR", DEMO_INVESTOR))
        if account is None:
            self.stdout.write("No demo investor to give a portal login (run seed_demo first).")
            return
        stored = Path(settings.VAR_DIR) / "portal-login.txt"
        password = ""
        if stored.is_file():
            saved_user, _, password = stored.read_text().strip().partition(":")
            if saved_user != account.user_id:
                password = ""
        user = account.portal_user
        if not password or user is None or not user.check_password(password):
            password = password or secrets.token_urlsafe(12)
            account = portal_login_set_password(actor=self.cli_actor(), account=account, password=password)
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_text(f"{account.portal_user.get_username()}:{password}\n")
            stored.chmod(0o600)
        base = settings.NIJA_PORTAL_BASE_URL.rstrip("/")
        self.stdout.write(f"Portal login ({account.full_name}): {account.portal_user.get_username()} / {password} "
                          f"at {base}/portal/login/")
