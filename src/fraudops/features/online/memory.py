"""The embedded online store: state in this process's memory."""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict, deque
from itertools import pairwise
from sys import intern
from typing import Any

import numpy as np

from fraudops.features.online.batch import BatchKernel, BatchRows
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
from fraudops.features.online.memory_batch import commit, gather, may_meet_eviction
from fraudops.features.online.memory_state import Entries, Times, forget_frauds
from fraudops.features.online.packed import Packing
from fraudops.features.online.store import OnlineStore
from fraudops.features.online.times import BEFORE_EVERYTHING
from fraudops.features.online.txindex import TxIndex

# Entities whose last transaction left every window are dropped, a few per call, so one
# call never pays for a large sweep.
_EVICT_PER_CALL = 8


class MemoryOnlineStore(OnlineStore):
    """State in this process's memory (thread-safe; the embedded default)."""

    batches = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._now = BEFORE_EVERYTHING
        entities = getattr(self, "layout", None)
        count = len(entities.entities) if entities else 0
        self._states: list[OrderedDict[str, Times | Entries]] = [
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
        touched: list[tuple[Times | Entries, int] | None] = []
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
                assert isinstance(state, Entries)
                # rows that left the longest window are skipped here and dropped when the
                # transaction is added: one rewrite of the packed value per transaction
                times = packing.times(state.data)
                drop = bisect_right(times, limit) if len(times) and times[0] <= limit else 0
                del times
                if drop and frauds:
                    forget_frauds(state, limit)
                    frauds = state.frauds
                ts, columns = packing.decode(state.data, state.table, drop)
                views.append(EntityView(ts, columns, [], list(frauds.values()) if frauds else []))
                touched.append((state, drop))
                continue
            assert isinstance(state, Times)
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

    def exchange_batch(self, rows: BatchRows, kernel: BatchKernel) -> np.ndarray | None:
        with self._lock:
            ids = rows.tx_ids
            index, pending = self._index, self._pending
            if (
                len(set(ids)) < len(ids)
                or any(tx_id in index for tx_id in ids)
                or (pending and any(tx_id in pending for tx_id in ids))
            ):
                return None  # retries and labels waiting for their transaction
            # the store's clock before each transaction: single calls evict by it
            clock = np.maximum.accumulate(np.concatenate(([self._now], rows.ts)))
            gathered = []
            for packing, states, keys, stored, layout in zip(
                self._packings,
                self._states,
                rows.keys,
                rows.stored,
                self.layout.entities,
                strict=True,
            ):
                entity = gather(packing, states, keys, rows.ts, stored)
                if entity is None or may_meet_eviction(
                    entity, rows.ts, clock[:-1], layout.retention_us
                ):
                    return None
                gathered.append(entity)
            out = kernel.compute(rows, [g.history for g in gathered])
            if out is None:
                return None
            for entity, packing, states, layout, keys in zip(
                gathered, self._packings, self._states, self.layout.entities, rows.keys, strict=True
            ):
                commit(entity, packing, states, layout.retention_us)
                for key in keys:
                    states.move_to_end(key)  # eviction order: by last transaction
            times = rows.ts.tolist()
            for tx_id, t, tx_keys in zip(ids, times, zip(*rows.keys, strict=True), strict=True):
                index.add(tx_id, t, tx_keys)
            # a single call evicts a few stale entities whenever its time is the latest
            advanced = int(np.count_nonzero(clock[1:] > clock[:-1]))
            if advanced:
                self._now = int(clock[-1])
                self._evict(_EVICT_PER_CALL * advanced)
            return out

    def _add(self, record: TxRecord, touched: list[tuple[Times | Entries, int] | None]) -> None:
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
            state: Times | Entries
            if existing is None:
                state = states[key] = Entries(packing) if packing else Times()
            else:
                state, drop = existing
                states.move_to_end(key)
            if packing is not None:
                assert isinstance(state, Entries)
                state.add(packing, drop, t, values)
            else:
                assert isinstance(state, Times)
                state.add(t)
            if pending is not None and layout.frauds:
                if state.frauds is None:
                    state.frauds = {}
                state.frauds[record.tx_id] = (t, max(pending, t))
        self._index.add(record.tx_id, t, record.keys)

    def _rows(self, slot: int, state: Times | Entries) -> int:
        packing = self._packings[slot]
        if packing is not None:
            assert isinstance(state, Entries)
            return packing.rows(state.data)
        assert isinstance(state, Times)
        return len(state.ts)

    def _last(self, slot: int, state: Times | Entries) -> int:
        packing = self._packings[slot]
        if packing is not None:
            assert isinstance(state, Entries)
            return state.last(packing)
        assert isinstance(state, Times)
        return state.last()

    def _evict(self, budget: int = _EVICT_PER_CALL) -> None:
        now = self._now
        for slot, (layout, states) in enumerate(
            zip(self.layout.entities, self._states, strict=True)
        ):
            limit = now - layout.retention_us
            for _ in range(budget):
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
                        if not isinstance(state, Times):
                            state = Times()
                        loaded = [times[position] for position in fresh]  # oldest first
                        if state.ts and loaded and loaded[0] < state.ts[-1]:
                            # interleaved with held times: one stable sort (held first
                            # among equal times, as adds one by one would), not an
                            # insertion per time — quadratic for a merchant with millions
                            state.ts = array("q", sorted([*state.ts, *loaded]))
                        else:
                            state.ts.extend(loaded)
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
        state: Times | Entries | None,
        fresh: list[int],
        times: list[int],
        columns: list[list[Any]],
    ) -> Entries:
        """``state``'s rows and the ``fresh`` positions of the loaded ones, packed at once
        in time order (held rows first among equal times, as one-by-one adds would)."""
        merged = Entries(packing)
        ts: list[int] = []
        values: list[list[Any]] = [[] for _ in packing.kinds]
        if isinstance(state, Entries):
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
        merged.reindex()
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
