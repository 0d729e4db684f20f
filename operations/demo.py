"""The whole demo (`seed_demo`, `make run`): every app's seeder (reporting.demo.demo_seed runs them in
dependency order), then this app's part: the audit chain verified and a first daily compliance run
over the demo data, so the dashboard and the findings list show what the check found."""

from __future__ import annotations

from collections.abc import Callable

from compliance.services import audit_chain_verification_record
from reporting.demo import demo_seed as demo_apps_seed

from .selectors import compliance_runs_latest
from .services import compliance_run_execute

DEMO_ACTOR = "system:demo"


def demo_operations_seed() -> bool:
    """Returns False when a compliance run exists already (then it changes nothing)."""
    if compliance_runs_latest()["daily"] is not None:
        return False
    audit_chain_verification_record()
    compliance_run_execute(actor=DEMO_ACTOR)
    return True


def demo_seed(*, progress: Callable[[str], None] = lambda _: None) -> dict[str, bool]:
    results = demo_apps_seed(progress=progress)
    path = f"{demo_operations_seed.__module__}.{demo_operations_seed.__qualname__}"
    results[path] = demo_operations_seed()
    progress(f"{path}: {'seeded' if results[path] else 'already there'}")
    return results
