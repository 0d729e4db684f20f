"""`make mutation`: mutation testing of the money-critical modules (issue 16).

    .venv/bin/python -m bench.mutation.mutate [--module reporting/lots.py ...] [--sample N] [--seed S]
        [--changed-since REF] [--output FILE] [--json]

For each module, every mutant (see operators.py) runs against that module's tests (TARGETS) in a
forked child of one pytest session; the report gives killed / timed out / survived per module, the
surviving mutants, and the score: (killed + timed out) / (mutants - reviewed equivalents). Equivalent
mutants are listed, with a reason each, in bench/mutation/equivalent.txt and are not run.
Bounded for a developer run: one module at a time, `--sample` with a fixed seed, `--changed-since`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .operators import Mutant, mutants_list
from .runner import KILLED, NOT_APPLIED, SURVIVED, TIMED_OUT, ModuleRun, Outcome, module_mutate

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENTS = Path(__file__).with_name("equivalent.txt")

# module -> the tests that pin it (its own first, then the pure tests of its app that exercise it)
TARGETS: dict[str, tuple[str, ...]] = {
    "reporting/lots.py": ("tests/reporting/test_lots.py", "tests/reporting/test_lots_pinned.py",
                          "tests/reporting/test_lots_properties.py", "tests/reporting/test_performance.py",
                          "tests/reporting/test_performance_pinned.py", "tests/reporting/test_lot_defects.py",
                          "tests/reporting/test_lots_pinned_prices.py"),
    "copytrading/sizing.py": ("tests/copytrading/test_sizing.py", "tests/copytrading/test_sizing_pinned.py"),
    "reporting/performance.py": ("tests/reporting/test_performance.py", "tests/reporting/test_performance_pinned.py"),
    "accounts/risk.py": ("tests/accounts/test_risk_values.py", "tests/accounts/test_risk_profile.py"),
}


class UsageError(Exception):
    pass


@dataclass
class Equivalent:
    module: str
    key: str
    reason: str
    line: int


def equivalents_read(path: Path) -> list[Equivalent]:
    """`module :: key` lines, each followed by an indented `why: reason` line. # starts a comment."""
    out: list[Equivalent] = []
    pending: tuple[str, str, int] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), 1) if path.exists() else []:
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace():
            text = raw.strip()
            if pending is None or not text.startswith("why:") or not text[4:].strip():
                raise UsageError(f"{path}:{number}: expected an indented 'why: <reason>' after a mutant line")
            out.append(Equivalent(pending[0], pending[1], text[4:].strip(), pending[2]))
            pending = None
            continue
        if pending is not None:
            raise UsageError(f"{path}:{pending[2]}: equivalent mutant without a 'why:' line")
        module, sep, key = raw.partition(" :: ")
        if not sep or not key.strip():
            raise UsageError(f"{path}:{number}: expected '<module> :: <mutant key>'")
        pending = (module.strip(), key.strip(), number)
    if pending is not None:
        raise UsageError(f"{path}:{pending[2]}: equivalent mutant without a 'why:' line")
    return out


@dataclass
class ModuleReport:
    module: str
    tests: tuple[str, ...]
    total: int
    equivalent: int
    sampled: int
    run: ModuleRun | None = None
    stale_equivalents: list[Equivalent] = field(default_factory=list)

    def outcomes(self, status: str) -> list[Outcome]:
        return [o for o in (self.run.outcomes if self.run else []) if o.status == status]

    @property
    def score(self) -> float | None:
        if self.run is None or self.run.baseline_failure:
            return None
        counted = len(self.run.outcomes) - len(self.outcomes(NOT_APPLIED))
        if counted <= 0:
            return None
        return 100.0 * (len(self.outcomes(KILLED)) + len(self.outcomes(TIMED_OUT))) / counted

    def summary(self) -> dict:
        return {
            "module": self.module, "mutants": self.total, "equivalent": self.equivalent, "run": self.sampled,
            "killed": len(self.outcomes(KILLED)), "timed_out": len(self.outcomes(TIMED_OUT)),
            "survived": len(self.outcomes(SURVIVED)), "not_applied": len(self.outcomes(NOT_APPLIED)),
            "score": None if self.score is None else round(self.score, 1),
            "baseline_failure": self.run.baseline_failure if self.run else "",
            "tests": self.run.tests if self.run else 0,
            "seconds": round(sum(o.seconds for o in self.run.outcomes), 1) if self.run else 0.0,
            "survivors": [{"line": o.mutant.lineno, "key": o.mutant.key} for o in self.outcomes(SURVIVED)],
        }


