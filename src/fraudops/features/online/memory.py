"""The embedded online store: state in this process's memory."""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict, deque
from itertools import pairwise
from sys import intern
from typing import Any

from fraudops.features.online.layout import (
    BackfillData,
    Compute,
    EntityLayout,
    EntityView,
    StoreLayout,
    T,
    TxRecord,
    entries_up_to,
    interned,
)
from fraudops.features.online.packed import Packing
from fraudops.features.online.store import OnlineStore
from fraudops.features.online.times import BEFORE_EVERYTHING
from fraudops.features.online.txindex import TxIndex

# Entities whose last transaction left every window are dropped, a few per call, so one
# call never pays for a large sweep.
_EVICT_PER_CALL = 8
# an entity table longer than this gets a value -> code dict (else list.index is faster)
_LOOKUP_FROM = 48


class _Times:
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
            _forget_frauds(self, limit)

    def add(self, t: int) -> None:
        ts = self.ts
        if not ts or t >= ts[-1]:
            ts.append(t)
        else:  # a late transaction: keep time order
            ts.insert(bisect_right(ts, t), t)


class _Entries:
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
                self._index()
            return len(self.table) - 1

    def _index(self) -> None:
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
            self._index()


def _forget_frauds(state: _Times | _Entries, limit: int) -> None:
    """A fraud is one of the entity's entries: drop those that left with them."""
    frauds = state.frauds
    if frauds:
        for tx_id in [k for k, (t, _) in frauds.items() if t <= limit]:
            del frauds[tx_id]
    if not frauds:
        state.frauds = None


