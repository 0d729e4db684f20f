from brokers.services import credential_keys_rotate
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Re-encrypt every broker credential under the newest key in NIJA_CREDENTIAL_KEYS (put the new key first)."

    def handle(self, *args, **opts):
        count = credential_keys_rotate(actor=self.cli_actor())
        self.stdout.write(f"re-encrypted {count} credential(s) under the newest key")
