"""The shared online store: state in Redis, one script call per transaction."""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from fraudops.features.online.layout import (
    BackfillData,
    Compute,
    EntityLayout,
    EntityView,
    StoreLayout,
    T,
    TxRecord,
)
from fraudops.features.online.lua import BUCKET_US, exchange_lua
from fraudops.features.online.packed import HEADER, Packing
from fraudops.features.online.redis_index import (
    CROWDED_BUCKET,
    DEFAULT_INDEX_BUCKETS,
    IDS_PER_BUCKET,
    KNOWS_LUA,
    day_ttl_ms,
    index_slot,
    index_value,
    keep_days,
    label_lua,
)
from fraudops.features.online.store import OnlineStore
from fraudops.features.online.times import US_PER_DAY

logger = logging.getLogger(__name__)

# How state is laid out in Redis, in every key name: a store upgraded to another layout
# starts from empty keys (backfill it) instead of misreading the previous layout's keys,
# which expire on their own. p3: packed entries, day-bucketed times, ids in day hashes.
STATE_FORMAT = "p3"
_SEP = "\x1f"  # field separator in Redis members (unit separator: not in ids)
_NULL = "\x00"
_RS = "\x1e"  # record separator between entries in a Redis reply


class RedisOnlineStore(OnlineStore):
    """State in Redis, shared by every API replica.

    Per transaction one ``EVALSHA`` reads the state the features need, trims what left the
    longest window, and adds the transaction, atomically (replicas scoring the same card
    at once are serialised by Redis). Keys are namespaced by the spec hash, so a new spec
    version never reads state written under another one. Event-time trimming bounds each
    key; a wall-clock expiry removes keys of entities that stop transacting. The label
    script builds key names from the index, so use a single Redis (not Redis Cluster).
    ``index_buckets``: hashes of the transaction-id index's first day (:mod:`.redis_index`;
    later days are sized from the volume held).
    """

    def __init__(
        self,
        uri: str,
        prefix: str = "fraudops",
        timeout_seconds: float | None = None,
        index_buckets: int = DEFAULT_INDEX_BUCKETS,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if index_buckets < 1:
            raise ValueError(f"index_buckets must be at least 1, got {index_buckets}")
        self.uri = uri
        self.prefix = prefix
        self.index_buckets = index_buckets
        options: dict[str, Any] = {}
        if timeout_seconds is not None:
            # serving: fail within the latency budget (no retries with backoff, short socket
            # timeouts; a query string in the URI, e.g. ?socket_timeout=2, overrides these)
            options = {
                "socket_timeout": timeout_seconds,
                "socket_connect_timeout": timeout_seconds,
                "retry": Retry(NoBackoff(), 0),
            }
        self.client = redis.Redis.from_url(uri, decode_responses=True, **options)
        # packed state is binary: the per-transaction script's replies stay bytes
        self._raw = redis.Redis.from_url(uri, decode_responses=False, **options)
        self.failures = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._knows_script = self.client.register_script(KNOWS_LUA)

    def configure(self, layout: StoreLayout) -> None:
        super().configure(layout)
        self._exchange_script = self.client.register_script(
            exchange_lua(layout, self.index_buckets)
        )
        self._label_script = self.client.register_script(label_lua(layout))
        self._ns = f"{self.prefix}:{layout.namespace}:{STATE_FORMAT}:"
        self._days_key = f"{self._ns}idx:days"
        self._kinds = [entity.kinds for entity in layout.entities]
        self._packings = [Packing(e) if e.entries else None for e in layout.entities]

    def _entity_keys(self, layout: EntityLayout, key: str) -> tuple[str, str]:
        base = f"{self._ns}{layout.entity}:{key}"
        return f"{base}:tx", f"{base}:fraud"

    def _script_call(self, record: TxRecord) -> tuple[list[str], list[str | bytes]]:
        t = str(record.ts)
        keys: list[str] = []
        fraud_keys: list[str] = []
        fraud_ids: list[str] = []
        members: list[str | bytes] = []
        for layout, packing, key, values in zip(
            self.layout.entities, self._packings, record.keys, record.stored, strict=True
        ):
            entries_key, fraud_key = self._entity_keys(layout, key)
            keys.append(entries_key)
            if layout.frauds:
                keys.append(fraud_key)
                fraud_keys.append(fraud_key)
                fraud_ids.append(key)
            if packing is not None:
                members.append(_row_member(record.tx_id, packing, values))
            else:
                members.append(record.tx_id)
        keys += [self._days_key, f"{self._ns}pending:{record.tx_id}"]
        return keys, [t, record.tx_id, index_value(record.ts, fraud_ids), *members]

    def _views(self, reply: list[bytes]) -> tuple[list[EntityView], bool]:
        views = []
        for e, (kinds, packing) in enumerate(zip(self._kinds, self._packings, strict=True)):
            entries, counts, frauds = reply[1 + 3 * e : 4 + 3 * e]
            ts: list[int] = []
            columns: list[list[Any]] = [[] for _ in kinds]
            count_values: list[int] = []
            if packing is not None:
                if entries:
                    ts, columns = packing.decode(entries, _table(packing, entries), int(counts))
            elif counts:
                count_values = [int(c) for c in counts.split(b",")]
            fraud_pairs: list[tuple[int, int]] = []
            if frauds:
                for value in frauds.split(_RS.encode()):
                    fts, known_at = value.split(b":")
                    fraud_pairs.append((int(fts), int(known_at)))
            views.append(EntityView(ts, columns, count_values, fraud_pairs))
        return views, reply[0] == b"1"

    def exchange(self, record: TxRecord, compute: Compute[T]) -> T:
        keys, args = self._script_call(record)
        reply = self._exchange_script(keys=keys, args=args, client=self._raw)
        views, known = self._views(reply)
        return compute(record, views, known)

    def exchange_many(self, records: Sequence[TxRecord], compute: Compute[T]) -> list[T]:
        # scripts run in order on the server, so one pipeline keeps sequential semantics
        pipe = self._raw.pipeline(transaction=False)
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
            keys=[self._days_key, f"{ns}pending:{tx_id}"],
            args=[
                str(reported_us),
                tx_id,
                str(self.layout.pending_retention_us // 1000 + 1),
                str(longest // 1000 + 1),
            ],
        )
        return bool(reply)

    def knows(self, tx_id: str) -> bool:
        return bool(self._knows_script(keys=[self._days_key], args=[tx_id]))

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
            if layout.entries:
                self._load_packed(layout, Packing(layout), entries, batch)
            else:
                self._load_times(layout, entries, batch)
            for key, by_tx in frauds.items():
                _, fraud_key = self._entity_keys(layout, key)
                pipe.hset(
                    fraud_key,
                    mapping={tx: f"{t}:{known_at}" for tx, (t, known_at) in by_tx.items()},
                )
                pipe.pexpire(fraud_key, ttl)
                queued += 1
                flush()
        flush(force=True)
        self._load_index(data, batch)
        ns = self._ns
        for tx_id, reported in data.pending.items():
            pipe.set(
                f"{ns}pending:{tx_id}", str(reported), px=self.layout.pending_retention_us // 1000
            )
            queued += 1
            flush()
        flush(force=True)

    def _day_buckets(self, ids: dict[int, int]) -> dict[int, int]:
        """The bucket count of each day loaded (``ids``: day -> ids loaded), listing each
        new day with one bucket per ``IDS_PER_BUCKET`` of its ids (a listed day keeps its
        count), and adding the ids to the day counts."""
        ordered = sorted(ids)
        count_key = f"{self._ns}idx:count"
        ttl = keep_days(self.layout) * US_PER_DAY // 1000
        pipe = self.client.pipeline(transaction=False)
        for day in ordered:
            pipe.hsetnx(self._days_key, str(day), str(-(-ids[day] // IDS_PER_BUCKET)))
        for day in ordered:
            pipe.hget(self._days_key, str(day))
        for day in ordered:
            pipe.hincrby(count_key, str(day), ids[day])
        pipe.pexpire(self._days_key, ttl)
        pipe.pexpire(count_key, ttl)
        replies = pipe.execute()
        buckets = {
            day: int(count)
            for day, count in zip(ordered, replies[len(ordered) : 2 * len(ordered)], strict=True)
        }
        totals = {
            day: int(total)
            for day, total in zip(
                ordered, replies[2 * len(ordered) : 3 * len(ordered)], strict=True
            )
        }
        crowded = [day for day in ordered if totals[day] > CROWDED_BUCKET * buckets[day]]
        if crowded:  # a day listed by an earlier, smaller load keeps its bucket count
            day = max(crowded, key=lambda d: totals[d] / buckets[d])
            logger.warning(
                "the transaction-id index of %d loaded days holds up to ~%d ids a hash (day "
                "%s: %d hashes listed by an earlier load), past Redis's compact hash size: "
                "about twice the memory an id until those days leave the index. Warm a "
                "store from its whole history in one load.",
                len(crowded),
                totals[day] // buckets[day],
                day,
                buckets[day],
            )
        return buckets

    def _index_entry(self, tx_id: str, day: int, buckets: int) -> tuple[str, bytes]:
        """The hash holding a transaction id of ``day`` and its field there."""
        bucket, field = index_slot(tx_id, buckets)
        return f"{self._ns}idx:{day}:{bucket}", field

    def _load_index(self, data: BackfillData, batch: int) -> None:
        """The ids of a bulk load, grouped into their day hashes (one ``HSET`` each)."""
        if not data.index:
            return
        tracked = [e.frauds for e in self.layout.entities]
        counts = self._day_buckets(Counter(t // US_PER_DAY for _, t, _ in data.index))
        hashes: dict[tuple[int, str], dict[bytes, bytes]] = {}
        for tx_id, t, keys in data.index:
            day = t // US_PER_DAY
            fraud_ids = [key for key, frauds in zip(keys, tracked, strict=True) if frauds]
            entry = index_value(t, fraud_ids)
            key, field = self._index_entry(tx_id, day, counts[day])
            hashes.setdefault((day, key), {})[field] = entry
        pipe = self.client.pipeline(transaction=False)
        for n, ((day, key), mapping) in enumerate(hashes.items(), 1):
            ttl = day_ttl_ms(self.layout, day, data.now_us)
            if ttl > 0:
                pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
                pipe.pexpire(key, ttl)
            if n % batch == 0:
                pipe.execute()
        pipe.execute()

    def _known(self, chunk: list[tuple[str, Any]], held: Sequence[Any]) -> set[str]:
        """Transaction ids of ``chunk`` the index holds, looked up only for entities that
        already have state (a warm start into an empty store asks nothing)."""
        ids = [
            (tx, t)
            for (_, (tx_ids, times, _)), v in zip(chunk, held, strict=True)
            if v
            for tx, t in zip(tx_ids, times, strict=True)
        ]
        if not ids:
            return set()
        listed = {int(d): int(c) for d, c in self.client.hgetall(self._days_key).items()}
        asked = [(tx, t // US_PER_DAY) for tx, t in ids if t // US_PER_DAY in listed]
        pipe = self._raw.pipeline(transaction=False)
        for tx_id, day in asked:
            pipe.hexists(*self._index_entry(tx_id, day, listed[day]))
        return {tx for (tx, _), hit in zip(asked, pipe.execute(), strict=True) if hit}

    def _load_times(
        self,
        layout: EntityLayout,
        entries: dict[str, tuple[list[str], list[int], list[list[Any]]]],
        batch: int,
    ) -> None:
        """Day buckets of a bulk load, merged with the buckets already held."""
        ttl = layout.retention_us // 1000 + 1
        items = list(entries.items())
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            keys = [self._entity_keys(layout, key)[0] for key, _ in chunk]
            pipe = self._raw.pipeline(transaction=False)
            for entries_key in keys:
                pipe.hgetall(entries_key)
            held = pipe.execute()
            known = self._known(chunk, held)
            pipe = self._raw.pipeline(transaction=False)
            for entries_key, (_, (tx_ids, times, _)), fields in zip(keys, chunk, held, strict=True):
                buckets: dict[int, list[int]] = {}
                for name, value in fields.items():
                    if name != b"c":
                        buckets[int(name)] = list(struct.unpack(f"<{len(value) // 8}q", value))
                for tx_id, t in zip(tx_ids, times, strict=True):
                    if tx_id not in known:
                        buckets.setdefault(t // BUCKET_US, []).append(t)
                mapping: dict[str | bytes, bytes] = {}
                for bucket, stamps in buckets.items():
                    stamps.sort()
                    mapping[str(bucket)] = struct.pack(f"<{len(stamps)}q", *stamps)
                mapping["c"] = b"".join(
                    struct.pack("<iI", bucket, len(buckets[bucket])) for bucket in sorted(buckets)
                )
                pipe.hset(entries_key, mapping=mapping)
                pipe.pexpire(entries_key, ttl)
            pipe.execute()

    def _load_packed(
        self,
        layout: EntityLayout,
        packing: Packing,
        entries: dict[str, tuple[list[str], list[int], list[list[Any]]]],
        batch: int,
    ) -> None:
        """Packed values of a bulk load, merged with what the store already holds (rows of
        indexed transactions are not added twice). Meant for a warm start: a transaction
        scored between the read and the write of the same entity would be overwritten."""
        ttl = layout.retention_us // 1000 + 1
        items = list(entries.items())
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            keys = [self._entity_keys(layout, key)[0] for key, _ in chunk]
            held = self._raw.mget(keys)
            known = self._known(chunk, held)
            pipe = self._raw.pipeline(transaction=False)
            for entries_key, (_, (tx_ids, times, columns)), value in zip(
                keys, chunk, held, strict=True
            ):
                ts: list[int] = []
                values: list[list[Any]] = [[] for _ in packing.kinds]
                if value:
                    ts, values = packing.decode(value, _table(packing, value))
                fresh = [p for p, tx_id in enumerate(tx_ids) if tx_id not in known]
                ts += [times[p] for p in fresh]
                for column, loaded in zip(values, columns, strict=True):
                    column += [loaded[p] for p in fresh]
                if any(a > b for a, b in pairwise(ts)):
                    order = sorted(range(len(ts)), key=ts.__getitem__)
                    ts = [ts[k] for k in order]
                    values = [[column[k] for k in order] for column in values]
                for p in packing.strings:
                    for text in values[p]:
                        if text is not None and (_SEP in str(text) or _RS in str(text)):
                            raise ValueError(
                                f"{layout.entity} {entries_key!r}: ids and categories must not "
                                "contain the control characters \\x1e or \\x1f"
                            )
                pipe.set(entries_key, _packed_value(packing, ts, values), px=ttl)
            pipe.execute()

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
        self._raw.close()


def _row_member(tx_id: str, packing: Packing, values: tuple[Any, ...]) -> bytes:
    """A new row for the script: its numbers and flags packed, then its strings (each
    ended by the separator; ``\\x00`` for a missing one), for the script to put in the
    entity's table."""
    strings = [_NULL if values[i] is None else str(values[i]) for i in packing.strings]
    text = "".join(f"{value}{_SEP}" for value in strings)
    if text.count(_SEP) != len(strings) or _RS in text:
        raise ValueError(
            f"transaction {tx_id!r}: ids and categories must not contain "
            "the control characters \\x1e or \\x1f"
        )
    fixed = struct.pack(f"<{len(packing.floats)}d", *[values[i] for i in packing.floats])
    flags = bytes(1 if values[i] else 0 for i in packing.flags)
    return fixed + flags + text.encode()


def _table(packing: Packing, value: bytes) -> list[str | None]:
    """The string table stored after a packed value's rows."""
    rows, _, width = HEADER.unpack_from(value)
    end = HEADER.size + rows * sum(packing.sizes(width))
    table: list[str | None] = [None]
    table += value[end:].decode().split(_SEP)[:-1]
    return table


def _packed_value(packing: Packing, ts: list[int], columns: list[list[Any]]) -> bytes:
    data, table = packing.pack(ts, columns)
    return data + "".join(f"{value}{_SEP}" for value in table[1:]).encode()
