import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.management.base import NijaCommand


class Command(NijaCommand):
    help = ("Create the staff login for the embedded back office (from NIJA_ADMIN_USERNAME/NIJA_ADMIN_PASSWORD, "
            "or a generated password kept in var/admin-login.txt) and print it.")

    def handle(self, *args, **opts):
        username = os.environ.get("NIJA_ADMIN_USERNAME", "admin")
        password = os.environ.get("NIJA_ADMIN_PASSWORD", "")
        stored = Path(settings.VAR_DIR) / "admin-login.txt"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if not password and stored.is_file():
            saved_user, _, saved_password = stored.read_text().strip().partition(":")
            if saved_user == username:
                password = saved_password
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        if user is None:
            user = User.objects.create_superuser(username=username, email=f"{username}@localhost", password=password)
        elif generated or not user.check_password(password):
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()
        user.groups.add(*Group.objects.filter(name="operator"))
        if not os.environ.get("NIJA_ADMIN_PASSWORD"):
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_text(f"{username}:{password}\n")
            stored.chmod(0o600)
        shown = "(the password in NIJA_ADMIN_PASSWORD)" if os.environ.get("NIJA_ADMIN_PASSWORD") else password
        self.stdout.write(f"Staff login: {username} / {shown}")
