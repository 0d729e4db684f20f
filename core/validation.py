"""Checks that a value fits the column it is written to, before the write: text within the field's
max_length and free of NUL characters (PostgreSQL refuses them), decimals within the field's
digits. Services call these so bad input is a clear error naming the field, never a database
exception half-way through a write."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

from .decimals import decimal_for_field
from .errors import ApplicationError


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_problem(value: Any, *, field: str, max_length: int | None) -> str:
    """'' when `value` can be stored in a text column of `max_length`, else why not."""
    if not isinstance(value, str):
        return ""
    if "\x00" in value:
        return f"{field} must not contain NUL characters"
    if not value.isascii() and not _encodable(value):
        # lone surrogates: what Python makes of bytes that are not UTF-8 (a file, argv); no column holds them
        return f"{field} is not valid UTF-8 text"
    if max_length is not None and len(value) > max_length:
        return f"{field} is too long ({len(value)} characters; at most {max_length})"
    return ""


def model_values_check(model: type[models.Model], values: dict[str, Any], *,
                       labels: dict[str, str] | None = None) -> None:
    """Check `values` against `model`'s fields; raise one ApplicationError listing every problem.
    Decimals must fit the column's digits; they are returned unchanged."""
    labels = labels or {}
    problems: dict[str, str] = {}
    for name, value in values.items():
        field = model._meta.get_field(name)
        label = labels.get(name, name.replace("_", " "))
        if isinstance(field, models.CharField | models.TextField):
            problem = text_problem(value, field=label, max_length=field.max_length)
            if problem:
                problems[name] = problem
        elif isinstance(field, models.DecimalField) and isinstance(value, Decimal):
            try:
                decimal_for_field(value, model_field=field, field=label, allow_zero=True)
            except ApplicationError as exc:
                problems[name] = exc.message
    if problems:
        raise ApplicationError("; ".join(problems[k] for k in sorted(problems)), code="invalid",
                               extra={"fields": problems})
