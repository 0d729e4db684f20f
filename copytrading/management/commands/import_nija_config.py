import os
from pathlib import Path

from django.db import transaction

from copytrading.nija_import import env_file_read, import_plan_apply, import_plan_build
from core.errors import ApplicationError
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = ("Import an existing NIJA installation: config/users/*.json (array files by account type and broker, "
            "per-user object files), per-user *.yaml files with embedded keys, and the keys in the env file "
            "({VENUE}_USER_{FIRSTNAME}_* or {VENUE}_USER_{FIRSTNAME_LASTNAME}_*, {VENUE}_MASTER_* / "
            "{VENUE}_PLATFORM_*). Every conflict is refused before anything is written. Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--config-dir", required=True, help="the NIJA installation (holding config/users)")
        parser.add_argument("--env-file", help="read keys from this .env file instead of the environment")
        parser.add_argument("--prefer", action="append", default=[], metavar="FILE",
                            help="on a disagreement between files, this file's values win (repeatable; the first "
                                 "named wins among preferred files); the env file can be named too")
        parser.add_argument("--prefer-full-name", action="store_true",
                            help="when {VENUE}_USER_{FIRSTNAME_LASTNAME}_* and {VENUE}_USER_{FIRSTNAME}_* differ, "
                                 "use the full-name variables")
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
            env, env_source = env_file_read(env_path), env_path.name
        else:
            env, env_source = dict(os.environ), "environment"
        plan = import_plan_build(config_dir=config_dir, env=env, env_source=env_source, prefer=opts["prefer"],
                                 prefer_full_name=opts["prefer_full_name"])
        for line in plan.lines():
            self.stdout.write(line)
        if opts["dry_run"]:
            self.stdout.write(f"dry run: {plan.changes} change(s) planned, nothing written")
            return
        with transaction.atomic():  # all or nothing: a refused key leaves no half-imported registry
            changes = import_plan_apply(actor=self.cli_actor(), plan=plan, verify=not opts["no_verify"])
        self.stdout.write(f"imported: {changes} change(s)" if changes else "nothing to change")
        if plan.without_credentials:
            self.stdout.write(f"users without credentials: {', '.join(plan.without_credentials)}")
        if plan.yaml_files_with_keys:
            self.stdout.write("these files hold API keys that are now stored encrypted; delete them: "
                              + ", ".join(plan.yaml_files_with_keys))
