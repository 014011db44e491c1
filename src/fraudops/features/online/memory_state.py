"""The memory store's per-entity state: packed rows (or bare times) and frauds."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any

from fraudops.features.online.packed import Packing
from fraudops.features.online.times import BEFORE_EVERYTHING

# an entity table longer than this gets a value -> code dict (else list.index is faster)
_LOOKUP_FROM = 48


class Times:
    """A counts-only entity in memory: its transaction times (int64 array), oldest first,
    and its frauds when it has any."""

    __slots__ = ("frauds", "ts")

    def __init__(self) -> None:
        self.ts = array("q")
        self.frauds: dict[str, tuple[int, int]] | None = None

    def last(self) -> int:
        return self.ts[-1] if self.ts else BEFORE_EVERYTHING

    def trim(self, limit: int) -> None:
        ts = self.ts
        if ts and ts[0] <= limit:
            del ts[: bisect_right(ts, limit)]
            forget_frauds(self, limit)

    def add(self, t: int) -> None:
        ts = self.ts
        if not ts or t >= ts[-1]:
            ts.append(t)
        else:  # a late transaction: keep time order
            ts.insert(bisect_right(ts, t), t)


class Entries:
    """An entity with per-transaction features: its packed rows (:mod:`.packed`), the
    table of its string values, and its frauds when it has any."""

    __slots__ = ("data", "frauds", "lookup", "table")

    def __init__(self, packing: Packing) -> None:
        self.data = packing.empty()
        self.table: list[str | None] = [None]
        self.lookup: dict[Any, int] | None = None  # value -> code, for large tables
        self.frauds: dict[str, tuple[int, int]] | None = None

    def last(self, packing: Packing) -> int:
        times = packing.times(self.data)
        return times[-1] if len(times) else BEFORE_EVERYTHING

    def code(self, value: Any) -> int:
        if value is None:
            return 0
        lookup = self.lookup
        if lookup is not None:
            code = lookup.get(value)
            if code is None:
                code = lookup[value] = len(self.table)
                self.table.append(value)
            return code
        try:
            return self.table.index(value, 1)
        except ValueError:
            self.table.append(value)
            if len(self.table) > _LOOKUP_FROM:
                self.reindex()
            return len(self.table) - 1

    def reindex(self) -> None:
        table = self.table
        self.lookup = (
            {v: c for c, v in enumerate(table) if c} if len(table) > _LOOKUP_FROM else None
        )

    def add(self, packing: Packing, drop: int, t: int, values: tuple[Any, ...]) -> None:
        """Drop the first ``drop`` rows (they left the longest window) and add one."""
        codes = [self.code(values[i]) for i in packing.strings]
        self.data = packing.splice(self.data, drop, (t, *values), codes)
        if len(self.table) >= packing.compact_limit(self.data):
            self.data, self.table = packing.compact(self.data, self.table)
            self.reindex()


def forget_frauds(state: Times | Entries, limit: int) -> None:
    """A fraud is one of the entity's entries: drop those that left with them."""
    frauds = state.frauds
    if frauds:
        for tx_id in [k for k, (t, _) in frauds.items() if t <= limit]:
            del frauds[tx_id]
    if not frauds:
        state.frauds = None
