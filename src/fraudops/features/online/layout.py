"""What each entity's state holds, derived from the spec (shared by all backends), and
the records and views the stores exchange with the engine."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from sys import intern
from typing import Any, TypeVar

from fraudops.features.definition import ENTITIES, LABEL_KINDS, NUMERIC_COLUMNS, FeatureDef, Filter
from fraudops.features.online.times import duration_us
from fraudops.features.spec import LABEL_HORIZON

T = TypeVar("T")


@dataclass(frozen=True)
class EntityLayout:
    """What the store keeps for one entity type."""

    entity: str
    retention_us: int
    columns: tuple[str, ...]  # values stored per transaction (entries mode)
    filters: tuple[Filter, ...]  # boolean flags stored per transaction (entries mode)
    entries: bool  # keep and return whole entries (else only times, counted in the store)
    frauds: bool  # keep fraud labels (time, known_at)
    count_ranges: tuple[tuple[int, int], ...]  # (lo, hi): count entries with t-lo < ts <= t-hi

    @property
    def kinds(self) -> tuple[str, ...]:
        """How each stored field decodes: 'float', 'str' or 'flag'."""
        return tuple("float" if c in NUMERIC_COLUMNS else "str" for c in self.columns) + (
            ("flag",) * len(self.filters)
        )


@dataclass(frozen=True)
class StoreLayout:
    namespace: str
    entities: tuple[EntityLayout, ...]
    index_retention_us: int
    pending_retention_us: int


def build_layout(features: Sequence[FeatureDef], namespace: str) -> StoreLayout:
    entities = []
    for entity in ENTITIES:
        defs = [f for f in features if f.windowed and f.entity == entity]
        if not defs:
            continue
        columns: list[str] = []
        filters: list[Filter] = []
        entries = False
        ranges: list[tuple[int, int]] = []
        for f in defs:
            counts_only = f.kind in LABEL_KINDS or (f.kind == "count" and f.where is None)
            if counts_only:
                assert f.window is not None
                rng = (duration_us(f.window + f.delay), duration_us(f.delay))
                if rng not in ranges:
                    ranges.append(rng)
            else:
                entries = True
            if f.column and f.column not in columns:
                columns.append(f.column)
            if f.where and f.where not in filters:
                filters.append(f.where)
        entities.append(
            EntityLayout(
                entity=entity,
                retention_us=max(duration_us(f.retention) for f in defs),
                columns=tuple(columns) if entries else (),
                filters=tuple(filters) if entries else (),
                entries=entries,
                frauds=any(f.kind in LABEL_KINDS for f in defs),
                count_ranges=() if entries else tuple(ranges),
            )
        )
    longest = max((e.retention_us for e in entities), default=0)
    return StoreLayout(
        namespace=namespace,
        entities=tuple(entities),
        # a fraud label changes features only while its transaction is inside a window;
        # a later chargeback goes to the label feed (training) but needs no index entry
        index_retention_us=longest,
        pending_retention_us=duration_us(LABEL_HORIZON),
    )


@dataclass
class TxRecord:
    """A parsed transaction: what the store needs to read and update its state."""

    tx_id: str
    ts: int
    keys: tuple[str, ...]  # one key per layout entity
    stored: tuple[tuple[Any, ...], ...]  # per layout entity: column values then filter flags
    fields: dict[str, Any]


class EntityView:
    """An entity's state as of just before the current transaction: times (a sequence of
    ints, oldest first), columns in layout kind order (floats, strings or None, filter
    flags as 0/1), window counts of a counts-only entity, frauds ``(time, known_at)``."""

    __slots__ = ("columns", "counts", "frauds", "ts")

    def __init__(
        self,
        ts: list[int],
        columns: list[list[Any]],
        counts: list[int],
        frauds: list[tuple[int, int]],
    ) -> None:
        self.ts = ts
        self.columns = columns
        self.counts = counts
        self.frauds = frauds


Compute = Callable[[TxRecord, list[EntityView], bool], T]


@dataclass
class BackfillData:
    """State to load in bulk, prepared from history with polars."""

    now_us: int
    # per layout entity: key -> (transaction ids, times, stored field lists), oldest first
    entries: list[dict[str, tuple[list[str], list[int], list[list[Any]]]]]
    # per layout entity: key -> {tx_id: (time, known_at)}
    frauds: list[dict[str, dict[str, tuple[int, int]]]]
    index: list[tuple[str, int, tuple[str, ...]]]  # (tx_id, time, keys)
    pending: dict[str, int]  # labels of transactions not in the history


def entries_up_to(ts: list[int], limit: int) -> int:
    """Entries with ts <= limit (in-order traffic: usually all of them, no search)."""
    n = len(ts)
    if not n or ts[-1] <= limit:
        return n
    return bisect_right(ts, limit)


def interned(value: Any) -> Any:
    return intern(value) if type(value) is str else value


def stored_value(column: str, value: Any) -> Any:
    """What the state keeps for a missing value: windowed aggregates read a missing number
    as 0, as the offline engine does."""
    if value is None and column in NUMERIC_COLUMNS:
        return 0.0
    return value
