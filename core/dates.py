"""Days typed by people (command options, API query parameters, portal filters), read one way."""

from __future__ import annotations

import datetime as dt

from django.utils.dateparse import parse_date

from .errors import ApplicationError


def day_parse(value: str | None, *, name: str, default: dt.date | None = None) -> dt.date:
    """A YYYY-MM-DD day from user input; `default` when the input is empty and a default is given.
    Anything else, including a day the calendar does not have (2026-02-30), is an ApplicationError
    that names the input, never a ValueError."""
    text = (value or "").strip()
    if not text:
        if default is None:
            raise ApplicationError(f"{name} is required (YYYY-MM-DD)", code="invalid")
        return default
    try:
        day = parse_date(text)
    except ValueError:
        raise ApplicationError(f"{name} '{text}' is not a day in the calendar (YYYY-MM-DD)", code="invalid") from None
    if day is None:
        raise ApplicationError(f"{name} '{text}' is not YYYY-MM-DD", code="invalid")
    return day
