"""The demo `make run` seeds. Each app adds its seeder here, in dependency order; every seeder is
idempotent and returns whether it wrote anything."""

from collections.abc import Callable

from django.db import transaction
from django.utils.module_loading import import_string

DEMO_SEEDERS: list[str] = [
    "accounts.demo.demo_accounts_seed",
    "brokers.demo.demo_brokers_seed",
    "copytrading.demo.demo_copytrading_seed",
    "reporting.demo.demo_reporting_seed",
]


def demo_seed(*, progress: Callable[[str], None] = lambda _: None) -> dict[str, bool]:
    results: dict[str, bool] = {}
    for path in DEMO_SEEDERS:
        with transaction.atomic():
            results[path] = bool(import_string(path)())
        progress(f"{path}: {'seeded' if results[path] else 'already there'}")
    return results
