"""The one cache of venue markets in a process, keyed by (venue, sandbox).

Markets are public and the same for every key of a venue. An entry holds what was loaded and
when: for a ccxt exchange the loaded exchange instance (`source`, which other instances copy with
set_markets_from_exchange), and the parsed MarketRules once someone asked for them (`rules`).
Every entry expires MARKETS_TTL_SECONDS after it was loaded; nothing else caches markets."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from .base import MarketRules

MARKETS_TTL_SECONDS = 3600

MarketsKey = tuple[str, bool]  # (venue, sandbox)


@dataclass
class MarketsEntry:
    loaded_at: float
    source: Any = None  # a ccxt exchange whose markets are loaded, or None for other venues
    rules: dict[str, MarketRules] | None = None


_entries: dict[MarketsKey, MarketsEntry] = {}
_guard = threading.Lock()


def _fresh(entry: MarketsEntry | None) -> MarketsEntry | None:
    if entry is not None and time.monotonic() - entry.loaded_at < MARKETS_TTL_SECONDS:
        return entry
    return None


def markets_source(key: MarketsKey) -> Any | None:
    """The fresh loaded ccxt exchange of this venue, if any."""
    with _guard:
        entry = _fresh(_entries.get(key))
    return entry.source if entry else None


def markets_source_set(key: MarketsKey, exchange: Any) -> None:
    """A ccxt exchange just loaded its markets from the venue: it becomes the venue's source."""
    with _guard:
        _entries[key] = MarketsEntry(loaded_at=time.monotonic(), source=exchange)


def markets_rules(key: MarketsKey) -> dict[str, MarketRules] | None:
    with _guard:
        entry = _fresh(_entries.get(key))
    return entry.rules if entry else None


def markets_rules_set(key: MarketsKey, rules: dict[str, MarketRules]) -> None:
    """Parsed rules join the fresh entry they were read from (they expire with it), or start one."""
    with _guard:
        entry = _fresh(_entries.get(key))
        if entry is None:
            _entries[key] = MarketsEntry(loaded_at=time.monotonic(), rules=rules)
        else:
            entry.rules = rules


def markets_cache_clear() -> None:
    with _guard:
        _entries.clear()
