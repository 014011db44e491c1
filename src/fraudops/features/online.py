"""Online feature engine: one transaction in, its feature vector out, state updated.

The engine interprets the same declarations as the offline engine
(:mod:`fraudops.features.spec`) with the same semantics, one transaction at a time, over
a small state per entity:

- card (and any entity with per-transaction features): the entity's recent transactions
  (time, the columns its features read, filter flags), oldest first;
- terminal and merchant: the times of their recent transactions (windowed counts) and
  their frauds ``(time, known_at)`` once a label arrives;
- an index ``transaction_id -> (time, entity keys)`` so a label event finds the terminal
  and merchant it concerns, and "pending" labels that arrived before their transaction.

State older than the longest window (plus delay) is evicted; the index is kept for a label
horizon beyond that. Labels may arrive late and out of order: the store keeps each fraud's
report time and a feature at time ``t`` counts it only when ``known_at <= t``, so the
result equals the offline engine whenever every label event is ingested no later than its
``reported_at`` (and transactions are processed in ``(timestamp, transaction_id)`` order).

Backends: :class:`MemoryOnlineStore` (embedded default, one process) and
:class:`RedisOnlineStore` (``redis://``; shared by API replicas; one Lua script call per
transaction reads and updates all of its state atomically).
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import compress
from sys import intern
from typing import Any, TypeVar

import numpy as np
import polars as pl

from fraudops.features.spec import (
    COLUMN_DEFAULTS,
    COLUMN_FALLBACKS,
    EARTH_RADIUS_KM,
    ENTITIES,
    FEATURES,
    LABEL_HORIZON,
    LABEL_KINDS,
    NIGHT_END_HOUR,
    NUMERIC_COLUMNS,
    FeatureDef,
    Filter,
    check_features,
    feature_names,
    spec_hash,
)

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 86_400_000_000
_SEP = "\x1f"  # field separator in Redis members (unit separator: not in ids)
_NULL = "\x00"
# Entities whose last transaction left every window are dropped, a few per call, so one
# call never pays for a large sweep.
_EVICT_PER_CALL = 8
_BEFORE_EVERYTHING = -(1 << 62)  # "no transaction seen yet"


def _us(delta: timedelta) -> int:
    return delta // _ONE_US


def to_epoch_us(value: Any) -> int:
    """Microseconds since the epoch of a datetime (naive = UTC) or an ISO-8601 string."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"timestamp {value!r} is not ISO-8601") from None
    if not isinstance(value, datetime):
        raise ValueError(f"timestamp must be a datetime or an ISO-8601 string, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _ONE_US


# ---------------------------------------------------------------------------------------
# Layout: what each entity's state holds, derived from the spec (shared by all backends)


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
                rng = (_us(f.window + f.delay), _us(f.delay))
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
                retention_us=max(_us(f.retention) for f in defs),
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
        index_retention_us=longest + _us(LABEL_HORIZON),
        pending_retention_us=_us(LABEL_HORIZON),
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
    """An entity's state as of just before the current transaction."""

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


# ---------------------------------------------------------------------------------------
# Stores


class OnlineStore(ABC):
    """Where online state lives. The engine configures it with the spec's layout."""

    layout: StoreLayout

    def configure(self, layout: StoreLayout) -> None:
        self.layout = layout

    @abstractmethod
    def exchange(self, record: TxRecord, compute: Compute[T]) -> T:
        """Call ``compute`` on the state before ``record``, then add ``record`` (atomically)."""

    def exchange_many(self, records: Sequence[TxRecord], compute: Compute[T]) -> list[T]:
        return [self.exchange(r, compute) for r in records]

    @abstractmethod
    def add_fraud_label(self, tx_id: str, reported_us: int) -> bool:
        """Record that ``tx_id`` was reported as fraud at ``reported_us``; True if known."""

    @abstractmethod
    def knows(self, tx_id: str) -> bool:
        """Whether the transaction is in the (bounded) index."""

    @abstractmethod
    def load(self, data: BackfillData) -> None:
        """Bulk-load state prepared from history."""

    @abstractmethod
    def ping(self) -> bool:
        """Whether the store is reachable."""

    def clear(self) -> None:  # noqa: B027 - optional for backends
        """Forget all state of this layout."""

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections."""


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
        self._now = _BEFORE_EVERYTHING
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
                at = {offset: _position(ts, t - offset) for offset in self._offsets[layout.entity]}
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
                            state.add(t, tuple(_interned(c[position]) for c in columns))
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


_RS = "\x1e"  # record separator between entries in a Redis reply


def _exchange_lua(layout: StoreLayout) -> str:
    """The per-transaction script for one layout, with its constants written in.

    KEYS: per entity its entries zset (and its fraud hash when it tracks frauds), then the
    transaction index key and the pending-label key. ARGV: ts (µs), tx_id, index value,
    then one member per entity. The reply is flat strings (known flag, then per entity:
    entries, counts, frauds), cheap to parse on the client. Times are integers below 2**53,
    exact as Lua numbers; ``string.format('%d')`` writes them back without rounding.
    """
    lines = [
        "local t = tonumber(ARGV[1])",
        "local ts = ARGV[1]",
        "local tx_id = ARGV[2]",
        "local RS = '\\30'",
        "local index_key = KEYS[#KEYS - 1]",
        "local pending_key = KEYS[#KEYS]",
        "local known = redis.call('EXISTS', index_key)",
        "local out = {tostring(known)}",
        "local parts, all, limit",
    ]
    writes = []
    k = 1
    for e, entity in enumerate(layout.entities):
        entries_key = f"KEYS[{k}]"
        k += 1
        fraud_key = None
        if entity.frauds:
            fraud_key = f"KEYS[{k}]"
            k += 1
        lines += [
            f"limit = t - {entity.retention_us}",
            f"redis.call('ZREMRANGEBYSCORE', {entries_key}, '-inf', string.format('%d', limit))",
        ]
        if entity.entries:
            lines.append(
                f"out[#out + 1] = table.concat(redis.call('ZRANGE', {entries_key}, 0, -1), RS)"
            )
        else:
            lines.append("out[#out + 1] = ''")
        lines.append("parts = {}")
        for lo, hi in entity.count_ranges:
            lines.append(
                f"parts[#parts + 1] = redis.call('ZCOUNT', {entries_key}, "
                f"string.format('(%d', t - {lo}), string.format('%d', t - {hi}))"
            )
        lines.append("out[#out + 1] = table.concat(parts, ',')")
        if fraud_key:
            lines += [
                "parts = {}",
                f"all = redis.call('HGETALL', {fraud_key})",
                "for i = 1, #all, 2 do",
                "  local value = all[i + 1]",
                "  local sep = string.find(value, ':', 1, true)",
                "  if tonumber(string.sub(value, 1, sep - 1)) <= limit then",
                f"    redis.call('HDEL', {fraud_key}, all[i])",
                "  else",
                "    parts[#parts + 1] = value",
                "  end",
                "end",
                "out[#out + 1] = table.concat(parts, RS)",
            ]
        else:
            lines.append("out[#out + 1] = ''")
        ttl = entity.retention_us // 1000 + 1
        writes += [
            f"  redis.call('ZADD', {entries_key}, ts, ARGV[{4 + e}])",
            f"  redis.call('PEXPIRE', {entries_key}, {ttl})",
        ]
        if fraud_key:
            writes += [
                "  if known_at then",
                f"    redis.call('HSET', {fraud_key}, tx_id, ts .. ':' .. known_at)",
                f"    redis.call('PEXPIRE', {fraud_key}, {ttl})",
                "  end",
            ]
    lines += [
        "if known == 0 then",
        "  local pending = redis.call('GET', pending_key)",
        "  local known_at = false",
        "  if pending then",
        "    known_at = pending",
        "    if tonumber(pending) < t then known_at = ts end",
        "    redis.call('DEL', pending_key)",
        "  end",
        *writes,
        f"  redis.call('SET', index_key, ARGV[3], 'PX', {layout.index_retention_us // 1000 + 1})",
        "end",
        "return out",
    ]
    return "\n".join(lines) + "\n"


_LABEL_LUA = """
-- KEYS: index key, pending key. ARGV: reported_at us, tx_id, pending ttl ms, fraud ttl ms
local entry = redis.call('GET', KEYS[1])
if not entry then
  local current = redis.call('GET', KEYS[2])
  if (not current) or tonumber(ARGV[1]) < tonumber(current) then
    redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
  end
  return 0
end
local parts = {}
for part in string.gmatch(entry, '[^\\31]+') do parts[#parts + 1] = part end
local ts = parts[1]
local known_at = ARGV[1]
if tonumber(known_at) < tonumber(ts) then known_at = ts end
for i = 2, #parts do
  local current = redis.call('HGET', parts[i], ARGV[2])
  local replace = true
  if current then
    local sep = string.find(current, ':', 1, true)
    replace = tonumber(known_at) < tonumber(string.sub(current, sep + 1))
  end
  if replace then
    redis.call('HSET', parts[i], ARGV[2], ts .. ':' .. known_at)
    redis.call('PEXPIRE', parts[i], ARGV[4])
  end
end
return 1
"""


class RedisOnlineStore(OnlineStore):
    """State in Redis, shared by every API replica.

    Per transaction one ``EVALSHA`` reads the state the features need, trims what left the
    longest window, and adds the transaction, atomically (replicas scoring the same card
    at once are serialised by Redis). Keys are namespaced by the spec hash, so a new spec
    version never reads state written under another one. Event-time trimming bounds each
    key; a wall-clock expiry removes keys of entities that stop transacting. The label
    script builds key names from the index, so use a single Redis (not Redis Cluster).
    """

    def __init__(self, uri: str, prefix: str = "fraudops") -> None:
        import redis

        self.uri = uri
        self.prefix = prefix
        self.client = redis.Redis.from_url(uri, decode_responses=True)
        self._label_script = self.client.register_script(_LABEL_LUA)

    def configure(self, layout: StoreLayout) -> None:
        super().configure(layout)
        self._exchange_script = self.client.register_script(_exchange_lua(layout))
        self._ns = f"{self.prefix}:{layout.namespace}:"
        self._kinds = [entity.kinds for entity in layout.entities]

    def _entity_keys(self, layout: EntityLayout, key: str) -> tuple[str, str]:
        base = f"{self._ns}{layout.entity}:{key}"
        return f"{base}:tx", f"{base}:fraud"

    def _script_call(self, record: TxRecord) -> tuple[list[str], list[str]]:
        t = str(record.ts)
        keys: list[str] = []
        fraud_keys: list[str] = []
        members: list[str] = []
        for layout, key, values in zip(
            self.layout.entities, record.keys, record.stored, strict=True
        ):
            entries_key, fraud_key = self._entity_keys(layout, key)
            keys.append(entries_key)
            if layout.frauds:
                keys.append(fraud_key)
                fraud_keys.append(fraud_key)
            if layout.entries:
                member = _SEP.join([record.tx_id, t, *map(_encode, values)])
                if member.count(_SEP) != len(values) + 1 or _RS in member:
                    raise ValueError(
                        f"transaction {record.tx_id!r}: ids and categories must not contain "
                        "the control characters \\x1e or \\x1f"
                    )
                members.append(member)
            else:
                members.append(record.tx_id)
        keys += [f"{self._ns}idx:{record.tx_id}", f"{self._ns}pending:{record.tx_id}"]
        return keys, [t, record.tx_id, _SEP.join([t, *fraud_keys]), *members]

    def _views(self, reply: list[str]) -> tuple[list[EntityView], bool]:
        views = []
        for e, kinds in enumerate(self._kinds):
            entries, counts, frauds = reply[1 + 3 * e : 4 + 3 * e]
            ts: list[int] = []
            columns: list[list[Any]] = [[] for _ in kinds]
            if entries:
                # one flat split, then every field of a column by slicing (C speed)
                flat = entries.replace(_RS, _SEP).split(_SEP)
                width = 2 + len(kinds)
                ts = list(map(int, flat[1::width]))
                columns = [
                    _decode_column(kind, flat[2 + i :: width]) for i, kind in enumerate(kinds)
                ]
            fraud_pairs: list[tuple[int, int]] = []
            if frauds:
                for value in frauds.split(_RS):
                    fts, known_at = value.split(":")
                    fraud_pairs.append((int(fts), int(known_at)))
            views.append(
                EntityView(
                    ts, columns, [int(c) for c in counts.split(",")] if counts else [], fraud_pairs
                )
            )
        return views, reply[0] == "1"

    def exchange(self, record: TxRecord, compute: Compute[T]) -> T:
        keys, args = self._script_call(record)
        reply = self._exchange_script(keys=keys, args=args)
        views, known = self._views(reply)
        return compute(record, views, known)

    def exchange_many(self, records: Sequence[TxRecord], compute: Compute[T]) -> list[T]:
        # scripts run in order on the server, so one pipeline keeps sequential semantics
        pipe = self.client.pipeline(transaction=False)
        for record in records:
            keys, args = self._script_call(record)
            self._exchange_script(keys=keys, args=args, client=pipe)
        results = []
        for record, reply in zip(records, pipe.execute(), strict=True):
            views, known = self._views(reply)
            results.append(compute(record, views, known))
        return results

    def add_fraud_label(self, tx_id: str, reported_us: int) -> bool:
        ns = self._ns
        longest = max((e.retention_us for e in self.layout.entities), default=0)
        reply = self._label_script(
            keys=[f"{ns}idx:{tx_id}", f"{ns}pending:{tx_id}"],
            args=[
                str(reported_us),
                tx_id,
                str(self.layout.pending_retention_us // 1000 + 1),
                str(longest // 1000 + 1),
            ],
        )
        return bool(reply)

    def knows(self, tx_id: str) -> bool:
        return bool(self.client.exists(f"{self._ns}idx:{tx_id}"))

    def load(self, data: BackfillData, batch: int = 5_000) -> None:
        pipe = self.client.pipeline(transaction=False)
        queued = 0

        def flush(force: bool = False) -> None:
            nonlocal queued
            if queued >= batch or (force and queued):
                pipe.execute()
                queued = 0

        for layout, entries, frauds in zip(
            self.layout.entities, data.entries, data.frauds, strict=True
        ):
            ttl = layout.retention_us // 1000 + 1
            for key, (tx_ids, times, columns) in entries.items():
                entries_key, _ = self._entity_keys(layout, key)
                mapping: dict[str | bytes, float] = {}
                for position, (tx_id, t) in enumerate(zip(tx_ids, times, strict=True)):
                    if layout.entries:
                        values = [_encode(column[position]) for column in columns]
                        member = _SEP.join([tx_id, str(t), *values])
                    else:
                        member = tx_id
                    mapping[member] = t
                pipe.zadd(entries_key, mapping)
                pipe.pexpire(entries_key, ttl)
                queued += 1
                flush()
            for key, by_tx in frauds.items():
                _, fraud_key = self._entity_keys(layout, key)
                pipe.hset(
                    fraud_key,
                    mapping={tx: f"{t}:{known_at}" for tx, (t, known_at) in by_tx.items()},
                )
                pipe.pexpire(fraud_key, ttl)
                queued += 1
                flush()
        ns = self._ns
        index_ttl = self.layout.index_retention_us // 1000 + 1
        fraud_layouts = [e for e in self.layout.entities if e.frauds]
        for tx_id, t, keys in data.index:
            fraud_keys = [
                self._entity_keys(layout, key)[1]
                for layout, key in zip(self.layout.entities, keys, strict=True)
                if layout in fraud_layouts
            ]
            pipe.set(f"{ns}idx:{tx_id}", _SEP.join([str(t), *fraud_keys]), px=index_ttl)
            queued += 1
            flush()
        for tx_id, reported in data.pending.items():
            pipe.set(
                f"{ns}pending:{tx_id}", str(reported), px=self.layout.pending_retention_us // 1000
            )
            queued += 1
            flush()
        flush(force=True)

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:  # any connection failure means "not ready"
            return False

    def clear(self) -> None:
        cursor = 0
        while True:
            cursor, keys = self.client.scan(cursor, match=f"{self._ns}*", count=1000)
            if keys:
                self.client.delete(*keys)
            if cursor == 0:
                break

    def close(self) -> None:
        self.client.close()


def _encode(value: Any) -> str:
    if value is None:
        return _NULL
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _decode_column(kind: str, raw: list[str]) -> list[Any]:
    if kind == "flag":
        return [x == "1" for x in raw]
    if _NULL in raw:
        return [None if x == _NULL else (float(x) if kind == "float" else x) for x in raw]
    return list(map(float, raw)) if kind == "float" else raw


def open_online_store(uri: str) -> OnlineStore:
    """``memory://`` (this process) or ``redis://host:port/db`` (shared)."""
    if uri.startswith("memory://") or uri == "memory":
        return MemoryOnlineStore()
    if uri.startswith(("redis://", "rediss://", "unix://")):
        return RedisOnlineStore(uri)
    raise ValueError(f"unknown online store URI {uri!r}: use memory:// or redis://host:port/db")


# ---------------------------------------------------------------------------------------
# The engine

# A compiled block writes one or more features of the vector:
# (record, views, window bounds per entity, output list) -> None
Bounds = list[list[tuple[int, int]]]
_Block = Callable[[TxRecord, list[EntityView], Bounds, list[float]], None]


def _filter_fn(where: Filter) -> Callable[[Mapping[str, Any]], bool]:
    """The same predicate as the offline polars filter (null never passes)."""
    column, value = where.column, where.value
    tests: dict[str, Callable[[Any], bool]] = {
        "==": lambda x: x == value,
        "!=": lambda x: x != value,
        "<": lambda x: x < value,
        "<=": lambda x: x <= value,
        ">": lambda x: x > value,
        ">=": lambda x: x >= value,
    }
    test = tests[where.op]

    def passes(fields: Mapping[str, Any]) -> bool:
        x = fields.get(column)
        return x is not None and bool(test(x))

    return passes


def _haversine_km(fields: Mapping[str, Any]) -> float:
    lat1, lon1 = fields.get("customer_lat"), fields.get("customer_lon")
    lat2, lon2 = fields.get("merchant_lat"), fields.get("merchant_lon")
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return -1.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    l1, l2 = math.radians(lon1), math.radians(lon2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(math.sqrt(a), 1.0))


def _code(value: Any) -> float:
    if isinstance(value, str) and 0 < len(value) <= 9 and value.isascii() and value.isdigit():
        return float(int(value))
    return -1.0


def _context_value(f: FeatureDef) -> Callable[[TxRecord], float]:
    """A context feature from the transaction alone (mirrors offline.context_expr)."""
    column, target = f.column or "", f.value
    if f.kind == "value":
        return lambda r: float(r.fields.get(column) or 0.0)
    if f.kind == "log1p":
        return lambda r: math.log1p(float(r.fields.get(column) or 0.0))
    if f.kind == "hour":
        return lambda r: float(r.ts // _US_PER_HOUR % 24)
    if f.kind == "is_night":
        return lambda r: 1.0 if r.ts // _US_PER_HOUR % 24 < NIGHT_END_HOUR else 0.0
    if f.kind == "is_weekend":
        # 1970-01-01 was a Thursday (weekday 3 with Monday = 0)
        return lambda r: 1.0 if (r.ts // _US_PER_DAY + 3) % 7 >= 5 else 0.0
    if f.kind == "equals":
        return lambda r: 1.0 if r.fields.get(column) == target else 0.0
    if f.kind == "code":
        return lambda r: _code(r.fields.get(column))
    if f.kind == "distance_home":
        return lambda r: _haversine_km(r.fields)
    raise ValueError(f"unknown context kind {f.kind!r}")


def _fraud_block(e: int, items: list[tuple[int, str, int, int, int, int]]) -> _Block:
    """Fraud counts and rates of one entity over several windows, in one pass.

    ``items``: (output index, kind, lo, hi, count source, source index); a window is
    (t-lo, t-hi] and a fraud counts when its label was known at t (``known_at <= t``).
    The count comes from the window bounds (source 0) or from the store (source 1).
    """
    windows = [(lo, hi) for _, _, lo, hi, _, _ in items]

    def frauds(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
        t = r.ts
        view = v[e]
        found = [0] * len(windows)
        if view.frauds:
            edges = [(t - lo, t - hi) for lo, hi in windows]
            for fts, known_at in view.frauds:
                if known_at <= t:
                    for w, (start, end) in enumerate(edges):
                        if start < fts <= end:
                            found[w] += 1
        for w, (i, kind, _, _, source, index) in enumerate(items):
            if kind == "fraud_count":
                out[i] = float(found[w])
                continue
            if source:
                count = view.counts[index]
            else:
                s, end = b[e][index]
                count = end - s
            out[i] = found[w] / count if count else 0.0

    return frauds


class OnlineFeatureEngine:
    """Feature vectors for incoming transactions, from and into an :class:`OnlineStore`.

    ``process`` is the API's hot path: plain Python over a small state, with the feature
    order, window bounds and the grouping of features that share a window precompiled
    from the spec.
    """

    def __init__(self, store: OnlineStore, features: Sequence[FeatureDef] = FEATURES) -> None:
        self.features = tuple(features)
        check_features(self.features)
        self.feature_names = feature_names(self.features)
        self.spec_hash = spec_hash(self.features)
        self.layout = build_layout(self.features, self.spec_hash)
        self.store = store
        store.configure(self.layout)
        entities = self.layout.entities
        self._position = {layout.entity: i for i, layout in enumerate(entities)}
        self._filters = [[_filter_fn(w) for w in layout.filters] for layout in entities]
        self._slots: list[list[tuple[int, int]]] = [[] for _ in entities]
        self._blocks = self._compile()
        # per entity: the distinct window edges to search, and each slot's pair of edges
        self._bound_plan: list[tuple[list[int], list[tuple[int, int]]]] = []
        for slots in self._slots:
            offsets = sorted({offset for slot in slots for offset in slot})
            pairs = [(offsets.index(lo), offsets.index(hi)) for lo, hi in slots]
            self._bound_plan.append((offsets, pairs))
        needed = {"card_id", "merchant_id", "terminal_id", "customer_id"} | {
            layout.entity for layout in entities
        }
        for f in self.features:
            needed |= {c for c in (f.column, f.where.column if f.where else None) if c}
            if f.kind == "distance_home":
                needed |= {"customer_lat", "customer_lon", "merchant_lat", "merchant_lon"}
        self._fields = sorted(needed)
        # precomputed for the hot path: (name, default, is numeric) per field read
        self._field_specs = [
            (n, COLUMN_DEFAULTS.get(n), n in NUMERIC_COLUMNS) for n in self._fields
        ]
        self._fallbacks = [
            (name, source)
            for name, source in COLUMN_FALLBACKS.items()
            if name in needed and source in needed
        ]
        self._entity_specs = [
            (layout.entity, layout.columns, filters)
            for layout, filters in zip(entities, self._filters, strict=True)
        ]

    # -- compilation -------------------------------------------------------------------

    def _slot(self, e: int, f: FeatureDef) -> int:
        assert f.window is not None
        bounds = (_us(f.window + f.delay), _us(f.delay))
        slots = self._slots[e]
        if bounds not in slots:
            slots.append(bounds)
        return slots.index(bounds)

    def _compile(self) -> list[_Block]:
        blocks: list[_Block] = []
        context = [(i, _context_value(f)) for i, f in enumerate(self.features) if not f.windowed]
        if context:
            blocks.append(_context_block(context))
        # sums, means, maxima and ratios over the same filtered window share one pass
        numeric: dict[tuple[int, int, int, bool, int], dict[str, int]] = {}
        # every label feature of an entity shares one pass over its frauds
        labelled: dict[int, list[tuple[int, str, int, int, int, int]]] = {}
        for i, f in enumerate(self.features):
            if not f.windowed:
                continue
            assert f.entity is not None
            assert f.window is not None
            e = self._position[f.entity]
            layout = self.layout.entities[e]
            if f.kind in LABEL_KINDS:
                lo, hi = _us(f.window + f.delay), _us(f.delay)
                if layout.entries:  # the count comes from the window's bounds
                    source, index = 0, self._slot(e, f)
                else:  # the count comes from the store
                    source, index = 1, layout.count_ranges.index((lo, hi))
                labelled.setdefault(e, []).append((i, f.kind, lo, hi, source, index))
                continue
            if not layout.entries:
                blocks.append(self._counted(i, f, e, layout))
                continue
            k = self._slot(e, f)
            c = layout.columns.index(f.column) if f.column else -1
            g = len(layout.columns) + layout.filters.index(f.where) if f.where else -1
            if f.kind in ("sum", "mean", "max", "ratio_to_mean"):
                numeric.setdefault((e, k, g, f.include_current, c), {})[f.kind] = i
            else:
                blocks.append(self._windowed(i, f, e, k, c, g))
        blocks += [_numeric_block(*key, targets) for key, targets in numeric.items()]
        blocks += [_fraud_block(e, items) for e, items in labelled.items()]
        return blocks

    def _windowed(self, i: int, f: FeatureDef, e: int, k: int, c: int, g: int) -> _Block:
        """A feature over an entity's entries that is not a numeric aggregate."""
        inc, kind = f.include_current, f.kind
        if kind == "count" and g < 0:

            def count(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                s, end = b[e][k]
                out[i] = float(end - s + inc)

            return count
        if kind == "count":

            def count_where(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                s, end = b[e][k]
                out[i] = float(sum(v[e].columns[g][s:end]) + (inc and r.stored[e][g]))

            return count_where
        if kind == "distinct":

            def distinct(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                s, end = b[e][k]
                values = v[e].columns[c][s:end]
                if g >= 0:
                    values = list(compress(values, v[e].columns[g][s:end]))
                seen = set(values)
                if inc and (g < 0 or r.stored[e][g]):
                    seen.add(r.stored[e][c])
                seen.discard(None)
                out[i] = float(len(seen))

            return distinct
        if kind == "is_new":

            def is_new(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                current = r.stored[e][c]
                if current is None:
                    out[i] = 0.0
                    return
                s, end = b[e][k]
                out[i] = 0.0 if current in v[e].columns[c][s:end] else 1.0

            return is_new
        if kind == "seconds_since_prev":
            assert f.window is not None
            cap = f.window.total_seconds()

            def since(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                end = b[e][k][1]
                out[i] = min((r.ts - v[e].ts[end - 1]) / 1_000_000, cap) if end else cap

            return since
        raise ValueError(f"unknown windowed kind {kind!r}")

    def _counted(self, i: int, f: FeatureDef, e: int, layout: EntityLayout) -> _Block:
        """A count of an entity whose store keeps only counts and frauds."""
        assert f.window is not None
        r_index = layout.count_ranges.index((_us(f.window + f.delay), _us(f.delay)))
        inc = f.include_current

        def count(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
            out[i] = float(v[e].counts[r_index] + inc)

        return count

    # -- hot path ----------------------------------------------------------------------

    def _record(self, tx: Mapping[str, Any]) -> TxRecord:
        try:
            tx_id = str(tx["transaction_id"])
            ts = to_epoch_us(tx["timestamp"])
        except KeyError as missing:
            raise ValueError(f"transaction lacks {missing.args[0]!r}") from None
        fields: dict[str, Any] = {}
        get = tx.get
        for name, default, numeric in self._field_specs:
            value = get(name)
            if value is None:
                value = default
            elif numeric:
                value = float(value)
            else:  # ids and codes repeat across transactions: one shared copy in the state
                value = _interned(value)
            fields[name] = value
        for name, source in self._fallbacks:
            if fields[name] is None:
                fields[name] = fields[source]
        keys = []
        stored = []
        for entity, columns, filters in self._entity_specs:
            key = fields[entity]
            if key is None:
                raise ValueError(f"transaction {tx_id!r} lacks {entity!r}")
            keys.append(str(key))
            values = [fields[c] for c in columns]
            if None in values:
                values = [_stored_value(c, v) for c, v in zip(columns, values, strict=True)]
            stored.append(tuple(values) + tuple(test(fields) for test in filters))
        return TxRecord(tx_id, ts, tuple(keys), tuple(stored), fields)

    def _compute(self, record: TxRecord, views: list[EntityView], known: bool) -> np.ndarray:
        t = record.ts
        bounds: Bounds = []
        for view, (offsets, pairs) in zip(views, self._bound_plan, strict=True):
            if pairs:
                at = [_position(view.ts, t - offset) for offset in offsets]
                bounds.append([(at[i], at[j]) for i, j in pairs])
            else:
                bounds.append([])
        out = [0.0] * len(self.features)
        for block in self._blocks:
            block(record, views, bounds, out)
        return np.array(out, dtype=np.float64)

    def process(self, tx: Mapping[str, Any]) -> np.ndarray:
        """The transaction's feature vector (``feature_names`` order); then update state.

        A transaction id the store already knows (a retry) is scored against the state
        but not added twice.
        """
        return self.store.exchange(self._record(tx), self._compute)

    def process_many(self, txs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Feature vectors of several transactions, processed in the given order."""
        if not txs:
            return np.empty((0, len(self.features)), dtype=np.float64)
        records = [self._record(tx) for tx in txs]
        return np.vstack(self.store.exchange_many(records, self._compute))

    def ingest_label(self, transaction_id: str, is_fraud: int, reported_at: datetime | str) -> bool:
        """Record a label event; True if the transaction is known to the store.

        A fraud label counts for features at times >= ``reported_at`` (never earlier),
        whatever the order labels arrive in; the earliest report of a fraud wins. A label
        for a transaction not seen yet is kept (for the label horizon) and applied when the
        transaction arrives. ``is_fraud = 0`` changes no feature.
        """
        reported_us = to_epoch_us(reported_at)
        if int(is_fraud) == 1:
            return self.store.add_fraud_label(str(transaction_id), reported_us)
        return self.store.knows(str(transaction_id))

    def ready(self) -> bool:
        """Whether the store is reachable."""
        return self.store.ping()

    # -- warm start --------------------------------------------------------------------

    def backfill(self, transactions: pl.DataFrame, labels: pl.DataFrame | None = None) -> int:
        """Load the state that stored history implies (its last retention window).

        Returns the number of transactions now indexed. Use it on an empty store before
        serving, so a freshly started server does not see every card as new; transactions
        processed afterwards get the same features the offline engine computes over the
        whole history.
        """
        from fraudops.features.offline import NO_LABEL, fraud_known_at, prepare_transactions

        frame = prepare_transactions(transactions)
        ts = frame["timestamp"].dt.epoch("us")
        frame = frame.with_columns(
            ts.alias("__ts"),
            pl.Series("__known", fraud_known_at(frame, labels), dtype=pl.Int64),
        )
        # an empty history still carries labels of transactions yet to come
        now = int(ts.max()) if frame.height else _BEFORE_EVERYTHING  # type: ignore[arg-type]
        entries: list[dict[str, tuple[list[str], list[int], list[list[Any]]]]] = []
        frauds: list[dict[str, dict[str, tuple[int, int]]]] = []
        for layout in self.layout.entities:
            recent = frame.filter(pl.col("__ts") > now - layout.retention_us)
            stored = [_stored_expr(c) for c in layout.columns] + [
                _backfill_filter(w) for w in layout.filters
            ]
            grouped = recent.group_by(layout.entity, maintain_order=True).agg(
                pl.col("transaction_id"),
                pl.col("__ts"),
                *[expr.alias(f"__s{i}") for i, expr in enumerate(stored)],
            )
            entries.append({row[0]: (row[1], row[2], list(row[3:])) for row in grouped.iter_rows()})
            by_entity: dict[str, dict[str, tuple[int, int]]] = {}
            if layout.frauds:
                labelled = recent.filter(pl.col("__known") != NO_LABEL).select(
                    layout.entity, "transaction_id", "__ts", "__known"
                )
                for key, tx_id, t, known_at in labelled.iter_rows():
                    by_entity.setdefault(key, {})[tx_id] = (t, known_at)
            frauds.append(by_entity)
        indexed = frame.filter(pl.col("__ts") > now - self.layout.index_retention_us).select(
            "transaction_id", "__ts", *[layout.entity for layout in self.layout.entities]
        )
        index = [(row[0], row[1], tuple(row[2:])) for row in indexed.iter_rows()]
        pending: dict[str, int] = {}
        if labels is not None and labels.height:
            unknown = (
                labels.filter(pl.col("is_fraud") == 1, pl.col("reported_at").is_not_null())
                .group_by("transaction_id")
                .agg(pl.col("reported_at").min().dt.epoch("us"))
                .join(frame.select("transaction_id"), on="transaction_id", how="anti")
                .filter(pl.col("reported_at") > now - self.layout.pending_retention_us)
            )
            pending = dict(unknown.iter_rows())
        self.store.load(BackfillData(now, entries, frauds, index, pending))
        return len(index)


def _position(ts: list[int], limit: int) -> int:
    """Entries with ts <= limit (in-order traffic: usually all of them, no search)."""
    n = len(ts)
    if not n or ts[-1] <= limit:
        return n
    return bisect_right(ts, limit)


def _interned(value: Any) -> Any:
    return intern(value) if type(value) is str else value


def _stored_value(column: str, value: Any) -> Any:
    # windowed aggregates read a missing number as 0, as the offline engine does
    if value is None and column in NUMERIC_COLUMNS:
        return 0.0
    return value


def _stored_expr(column: str) -> pl.Expr:
    if column in NUMERIC_COLUMNS:
        return pl.col(column).cast(pl.Float64).fill_null(0.0)
    return pl.col(column)


def _backfill_filter(where: Filter) -> pl.Expr:
    from fraudops.features.offline import filter_expr

    return filter_expr(where)


def _context_block(items: list[tuple[int, Callable[[TxRecord], float]]]) -> _Block:
    def context(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
        for i, value in items:
            out[i] = value(r)

    return context


def _numeric_block(
    e: int, k: int, g: int, include_current: bool, c: int, targets: dict[str, int]
) -> _Block:
    """Sum, mean, max and ratio-to-mean of one column over one (filtered) window."""
    i_sum, i_mean = targets.get("sum", -1), targets.get("mean", -1)
    i_max, i_ratio = targets.get("max", -1), targets.get("ratio_to_mean", -1)

    def numeric(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
        s, end = b[e][k]
        column = v[e].columns[c]
        values = column[s:end]
        current = r.stored[e][c]
        if g >= 0:
            values = list(compress(values, v[e].columns[g][s:end]))
            if include_current and r.stored[e][g]:
                values.append(current)
        elif include_current:
            values.append(current)
        n = len(values)
        total = float(sum(values))
        mean = total / n if n else 0.0
        if i_sum >= 0:
            out[i_sum] = total
        if i_mean >= 0:
            out[i_mean] = mean
        if i_max >= 0:
            out[i_max] = float(max(values)) if n else 0.0
        if i_ratio >= 0:
            out[i_ratio] = current / mean if mean > 0 else 1.0

    return numeric
