import sys

from django.core.management.base import CommandError

from core.management.base import NijaCommand, render_table
from operations.models import ComplianceRun
from operations.selectors import findings_of_run
from operations.services import compliance_run_execute, compliance_run_summary


class Command(NijaCommand):
    help = ("Run the daily compliance check (--weekly: the weekly review of patterns) and record its findings. "
            "Exit 0 when every check ran, whatever it found; exit 1 when a check could not run.")

    def add_arguments(self, parser):
        parser.add_argument("--weekly", action="store_true", help="the weekly review (drawdown, loss streaks, "
                                                                  "missed copies) instead of the daily check")
        parser.add_argument("--json", action="store_true", help="machine-readable result")

    def handle(self, *args, **opts):
        kind = ComplianceRun.Kind.WEEKLY if opts["weekly"] else ComplianceRun.Kind.DAILY
        # Progress on a terminal (stderr, so --json output stays clean).
        progress = (lambda line: self.stderr.write(line)) if sys.stderr.isatty() or self.is_terminal() else None
        run = compliance_run_execute(kind=kind, actor=self.cli_actor(), progress=progress)
        findings = findings_of_run(run=run)
        if opts["json"]:
            self.write_json({**compliance_run_summary(run),
                             "findings": [{"id": f.pk, "kind": f.kind, "status": f.status,
                                           "account": f.account.user_id if f.account_id else None,
                                           "summary": f.summary, "facts": f.facts, "first_seen_at": f.first_seen_at,
                                           "last_seen_at": f.last_seen_at, "times_seen": f.times_seen}
                                          for f in findings]})
        else:
            w = self.stdout.write
            w(f"{run.get_kind_display()} #{run.pk}: {run.findings_seen} finding(s) seen, {run.findings_new} new, "
              f"{run.findings_resolved} resolved (no longer seen), {run.open_after} open or acknowledged in all.")
            if findings:
                w(render_table(["id", "kind", "account", "status", "since", "summary"],
                               [[f.pk, f.kind, f.account.user_id if f.account_id else "(book)", f.status,
                                 f"{f.first_seen_at:%Y-%m-%d}", f.summary] for f in findings]))
        failed = {name: v["error"] for name, v in run.summary.items() if v["error"]}
        if failed:
            raise CommandError("check(s) could not run: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
