"""Run calls at the same moment on threads of their own (each with its own database connection),
for the tests that prove a lock or a constraint keeps two writers apart."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(calls: list[Callable[[], object]], *, timeout: float = 60) -> list[BaseException]:
    """Start every call on its own thread, release them together, wait for all; the errors raised
    (none when every call returned). Each thread closes its connection when done."""
    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            start.wait(5)
            call()
        except Exception as exc:  # noqa: BLE001 - handed to the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors
