"""Inline SVG charts for the portal (no script, no CDN): a line over days, with its range and dates
written out so the figure also reads without the picture."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from django.utils.html import format_html, format_html_join

WIDTH, HEIGHT, PAD_X, PAD_Y = 640, 220, 8, 24


def line_chart(*, days: Sequence[dt.date], values: Sequence[float], title: str,
               label: Callable[[float], str], fill_below_zero: bool = False) -> str:
    """An SVG polyline of `values` over `days`; `label` formats the axis figures (money, percent)."""
    if len(values) < 2:
        return format_html('<p class="muted">{}: not enough days for a chart yet.</p>', title)
    low, high = min(values), max(values)
    if fill_below_zero:
        high = max(high, 0.0)
    span = (high - low) or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD_X, HEIGHT - 2 * PAD_Y
    step = inner_w / (len(values) - 1)
    points = [(PAD_X + i * step, PAD_Y + (high - v) / span * inner_h) for i, v in enumerate(values)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = ""
    if fill_below_zero:
        top = PAD_Y + high / span * inner_h
        area = format_html('<polygon points="{},{} {} {},{}" fill="#f3c7c8" />',
                           PAD_X, f"{top:.1f}", path, f"{points[-1][0]:.1f}", f"{top:.1f}")
    summary = (f"{title} from {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}: lowest {label(low)}, "
               f"highest {label(high)}, last {label(values[-1])}.")
    ticks = format_html_join("", '<text x="{}" y="{}" font-size="12" fill="#4d5761" text-anchor="{}">{}</text>', [
        (PAD_X, 14, "start", label(high)),
        (PAD_X, HEIGHT - 6, "start", label(low)),
        (WIDTH - PAD_X, HEIGHT - 6, "end", f"{days[-1]:%Y-%m-%d}"),
        (WIDTH // 2, HEIGHT - 6, "middle", f"from {days[0]:%Y-%m-%d}"),
    ])
    return format_html(
        '<figure><svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-t">'
        '<title id="{}-t">{}</title>{}<polyline points="{}" fill="none" stroke="#0b4f8a" stroke-width="2" />{}'
        '</svg><figcaption class="muted">{}</figcaption></figure>',
        WIDTH, HEIGHT, _slug(title), _slug(title), summary, area, path, ticks, summary)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())
