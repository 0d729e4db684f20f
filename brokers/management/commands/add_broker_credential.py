"""Secrets never come from argv (they would sit in shell history and `ps`): they are read from
stdin (a hidden prompt on a terminal) or from named environment variables."""

from __future__ import annotations

import getpass
import os
import sys

from accounts.selectors import account_get
from brokers.services import credential_add
from core.errors import ApplicationError
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = ("Add (or replace) an account's API key for a venue: verified by fetching balances, refused if it can "
            "withdraw. Key, secret and passphrase are read from stdin (one per line), or from "
            "PREFIX_API_KEY / PREFIX_API_SECRET / PREFIX_PASSPHRASE with --from-env PREFIX.")
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("user_id", help="account user_id ('master' = the MASTER account)")
        parser.add_argument("--venue", required=True, help="kraken, coinbase, okx, alpaca, paper or any ccxt id")
        parser.add_argument("--label", default="default")
        parser.add_argument("--paper", action="store_true", help="Alpaca paper / OKX demo / sandbox key")
        parser.add_argument("--from-env", metavar="PREFIX",
                            help="read PREFIX_API_KEY, PREFIX_API_SECRET, PREFIX_PASSPHRASE")
        parser.add_argument("--allow-withdraw-permission", action="store_true",
                            help="accept a key that can withdraw (needs --reason; audited)")
        parser.add_argument("--reason", default="")
        parser.add_argument("--no-verify", action="store_true", help="store without calling the venue")

    def read_secrets(self, opts) -> tuple[str, str, str]:
        prefix = opts.get("from_env")
        if prefix:
            prefix = prefix.rstrip("_")
            key, secret = os.environ.get(f"{prefix}_API_KEY", ""), os.environ.get(f"{prefix}_API_SECRET", "")
            if not key or not secret:
                raise ApplicationError(f"{prefix}_API_KEY and {prefix}_API_SECRET must both be set")
            return key, secret, os.environ.get(f"{prefix}_PASSPHRASE", "")
        stream = opts.get("stdin") or sys.stdin
        if hasattr(stream, "isatty") and stream.isatty():
            key = getpass.getpass("API key: ")
            secret = getpass.getpass("API secret: ")
            passphrase = getpass.getpass("Passphrase (empty if none): ")
            return key, secret, passphrase
        lines = [line.strip() for line in stream.read().splitlines()]
        lines += ["", "", ""]
        return lines[0], lines[1], lines[2]

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        key, secret, passphrase = self.read_secrets(opts)
        credential = credential_add(
            actor=self.cli_actor(), account=account, venue=opts["venue"], label=opts["label"], api_key=key,
            api_secret=secret, passphrase=passphrase, paper=opts["paper"], verify=not opts["no_verify"],
            allow_withdraw_permission=opts["allow_withdraw_permission"], reason=opts["reason"],
        )
        perms = credential.permissions
        detail = "not checked" if not perms.get("checked") else (
            f"trade={perms.get('can_trade')}, withdraw={perms.get('can_withdraw')}"
        )
        self.stdout.write(
            f"stored {credential.venue}/{credential.label} for {account.user_id} (key ****{credential.hint}); "
            f"permissions: {detail}"
        )
        if credential.status == credential.Status.UNVERIFIED:
            self.stdout.write("status: UNVERIFIED (not used for trading until the balance audit has verified it, "
                              "permissions included)")