def _changed_modules(ref: str, modules: list[str]) -> list[str]:
    result = subprocess.run(["git", "diff", "--name-only", ref, "--"], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise UsageError(f"git diff against '{ref}' failed: {result.stderr.strip().splitlines()[-1:]}")
    changed = set(result.stdout.split())
    return [m for m in modules if m in changed or changed & set(TARGETS[m])]


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores{', ' + cpu if cpu else ''}, " \
           f"Python {platform.python_version()}"


def _commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True)
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def report_markdown(reports: list[ModuleReport], *, options: str, seconds: float) -> str:
    lines = [
        "# Mutation testing: lots, sizing, performance, risk (issue 16)",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Commit: {_commit()}",
        f"- Machine: {_machine()} (shared with other jobs; run under `nice`)",
        f"- Command: `python -m bench.mutation.mutate {options}`".rstrip(),
        f"- Wall time: {seconds:.0f} s",
        "- Score = (killed + timed out) / (mutants run); reviewed equivalent mutants "
        "(bench/mutation/equivalent.txt) are not run and not counted.",
        "",
        "| module | mutants | equivalent | run | killed | timed out | survived | score |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        s = r.summary()
        score = "n/a" if s["score"] is None else f"score {s['score']:.1f}%"
        score = "baseline failed" if s["baseline_failure"] else score
        lines.append(f"| {r.module} | {s['mutants']} | {s['equivalent']} | {s['run']} | {s['killed']} | "
                     f"{s['timed_out']} | {s['survived']} | {score} |")
    for r in reports:
        s = r.summary()
        lines += ["", f"## {r.module}", "", f"Tests: {', '.join(r.tests)} ({s['tests']} items); "
                  f"mutant runs took {s['seconds']} s."]
        if s["baseline_failure"]:
            lines.append(f"\nThe tests fail without any mutant ({s['baseline_failure']}): nothing was run.")
            continue
        survivors = r.outcomes(SURVIVED)
        lines += ["", f"Surviving mutants ({len(survivors)}):" if survivors else "No surviving mutant."]
        lines += [f"- line {o.mutant.lineno}: {r.module} :: {o.mutant.key}" for o in survivors]
        for title, status in (("Timed out (counted as killed)", TIMED_OUT), ("Could not be applied", NOT_APPLIED)):
            found = r.outcomes(status)
            if found:
                lines += ["", f"{title} ({len(found)}):"]
                lines += [f"- line {o.mutant.lineno}: {o.mutant.key} {o.killed_by}".rstrip() for o in found]
        if r.stale_equivalents:
            lines += ["", "Listed as equivalent but no longer generated (remove from equivalent.txt):"]
            lines += [f"- equivalent.txt:{e.line}: {e.key}" for e in r.stale_equivalents]
    return "\n".join(lines) + "\n"


def _progress(module: str):
    started = time.monotonic()
    counts = {KILLED: 0, SURVIVED: 0, TIMED_OUT: 0, NOT_APPLIED: 0}

    def show(outcome: Outcome, position: int, total: int) -> None:
        counts[outcome.status] += 1
        if outcome.status == SURVIVED:
            print(f"  survived: line {outcome.mutant.lineno}: {outcome.mutant.key}", file=sys.stderr)
        if position % 25 == 0 or position == total:
            print(f"[{module}] {position}/{total} mutants, {counts[KILLED]} killed, {counts[TIMED_OUT]} timed out, "
                  f"{counts[SURVIVED]} survived, {time.monotonic() - started:.0f} s", file=sys.stderr)
    return show


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation.mutate", description=__doc__.split("\n")[0])
    parser.add_argument("--module", action="append", help=f"one of {', '.join(TARGETS)} (repeatable; default all)")
    parser.add_argument("--sample", type=int, default=0, help="at most N mutants per module, drawn with --seed")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--changed-since", metavar="REF", help="only modules whose source or tests differ from REF")
    parser.add_argument("--timeout-factor", type=float, default=4.0,
                        help="a mutant times out after factor x the baseline test time + 5 s (at least 10 s)")
    parser.add_argument("--output", default="var/mutation/report.md", help="markdown report path")
    parser.add_argument("--list", action="store_true", help="list the mutants and their keys, run nothing")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    args = parser.parse_args(argv)
    for module in args.module or []:
        if module not in TARGETS:
            raise UsageError(f"unknown module '{module}': choose from {', '.join(TARGETS)}")
    if args.sample < 0:
        raise UsageError("--sample must be 0 (all) or a positive number")
    if args.timeout_factor <= 0:
        raise UsageError("--timeout-factor must be positive")
    return args


def mutation_main(argv: list[str] | None = None) -> int:
    try:
        args = _parse(argv)
        modules = args.module or list(TARGETS)
        if args.changed_since:
            modules = _changed_modules(args.changed_since, modules)
        equivalents = equivalents_read(EQUIVALENTS)
    except UsageError as exc:
        print(f"mutation: {exc}", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    started = time.monotonic()
    reports = []
    for module in modules:
        source = (ROOT / module).read_text()
        mutants = mutants_list(source, module)
        listed = {e.key: e for e in equivalents if e.module == module}
        keys = {m.key for m in mutants}
        if args.list:
            for m in mutants:
                mark = "  (equivalent)" if m.key in listed else ""
                print(f"{module}:{m.lineno}: {module} :: {m.key}{mark}")
            continue
        to_run: list[Mutant] = [m for m in mutants if m.key not in listed]
        if args.sample and len(to_run) > args.sample:
            to_run = sorted(random.Random(args.seed).sample(to_run, args.sample), key=lambda m: m.index)
        report = ModuleReport(module, TARGETS[module], len(mutants), len(keys & set(listed)), len(to_run),
                              stale_equivalents=[e for k, e in listed.items() if k not in keys])
        print(f"[{module}] {len(mutants)} mutants, {report.equivalent} listed equivalent, running {len(to_run)}",
              file=sys.stderr)
        report.run = module_mutate(_module_name(module), source, to_run, TARGETS[module],
                                   timeout_factor=args.timeout_factor, progress=_progress(module))
        if report.run.baseline_failure:
            print(f"[{module}] tests fail without mutants: {report.run.baseline_failure}", file=sys.stderr)
        reports.append(report)
    if args.list:
        return 0
    options = " ".join(argv if argv is not None else sys.argv[1:])
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report_markdown(reports, options=options, seconds=time.monotonic() - started))
    summaries = [r.summary() for r in reports]
    if args.json:
        print(json.dumps({"modules": summaries, "report": str(output)}, indent=2))
    else:
        for s in summaries:
            score = "baseline failed" if s["baseline_failure"] else f"score {s['score']}%"
            print(f"{s['module']}: {s['killed']} killed, {s['timed_out']} timed out, {s['survived']} survived "
                  f"of {s['run']} run ({s['equivalent']} equivalent) -> {score}")
        print(f"report: {output}")
    return 1 if any(s["baseline_failure"] for s in summaries) else 0


if __name__ == "__main__":
    sys.exit(mutation_main())
