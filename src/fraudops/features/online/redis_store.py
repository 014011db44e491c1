"""The shared online store: state in Redis, one script call per transaction."""

from __future__ import annotations

from collections.abc import Sequence
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
from fraudops.features.online.lua import LABEL_LUA, exchange_lua
from fraudops.features.online.store import OnlineStore

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
    """

    def __init__(
        self, uri: str, prefix: str = "fraudops", timeout_seconds: float | None = None
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.uri = uri
        self.prefix = prefix
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
        self.failures = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._label_script = self.client.register_script(LABEL_LUA)

    def configure(self, layout: StoreLayout) -> None:
        super().configure(layout)
        self._exchange_script = self.client.register_script(exchange_lua(layout))
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
