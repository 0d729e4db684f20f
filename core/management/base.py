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


class NijaCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> Any:
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
