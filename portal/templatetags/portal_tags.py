"""Presentation helpers of the portal's templates."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


@register.filter
def when(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the investor's time zone (the one the view activated), UTC on hover."""
    if value is None:
        return "n/a"
    local = timezone.localtime(value)
    utc = value.astimezone(dt.UTC)
    return format_html('<time datetime="{}" title="{} UTC">{} {}</time>', utc.isoformat(),
                       utc.strftime("%Y-%m-%d %H:%M"), local.strftime(fmt), local.tzname())


@register.filter
def as_of(value: dt.datetime | None) -> str:
    """A recent moment, as `when`: the time alone if it is today (the investor's day), else with its day."""
    if value is None:
        return "n/a"
    today = timezone.localtime(value).date() == timezone.localtime().date()
    return when(value, "%H:%M" if today else "%Y-%m-%d %H:%M")


@register.filter
def signed_class(value) -> str:
    """CSS class for a signed figure: pos, neg or nothing (None and zero)."""
    if value is None:
        return ""
    return "neg" if value < 0 else ("pos" if value > 0 else "")
