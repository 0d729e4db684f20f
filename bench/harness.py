"""What the database benchmarks share (not a benchmark): a throw-away database and Django set up
before the script imports any model, and the Markdown block a run appends to its results file.

A script in bench/ imports it first (bench/ is on sys.path when a script there runs):
    from harness import django_setup  # before any project import
    django_setup("api")
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import django
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def django_setup(name: str, **environ: str) -> Path:
    """Point Django at a throw-away SQLite database in a fresh temporary folder (or at
    $BENCH_DATABASE_URL, never the demo database), local settings, warnings-only logs, a throw-away
    credentials key unless one is set, and the variables in `environ` unless already set; then
    django.setup(). Returns the temporary folder."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix=f"nija-bench-{name}-"))
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nija_site.settings.local")
    os.environ.setdefault("NIJA_LOG_LEVEL", "WARNING")
    for key, value in environ.items():
        os.environ.setdefault(key, value)
    if not os.environ.get("NIJA_CREDENTIAL_KEYS"):
        os.environ["NIJA_CREDENTIAL_KEYS"] = Fernet.generate_key().decode()  # a throw-away key for throw-away data
    django.setup()
    return tmp


def machine() -> str:
    """The machine line of a recorded run: cores, load average now, Python, system."""
    return (f"{os.cpu_count()} cores (shared with other jobs; load average {os.getloadavg()[0]:.1f}), "
            f"Python {platform.python_version()}, {platform.system()} {platform.machine()}")


def record_append(path: str, *, details: str, lines: Iterable[str]) -> None:
    """Append one run to a results file: a dated heading, the machine and `details` (database,
    command line), then one bullet per figure."""
    with open(path, "a") as handle:
        handle.write(f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC\n\nMachine: {machine()}; {details}\n\n"
                     + "".join(f"- {line}\n" for line in lines))


if __name__ == "__main__":
    print("bench/harness.py is the benchmarks' shared setup, not a benchmark: nothing to run")
