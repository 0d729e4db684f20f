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


# No account, price or trade here predates this; earlier days are typing mistakes (0001-01-01).
EARLIEST_DAY = dt.date(2000, 1, 1)


def day_bounded(day: dt.date, *, name: str, today: dt.date | None = None) -> dt.date:
    """A day a report may be asked for: not before EARLIEST_DAY and not after today (a report
    for 9999-12-30 would compute NAV for every day until then)."""
    today = today or dt.datetime.now(dt.UTC).date()
    if day < EARLIEST_DAY:
        raise ApplicationError(f"{name} {day.isoformat()} is before {EARLIEST_DAY.isoformat()}", code="invalid")
    if day > today:
        raise ApplicationError(f"{name} {day.isoformat()} is after today ({today.isoformat()})", code="invalid")
    return day


def span_check(start: dt.date, end: dt.date, *, max_days: int, names: tuple[str, str] = ("from", "to")) -> None:
    if end < start:
        raise ApplicationError(f"{names[1]} {end.isoformat()} is before {names[0]} {start.isoformat()}",
                               code="invalid")
    if (end - start).days > max_days:
        raise ApplicationError(f"the range {start.isoformat()}..{end.isoformat()} is longer than {max_days} days",
                               code="invalid")


def year_parse(value: str | int | None, *, name: str = "year", default: int | None = None,
               today: dt.date | None = None) -> int:
    """A calendar year from user input, between EARLIEST_DAY's year and the current year."""
    today = today or dt.datetime.now(dt.UTC).date()
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise ApplicationError(f"{name} is required (YYYY)", code="invalid")
        return default
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) != 4:
        raise ApplicationError(f"{name} '{text}' is not a year (YYYY)", code="invalid")
    year = int(text)
    if not EARLIEST_DAY.year <= year <= today.year:
        raise ApplicationError(f"{name} must be between {EARLIEST_DAY.year} and {today.year}, got {year}",
                               code="invalid")
    return year
