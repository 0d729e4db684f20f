import os
from pathlib import Path

from django.db import transaction

from brokers.nija_import import env_file_read, import_plan_apply, import_plan_build, users_read
from core.errors import ApplicationError
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = ("Import an existing NIJA installation: users from config/users/*.json and their API keys from "
            "{VENUE}_USER_{FIRSTNAME}_API_KEY/_API_SECRET/_PASSPHRASE (and the master's from {VENUE}_MASTER_* or "
            "{VENUE}_PLATFORM_*). Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--config-dir", required=True, help="the NIJA installation (holding config/users)")
        parser.add_argument("--env-file", help="read keys from this .env file instead of the environment")
        parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        parser.add_argument("--no-verify", action="store_true", help="store keys without calling the venues")

    def handle(self, *args, **opts):
        config_dir = Path(opts["config_dir"])
        if not config_dir.is_dir():
            raise ApplicationError(f"{config_dir} is not a directory")
        if opts["env_file"]:
            env_path = Path(opts["env_file"])
            if not env_path.is_file():
                raise ApplicationError(f"{env_path} does not exist")
            env = env_file_read(env_path)
        else:
            env = dict(os.environ)
        plan = import_plan_build(users=users_read(config_dir), env=env)
        for line in plan.lines():
            self.stdout.write(line)
        if opts["dry_run"]:
            self.stdout.write(f"dry run: {plan.changes} change(s) planned, nothing written")
            return
        with transaction.atomic():  # all or nothing: a refused key leaves no half-imported registry
            changes = import_plan_apply(actor=self.cli_actor(), plan=plan, env=env, verify=not opts["no_verify"])
        self.stdout.write(f"imported: {changes} change(s)" if changes else "nothing to change")
        if plan.without_credentials:
            self.stdout.write(f"users without credentials: {', '.join(plan.without_credentials)}")
