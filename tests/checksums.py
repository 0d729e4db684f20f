"""Table checksums for "nothing changed" assertions: every table of every installed app (Django's,
third-party and ours, many-to-many tables included), its row count and a SHA-256 of its rows in
primary-key order. Equal before and after a refused call means that call wrote nothing anywhere."""

from __future__ import annotations

import hashlib

from django.apps import apps


def _tables():
    for model in apps.get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy:
            yield model


def table_checksums() -> dict[str, tuple[int, str]]:
    sums = {}
    for model in _tables():
        columns = [field.attname for field in model._meta.concrete_fields]
        digest, count = hashlib.sha256(), 0
        for row in model._base_manager.order_by("pk").values_list(*columns).iterator(chunk_size=2000):
            digest.update(repr(row).encode("utf-8", "backslashreplace"))
            count += 1
        sums[model._meta.db_table] = (count, digest.hexdigest())
    return sums


def changed_tables(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    """The tables whose rows differ, with their counts before and after."""
    return [f"{table} ({before.get(table, (0,))[0]} -> {after.get(table, (0,))[0]} rows)"
            for table in sorted(set(before) | set(after)) if before.get(table) != after.get(table)]