class MemoryOnlineStore(OnlineStore):
    """State in this process's memory (thread-safe; the embedded default)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._now = BEFORE_EVERYTHING
        entities = getattr(self, "layout", None)
        count = len(entities.entities) if entities else 0
        self._states: list[OrderedDict[str, _Times | _Entries]] = [
            OrderedDict() for _ in range(count)
        ]
        self._index = TxIndex(count)
        self._pending: dict[str, int] = {}
        self._pending_order: deque[tuple[int, str]] = deque()

    def configure(self, layout: StoreLayout) -> None:
        super().configure(layout)
        # distinct window edges per entity: each is searched once per transaction
        self._offsets = {
            e.entity: sorted({offset for rng in e.count_ranges for offset in rng})
            for e in layout.entities
        }
        self._packings = [Packing(e) if e.entries else None for e in layout.entities]
        with self._lock:
            self._reset()

    def clear(self) -> None:
        with self._lock:
            self._reset()

    def exchange(self, record: TxRecord, compute: Compute[T]) -> T:
        with self._lock:
            return self._exchange(record, compute)

    def _exchange(self, record: TxRecord, compute: Compute[T]) -> T:
        t = record.ts
        layouts = self.layout.entities
        known = record.tx_id in self._index
        views: list[EntityView] = []
        touched: list[tuple[_Times | _Entries, int] | None] = []
        for layout, packing, states, key in zip(
            layouts, self._packings, self._states, record.keys, strict=True
        ):
            state = states.get(key)
            if state is None:
                views.append(_empty_view(layout))
                touched.append(None)
                continue
            limit = t - layout.retention_us
            frauds = state.frauds
            if packing is not None:
                assert isinstance(state, _Entries)
                # rows that left the longest window are skipped here and dropped when the
                # transaction is added: one rewrite of the packed value per transaction
                times = packing.times(state.data)
                drop = bisect_right(times, limit) if len(times) and times[0] <= limit else 0
                del times
                if drop and frauds:
                    _forget_frauds(state, limit)
                    frauds = state.frauds
                ts, columns = packing.decode(state.data, state.table, drop)
                views.append(EntityView(ts, columns, [], list(frauds.values()) if frauds else []))
                touched.append((state, drop))
                continue
            assert isinstance(state, _Times)
            state.trim(limit)
            frauds = state.frauds
            counts = []
            if layout.count_ranges:
                stamps = state.ts
                at = {  # nothing at or before t - retention is held after the trim
                    offset: 0
                    if offset >= layout.retention_us
                    else entries_up_to(stamps, t - offset)  # type: ignore[arg-type]
                    for offset in self._offsets[layout.entity]
                }
                counts = [at[hi] - at[lo] for lo, hi in layout.count_ranges]
            views.append(
                EntityView(state.ts, [], counts, list(frauds.values()) if frauds else [])  # type: ignore[arg-type]
            )
            touched.append((state, 0))
        result = compute(record, views, known)
        if not known:
            self._add(record, touched)
        if t > self._now:
            self._now = t
            self._evict()
        return result

    def _add(self, record: TxRecord, touched: list[tuple[_Times | _Entries, int] | None]) -> None:
        t = record.ts
        pending = self._pending.pop(record.tx_id, None)
        for layout, packing, states, key, values, existing in zip(
            self.layout.entities,
            self._packings,
            self._states,
            record.keys,
            record.stored,
            touched,
            strict=True,
        ):
            drop = 0
            state: _Times | _Entries
            if existing is None:
                state = states[key] = _Entries(packing) if packing else _Times()
            else:
                state, drop = existing
                states.move_to_end(key)
            if packing is not None:
                assert isinstance(state, _Entries)
                state.add(packing, drop, t, values)
            else:
                assert isinstance(state, _Times)
                state.add(t)
            if pending is not None and layout.frauds:
                if state.frauds is None:
                    state.frauds = {}
                state.frauds[record.tx_id] = (t, max(pending, t))
        self._index.add(record.tx_id, t, record.keys)

    def _rows(self, slot: int, state: _Times | _Entries) -> int:
        packing = self._packings[slot]
        if packing is not None:
            assert isinstance(state, _Entries)
            return packing.rows(state.data)
        assert isinstance(state, _Times)
        return len(state.ts)

    def _last(self, slot: int, state: _Times | _Entries) -> int:
        packing = self._packings[slot]
        if packing is not None:
            assert isinstance(state, _Entries)
            return state.last(packing)
        assert isinstance(state, _Times)
        return state.last()

    def _evict(self) -> None:
        now = self._now
        for slot, (layout, states) in enumerate(
            zip(self.layout.entities, self._states, strict=True)
        ):
            limit = now - layout.retention_us
            for _ in range(_EVICT_PER_CALL):
                if not states:
                    break
                key, state = next(iter(states.items()))
                if self._last(slot, state) > limit:
                    break
                del states[key]
        self._index.evict_before(now - self.layout.index_retention_us)
        limit = now - self.layout.pending_retention_us
        pending = self._pending_order
        while pending and pending[0][0] <= limit:
            _, tx_id = pending.popleft()
            self._pending.pop(tx_id, None)

    def add_fraud_label(self, tx_id: str, reported_us: int) -> bool:
        with self._lock:
            entry = self._index.get(tx_id)
            if entry is None:
                current = self._pending.get(tx_id)
                if current is None or reported_us < current:
                    self._pending[tx_id] = reported_us
                    self._pending_order.append((reported_us, tx_id))
                return False
            ts, keys = entry
            known_at = max(reported_us, ts)
            for layout, states, key in zip(self.layout.entities, self._states, keys, strict=True):
                if not layout.frauds or ts <= self._now - layout.retention_us:
                    continue  # a fraud that left every window can never count again
                state = states.get(key)
                if state is None:
                    continue
                if state.frauds is None:
                    state.frauds = {}
                previous = state.frauds.get(tx_id)
                if previous is None or known_at < previous[1]:
                    state.frauds[tx_id] = (ts, known_at)
            return True

    def knows(self, tx_id: str) -> bool:
        with self._lock:
            return tx_id in self._index

    def load(self, data: BackfillData) -> None:
        with self._lock:
            seen = self._index
            for _layout, packing, states, entries, frauds in zip(
                self.layout.entities,
                self._packings,
                self._states,
                data.entries,
                data.frauds,
                strict=True,
            ):
                # least recently active first, so eviction finds stale entities at the front
                for loaded_key, (tx_ids, times, columns) in sorted(
                    entries.items(), key=lambda kv: kv[1][1][-1]
                ):
                    key = intern(loaded_key)  # one copy, shared with the index
                    # loading the same history twice adds nothing
                    fresh = [p for p, tx_id in enumerate(tx_ids) if tx_id not in seen]
                    state = states.get(key)
                    if packing is None:
                        if not isinstance(state, _Times):
                            state = _Times()
                        for position in fresh:
                            state.add(times[position])
                    else:
                        state = self._merged(packing, state, fresh, times, columns)
                    states[key] = state
                    states.move_to_end(key)
                for key, by_tx in frauds.items():
                    fraud_state = states.get(key)
                    if fraud_state is not None:
                        if fraud_state.frauds is None:
                            fraud_state.frauds = {}
                        fraud_state.frauds.update(by_tx)
            for tx_id, t, keys in data.index:
                if tx_id not in seen:
                    self._index.add(tx_id, t, tuple(intern(k) for k in keys))
            for tx_id, reported in data.pending.items():
                current = self._pending.get(tx_id)
                if current is None or reported < current:
                    self._pending[tx_id] = reported
                    self._pending_order.append((reported, tx_id))
            self._now = max(self._now, data.now_us)

    @staticmethod
    def _merged(
        packing: Packing,
        state: _Times | _Entries | None,
        fresh: list[int],
        times: list[int],
        columns: list[list[Any]],
    ) -> _Entries:
        """``state``'s rows and the ``fresh`` positions of the loaded ones, packed at once
        in time order (held rows first among equal times, as one-by-one adds would)."""
        merged = _Entries(packing)
        ts: list[int] = []
        values: list[list[Any]] = [[] for _ in packing.kinds]
        if isinstance(state, _Entries):
            ts, values = packing.decode(state.data, state.table)
            merged.frauds = state.frauds
        ts += [times[p] for p in fresh]
        for held, loaded in zip(values, columns, strict=True):
            held += [interned(loaded[p]) for p in fresh]
        if any(a > b for a, b in pairwise(ts)):
            order = sorted(range(len(ts)), key=ts.__getitem__)
            ts = [ts[k] for k in order]
            values = [[column[k] for k in order] for column in values]
        merged.data, merged.table = packing.pack(ts, values)
        merged._index()
        return merged

    def ping(self) -> bool:
        return True

    def size(self) -> dict[str, int]:
        """Entries held, per entity type and index (to check that state stays bounded)."""
        with self._lock:
            sizes = {
                layout.entity: sum(self._rows(slot, s) for s in states.values())
                for slot, (layout, states) in enumerate(
                    zip(self.layout.entities, self._states, strict=True)
                )
            }
            sizes["index"] = len(self._index)
            sizes["pending"] = len(self._pending)
            return sizes


def _empty_view(layout: EntityLayout) -> EntityView:
    return EntityView([], [[] for _ in layout.kinds], [0] * len(layout.count_ranges), [])
