"""The embedded online store: state in this process's memory."""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict, deque
from sys import intern
from typing import Any

from fraudops.features.online.layout import (
    BackfillData,
    Compute,
    EntityView,
    StoreLayout,
    T,
    TxRecord,
    entries_up_to,
    interned,
)
from fraudops.features.online.store import OnlineStore
from fraudops.features.online.times import BEFORE_EVERYTHING

# Entities whose last transaction left every window are dropped, a few per call, so one
# call never pays for a large sweep.
_EVICT_PER_CALL = 8


class _State:
    """One entity's state in memory: parallel lists, oldest first."""

    __slots__ = ("columns", "frauds", "ts")

    def __init__(self, width: int) -> None:
        self.ts: list[int] = []
        self.columns: list[list[Any]] = [[] for _ in range(width)]
        self.frauds: dict[str, tuple[int, int]] = {}

    def trim(self, limit: int) -> None:
        """Drop entries with ts <= limit (and their frauds: a fraud is one of the entries,
        so frauds only need a look when entries were dropped)."""
        ts = self.ts
        if ts and ts[0] <= limit:
            cut = bisect_right(ts, limit)
            del ts[:cut]
            for column in self.columns:
                del column[:cut]
            if self.frauds:
                for tx_id in [k for k, (t, _) in self.frauds.items() if t <= limit]:
                    del self.frauds[tx_id]

    def add(self, ts: int, values: tuple[Any, ...]) -> None:
        if not self.ts or ts >= self.ts[-1]:
            self.ts.append(ts)
            for column, value in zip(self.columns, values, strict=True):
                column.append(value)
        else:  # a late transaction: keep time order
            at = bisect_right(self.ts, ts)
            self.ts.insert(at, ts)
            for column, value in zip(self.columns, values, strict=True):
                column.insert(at, value)


class MemoryOnlineStore(OnlineStore):
    """State in this process's memory (thread-safe; the embedded default)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._now = BEFORE_EVERYTHING
        entities = getattr(self, "layout", None)
        count = len(entities.entities) if entities else 0
        self._states: list[OrderedDict[str, _State]] = [OrderedDict() for _ in range(count)]
        self._index: dict[str, tuple[int, tuple[str, ...]]] = {}
        self._index_order: deque[tuple[int, str]] = deque()
        self._pending: dict[str, int] = {}
        self._pending_order: deque[tuple[int, str]] = deque()

    def configure(self, layout: StoreLayout) -> None:
        super().configure(layout)
        # distinct window edges per entity: each is searched once per transaction
        self._offsets = {
            e.entity: sorted({offset for rng in e.count_ranges for offset in rng})
            for e in layout.entities
        }
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
        touched: list[_State | None] = []
        for layout, states, key in zip(layouts, self._states, record.keys, strict=True):
            state = states.get(key)
            if state is None:
                views.append(
                    EntityView([], [[] for _ in layout.kinds], [0] * len(layout.count_ranges), [])
                )
                touched.append(None)
                continue
            state.trim(t - layout.retention_us)
            ts = state.ts
            counts = []
            if layout.count_ranges:
                at = {
                    offset: entries_up_to(ts, t - offset) for offset in self._offsets[layout.entity]
                }
                counts = [at[hi] - at[lo] for lo, hi in layout.count_ranges]
            frauds = list(state.frauds.values()) if state.frauds else []
            views.append(EntityView(ts, state.columns, counts, frauds))
            touched.append(state)
        result = compute(record, views, known)
        if not known:
            self._add(record, touched)
        if t > self._now:
            self._now = t
            self._evict()
        return result

    def _add(self, record: TxRecord, touched: list[_State | None]) -> None:
        t = record.ts
        pending = self._pending.pop(record.tx_id, None)
        for layout, states, key, values, existing in zip(
            self.layout.entities, self._states, record.keys, record.stored, touched, strict=True
        ):
            if existing is None:
                state = states[key] = _State(len(layout.kinds))
            else:
                state = existing
                states.move_to_end(key)
            state.add(t, values)
            if pending is not None and layout.frauds:
                state.frauds[record.tx_id] = (t, max(pending, t))
        self._index[record.tx_id] = (t, record.keys)
        self._index_order.append((t, record.tx_id))

    def _evict(self) -> None:
        now = self._now
        for layout, states in zip(self.layout.entities, self._states, strict=True):
            limit = now - layout.retention_us
            for _ in range(_EVICT_PER_CALL):
                if not states:
                    break
                key, state = next(iter(states.items()))
                if state.ts and state.ts[-1] > limit:
                    break
                del states[key]
        limit = now - self.layout.index_retention_us
        order = self._index_order
        while order and order[0][0] <= limit:
            ts, tx_id = order.popleft()
            entry = self._index.get(tx_id)
            if entry is not None and entry[0] == ts:
                del self._index[tx_id]
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
            for layout, states, entries, frauds in zip(
                self.layout.entities, self._states, data.entries, data.frauds, strict=True
            ):
                # least recently active first, so eviction finds stale entities at the front
                for key, (tx_ids, times, columns) in sorted(
                    entries.items(), key=lambda kv: kv[1][1][-1]
                ):
                    state = states.get(key) or _State(len(layout.kinds))
                    for position, (tx_id, t) in enumerate(zip(tx_ids, times, strict=True)):
                        if tx_id not in seen:  # loading the same history twice adds nothing
                            state.add(t, tuple(interned(c[position]) for c in columns))
                    states[key] = state
                    states.move_to_end(key)
                for key, by_tx in frauds.items():
                    fraud_state = states.get(key)
                    if fraud_state is not None:
                        fraud_state.frauds.update(by_tx)
            for tx_id, t, keys in data.index:
                self._index[tx_id] = (t, tuple(intern(k) for k in keys))
                self._index_order.append((t, tx_id))
            for tx_id, reported in data.pending.items():
                current = self._pending.get(tx_id)
                if current is None or reported < current:
                    self._pending[tx_id] = reported
                    self._pending_order.append((reported, tx_id))
            self._now = max(self._now, data.now_us)

    def ping(self) -> bool:
        return True

    def size(self) -> dict[str, int]:
        """Entries held, per entity type and index (to check that state stays bounded)."""
        with self._lock:
            sizes = {
                layout.entity: sum(len(s.ts) for s in states.values())
                for layout, states in zip(self.layout.entities, self._states, strict=True)
            }
            sizes["index"] = len(self._index)
            sizes["pending"] = len(self._pending)
            return sizes
