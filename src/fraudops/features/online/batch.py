"""Online features for a whole batch in one pass.

Scoring 1,000 transactions one by one runs the compiled blocks of :mod:`.engine` 1,000
times, each over a freshly built view of its entities' state. Here the store is asked
once per transaction only for what it alone knows (whether the id is new, the windowed
counts it keeps, the frauds known so far) and, at each entity's first transaction in the
batch, for that entity's entries; the entries every later transaction of the batch sees
are that snapshot plus the batch's own earlier transactions of the same entity. Windows
are then found for every transaction at once (one ``searchsorted`` over all entities) and
the features read slices of one merged list per column.

The result is the one of the transactions processed one after another, in order: an
earlier transaction of the batch is history for a later one of the same card. That needs
each entity's transactions in the batch in time order (the common case: a batch is a
slice of a stream); :func:`in_time_order` says when it holds, and otherwise the engine
processes the batch one transaction at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any

import numpy as np

from fraudops.features.definition import LABEL_KINDS, FeatureDef
from fraudops.features.online.blocks import context_value
from fraudops.features.online.layout import EntityView, StoreLayout, TxRecord
from fraudops.features.online.times import duration_us


@dataclass
class Seen:
    """What the store answered at one transaction of the batch."""

    known: bool  # its id was already indexed (a retry): scored, not added again
    counts: list[list[int]]  # per entity: the windowed counts the store keeps
    frauds: list[list[tuple[int, int]]]  # per entity: (time, known_at) of its frauds
    # per entity: its entries (times, columns), when this is the entity's first
    # transaction in the batch, else None
    entries: list[tuple[list[int], list[list[Any]]] | None]


def seen_capture(layout: StoreLayout) -> Callable[[TxRecord, list[EntityView], bool], Seen]:
    """A ``Compute`` for ``OnlineStore.exchange_many`` that keeps what a batch needs: the
    entries of an entity are copied once (the memory store's lists live on)."""
    entries_mode = [e.entries for e in layout.entities]
    first: list[set[str]] = [set() for _ in layout.entities]

    def capture(record: TxRecord, views: list[EntityView], known: bool) -> Seen:
        entries: list[tuple[list[int], list[list[Any]]] | None] = []
        for e, (key, view) in enumerate(zip(record.keys, views, strict=True)):
            if entries_mode[e] and key not in first[e]:
                first[e].add(key)
                entries.append((list(view.ts), [list(c) for c in view.columns]))
            else:
                entries.append(None)
        return Seen(known, [v.counts for v in views], [v.frauds for v in views], entries)

    return capture


def in_time_order(records: Sequence[TxRecord], layout: StoreLayout) -> bool:
    """Whether every entries-keeping entity's transactions come in time order."""
    for e, entity in enumerate(layout.entities):
        if not entity.entries:
            continue
        last: dict[str, int] = {}
        for r in records:
            key = r.keys[e]
            if r.ts < last.get(key, r.ts):
                return False
            last[key] = r.ts
    return True


@dataclass
class _Merged:
    """One entity's entries for the batch: per key a sentinel, the snapshot, then the
    batch's added transactions, all keys one after another."""

    ts: np.ndarray
    columns: list[list[Any]]
    group: np.ndarray  # per entry: its key's number
    position: np.ndarray  # per record: where its own entry is (or would be)
    record_group: np.ndarray  # per record: its key's number


class BatchKernel:
    """The spec's features compiled for batches (same semantics as :mod:`.blocks`)."""

    def __init__(self, features: Sequence[FeatureDef], layout: StoreLayout) -> None:
        self.features = tuple(features)
        self.layout = layout
        position = {entity.entity: i for i, entity in enumerate(layout.entities)}
        self.context = [(i, context_value(f)) for i, f in enumerate(features) if not f.windowed]
        self.windowed: list[tuple[int, FeatureDef, int]] = []
        for i, f in enumerate(features):
            if f.windowed:
                assert f.entity is not None
                self.windowed.append((i, f, position[f.entity]))
        # per entries entity: the window edges (offsets from t) searched for every record
        self.offsets: dict[int, list[int]] = {}
        for _, f, e in self.windowed:
            if layout.entities[e].entries:
                assert f.window is not None
                edges = self.offsets.setdefault(e, [])
                for offset in (duration_us(f.window + f.delay), duration_us(f.delay)):
                    if offset not in edges:
                        edges.append(offset)

    def compute(self, records: Sequence[TxRecord], seen: Sequence[Seen]) -> np.ndarray:
        n = len(records)
        out = np.zeros((n, len(self.features)), dtype=np.float64)
        for i, value in self.context:
            out[:, i] = [value(r) for r in records]
        ts = np.fromiter((r.ts for r in records), dtype=np.int64, count=n)
        merged: dict[int, _Merged] = {}
        edges: dict[tuple[int, int], np.ndarray] = {}
        for e, offsets in self.offsets.items():
            merged[e] = m = self._merge(e, records, seen)
            found = self._search(m, [ts - o for o in offsets])
            edges.update(((e, o), ends) for o, ends in zip(offsets, found, strict=True))
        cache: dict[tuple[Any, ...], tuple[np.ndarray, ...]] = {}  # this batch's window stats
        for i, f, e in self.windowed:
            entity = self.layout.entities[e]
            if f.kind in LABEL_KINDS:
                out[:, i] = self._labelled(f, e, records, seen, edges)
            elif not entity.entries:
                assert f.window is not None
                r_index = entity.count_ranges.index(
                    (duration_us(f.window + f.delay), duration_us(f.delay))
                )
                counts = np.fromiter((s.counts[e][r_index] for s in seen), np.float64, n)
                out[:, i] = counts + f.include_current
            else:
                out[:, i] = self._windowed(f, e, records, merged[e], edges, cache)
        return out

    # -- entries ------------------------------------------------------------------------

    def _merge(self, e: int, records: Sequence[TxRecord], seen: Sequence[Seen]) -> _Merged:
        width = len(self.layout.entities[e].kinds)
        ts: list[int] = []
        columns: list[list[Any]] = [[] for _ in range(width)]
        rows: dict[str, list[int]] = {}
        for j, r in enumerate(records):
            rows.setdefault(r.keys[e], []).append(j)
        position = [0] * len(records)
        record_group = [0] * len(records)
        sizes = []
        deepest = max(self.offsets[e])
        for number, members in enumerate(rows.values()):
            snapshot = seen[members[0]].entries[e]
            assert snapshot is not None
            before_ts, before_columns = snapshot
            first = records[members[0]].ts
            start = len(ts)
            # a sentinel older than every window: "no previous entry" without a branch
            ts.append(min(first - deepest, before_ts[0]) - 1 if before_ts else first - deepest - 1)
            for column in columns:
                column.append(None)
            # per entry: (time, stored values, record or -1 for history)
            if before_ts and before_ts[-1] > first:
                # history newer than the batch: entries in time order, equal times in
                # arrival order (as the store inserts a late transaction)
                order = sorted(
                    [(t, -1, k) for k, t in enumerate(before_ts)]
                    + [(records[j].ts, j, -1) for j in members]
                )
                merged = [
                    (t, [c[k] for c in before_columns] if j < 0 else records[j].stored[e], j)
                    for t, j, k in order
                ]
            else:  # the usual case: the whole history, then the batch
                ts += before_ts
                for column, source in zip(columns, before_columns, strict=True):
                    column.extend(source)
                merged = [(records[j].ts, records[j].stored[e], j) for j in members]
            for t, values, j in merged:
                if j >= 0:
                    position[j] = len(ts)
                    record_group[j] = number
                    if seen[j].known:
                        continue
                ts.append(t)
                for column, value in zip(columns, values, strict=True):
                    column.append(value)
            sizes.append(len(ts) - start)
        group = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        return _Merged(
            np.array(ts, dtype=np.int64),
            columns,
            group,
            np.array(position, dtype=np.int64),
            np.array(record_group, dtype=np.int64),
        )

    @staticmethod
    def _search(m: _Merged, limits: list[np.ndarray]) -> list[np.ndarray]:
        """Per limit array, per record: the end of its key's visible entries with
        ts <= its limit."""
        # rank times and limits together, then one search over (group, rank) keys
        n = len(m.ts)
        _, rank = np.unique(np.concatenate([m.ts, *limits]), return_inverse=True)
        stride = int(rank.max()) + 1
        keys = m.group * stride + rank[:n]
        found = []
        for k in range(len(limits)):
            queries = (
                m.record_group * stride
                + rank[n + k * len(m.position) : n + (k + 1) * len(m.position)]
            )
            found.append(np.minimum(np.searchsorted(keys, queries, side="right"), m.position))
        return found

    def _windowed(
        self,
        f: FeatureDef,
        e: int,
        records: Sequence[TxRecord],
        m: _Merged,
        edges: dict[tuple[int, int], np.ndarray],
        cache: dict[tuple[Any, ...], tuple[np.ndarray, ...]],
    ) -> np.ndarray:
        assert f.window is not None
        entity = self.layout.entities[e]
        starts = edges[(e, duration_us(f.window + f.delay))]
        ends = edges[(e, duration_us(f.delay))]
        inc = f.include_current
        c = entity.columns.index(f.column) if f.column else -1
        g = len(entity.columns) + entity.filters.index(f.where) if f.where else -1
        kind = f.kind
        if kind == "count" and g < 0:
            return (ends - starts + inc).astype(np.float64)
        if kind == "seconds_since_prev":
            t = np.fromiter((r.ts for r in records), dtype=np.int64, count=len(records))
            gap = (t - m.ts[ends - 1]) / 1_000_000
            return np.minimum(gap, f.window.total_seconds())
        flags = m.columns[g] if g >= 0 else None
        column = m.columns[c] if c >= 0 else []
        if kind in ("sum", "mean", "max", "ratio_to_mean"):
            key = (e, f.window, f.delay, c, g, inc)
            if key not in cache:
                cache[key] = self._numeric_stats(f, e, records, m, starts, ends)
            return _numeric(kind, *cache[key])
        values = []
        for r, s, end in zip(records, starts.tolist(), ends.tolist(), strict=True):
            current = r.stored[e]
            if kind == "count":
                assert flags is not None
                values.append(float(sum(flags[s:end]) + (inc and current[g])))
                continue
            window = column[s:end]
            if kind == "is_new":  # the single path reads the whole window here, unfiltered
                values.append(0.0 if current[c] is None or current[c] in window else 1.0)
                continue
            if flags is not None:
                window = list(compress(window, flags[s:end]))
            distinct = set(window)
            if inc and (g < 0 or current[g]):
                distinct.add(current[c])
            distinct.discard(None)
            values.append(float(len(distinct)))
        return np.array(values, dtype=np.float64)

    def _numeric_stats(
        self,
        f: FeatureDef,
        e: int,
        records: Sequence[TxRecord],
        m: _Merged,
        starts: np.ndarray,
        ends: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        """Count, sum (added in the store's order: the single path's floats, bit for bit),
        max and current value of one column over one window, shared by the features that
        read it."""
        assert f.window is not None
        entity = self.layout.entities[e]
        c = entity.columns.index(f.column or "")
        g = len(entity.columns) + entity.filters.index(f.where) if f.where else -1
        column, flags = m.columns[c], (m.columns[g] if g >= 0 else None)
        counts, totals, maxima, currents = [], [], [], []
        for r, s, end in zip(records, starts.tolist(), ends.tolist(), strict=True):
            window = column[s:end]
            if flags is not None:
                window = list(compress(window, flags[s:end]))
            current = r.stored[e][c]
            if f.include_current and (g < 0 or r.stored[e][g]):
                window.append(current)
            counts.append(len(window))
            totals.append(float(sum(window)))
            maxima.append(float(max(window)) if window else 0.0)
            currents.append(current)
        return (
            np.array(counts, dtype=np.float64),
            np.array(totals, dtype=np.float64),
            np.array(maxima, dtype=np.float64),
            np.array(currents, dtype=np.float64),
        )

    # -- labels -------------------------------------------------------------------------

    def _labelled(
        self,
        f: FeatureDef,
        e: int,
        records: Sequence[TxRecord],
        seen: Sequence[Seen],
        edges: dict[tuple[int, int], np.ndarray],
    ) -> np.ndarray:
        assert f.window is not None
        entity = self.layout.entities[e]
        lo, hi = duration_us(f.window + f.delay), duration_us(f.delay)
        out = np.zeros(len(records), dtype=np.float64)
        if f.kind == "fraud_rate":
            if entity.entries:
                counts = (edges[(e, hi)] - edges[(e, lo)]).tolist()
            else:
                r_index = entity.count_ranges.index((lo, hi))
                counts = [s.counts[e][r_index] for s in seen]
        for j, (r, s) in enumerate(zip(records, seen, strict=True)):
            if not s.frauds[e]:
                continue  # no fraud: count and rate are 0
            t = r.ts
            found = sum(
                1 for fts, known_at in s.frauds[e] if known_at <= t and t - lo < fts <= t - hi
            )
            if f.kind == "fraud_count":
                out[j] = float(found)
            else:
                out[j] = found / counts[j] if counts[j] else 0.0
        return out


def _numeric(
    kind: str, n: np.ndarray, total: np.ndarray, maxima: np.ndarray, current: np.ndarray
) -> np.ndarray:
    """Sum, mean, max or ratio-to-mean from a window's stats (IEEE division, as in
    :func:`.blocks.numeric_block`)."""
    if kind == "sum":
        return total
    if kind == "max":
        return maxima
    mean = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
    if kind == "mean":
        return mean
    return np.divide(current, mean, out=np.ones_like(mean), where=mean > 0)
