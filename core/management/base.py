"""Base for our management commands: one-line errors with a non-zero exit, a CLI actor name for
the audit trail, and JSON output with Decimals as strings, money and quantities quantized at this edge
(core.presenters)."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from core.presenters import present_json
from core.validation import text_problem


def text_arguments_check(options: dict[str, Any]) -> None:
    """Refuse, before anything runs, an argument no column or file can hold: a NUL character, or
    bytes that are not UTF-8 (Python hands them over as lone surrogates). Found by the command fuzz."""
    for name, value in options.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            problem = text_problem(item, field=name, max_length=None)
            if problem:
                raise CommandError(problem)


class NijaCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> Any:
        text_arguments_check(options)
        try:
            return super().execute(*args, **options)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc

    def cli_actor(self) -> str:
        try:
            return f"cli:{getpass.getuser()}"
        except (KeyError, OSError):
            return "cli:unknown"

    def write_json(self, data: Any) -> None:
        self.stdout.write(json.dumps(present_json(data), indent=2))

    def is_terminal(self) -> bool:
        return hasattr(self.stdout, "isatty") and self.stdout.isatty() or sys.stdout.isatty()


def render_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)
