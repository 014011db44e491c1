"""Allow, block and watch lists of cards, devices, merchants, terminals and countries.

An entry puts one value of one kind on one named list, optionally until an expiry time.
Entries are kept by a *backend* — in memory, in SQLite (the embedded default, shared by
the CLI and an API on the same machine) or in Redis (shared by every API replica) — and
read on the request path from an in-process snapshot (:class:`ListCache`): a lookup is a
dict access, never a network round trip, and scoring keeps its lists when Redis is down.
Every write bumps a version number in the backend; the cache reloads when it changes,
so an entry added on one replica or from the CLI is seen everywhere within the refresh
interval (and at once by the process that wrote it).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraudops.decisions.context import LIST_KINDS, LIST_NAME, list_flag

logger = logging.getLogger(__name__)
MAX_VALUE_LENGTH = 128


class ListError(ValueError):
    """A list entry that cannot be stored (the message names the field)."""


@dataclass(frozen=True)
class ListEntry:
    list: str
    kind: str
    value: str
    expires_at: datetime | None = None
    reason: str = ""
    added_by: str = ""
    added_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.list, str) or not LIST_NAME.match(self.list):
            raise ListError(
                f"list name {self.list!r} must be 1-32 lower-case letters, digits or '_', "
                "starting with a letter"
            )
        if self.kind not in LIST_KINDS:
            raise ListError(f"kind {self.kind!r} is not one of {', '.join(LIST_KINDS)}")
        value = self.value.strip() if isinstance(self.value, str) else ""
        if not value or len(value) > MAX_VALUE_LENGTH:
            raise ListError(f"value must be a non-empty string of at most {MAX_VALUE_LENGTH}")
        if self.kind == "country" and not (len(value) == 2 and value.isalpha()):
            raise ListError(f"a country is a two-letter ISO code, got {self.value!r}")
        object.__setattr__(self, "value", value.upper() if self.kind == "country" else value)
        for name in ("expires_at", "added_at"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                object.__setattr__(self, name, moment.replace(tzinfo=UTC))

    @property
    def key(self) -> tuple[str, str, str]:
        return self.list, self.kind, self.value

    def active_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("expires_at", "added_at"):
            data[name] = data[name].isoformat() if data[name] is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ListEntry:
        times = {
            name: datetime.fromisoformat(data[name]) if data.get(name) else None
            for name in ("expires_at", "added_at")
        }
        return cls(
            list=data["list"],
            kind=data["kind"],
            value=data["value"],
            reason=data.get("reason") or "",
            added_by=data.get("added_by") or "",
            **times,
        )


class ListBackend(ABC):
    """Where entries are kept. Writes bump :meth:`version`."""

    @abstractmethod
    def put(self, entry: ListEntry) -> None:
        """Add or replace the entry with the same list, kind and value."""

    @abstractmethod
    def delete(self, list_name: str, kind: str, value: str) -> bool:
        """Remove an entry; False when there was none."""

    @abstractmethod
    def load(self) -> list[ListEntry]:
        """Every stored entry, expired ones included."""

    @abstractmethod
    def version(self) -> int:
        """A number that changes whenever an entry is written or removed."""

    def ping(self) -> bool:
        return True

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections."""


class MemoryListBackend(ListBackend):
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], ListEntry] = {}
        self._version = 0

    def put(self, entry: ListEntry) -> None:
        self._entries[entry.key] = entry
        self._version += 1

    def delete(self, list_name: str, kind: str, value: str) -> bool:
        found = self._entries.pop((list_name, kind, value), None) is not None
        self._version += found
        return found

    def load(self) -> list[ListEntry]:
        return list(self._entries.values())

    def version(self) -> int:
        return self._version


class SQLiteListBackend(ListBackend):
    """One SQLite file; each call opens its own connection, so any thread may call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS list_entries (list TEXT NOT NULL, kind TEXT NOT "
                "NULL, value TEXT NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (list, kind, value))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS list_version (version INTEGER NOT NULL)")
            if db.execute("SELECT COUNT(*) FROM list_version").fetchone()[0] == 0:
                db.execute("INSERT INTO list_version VALUES (0)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute("UPDATE list_version SET version = version + 1")

    def put(self, entry: ListEntry) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO list_entries VALUES (?, ?, ?, ?)",
                (*entry.key, json.dumps(entry.to_json())),
            )
            self._bump(db)

    def delete(self, list_name: str, kind: str, value: str) -> bool:
        with self._connect() as db:
            deleted = db.execute(
                "DELETE FROM list_entries WHERE list = ? AND kind = ? AND value = ?",
                (list_name, kind, value),
            ).rowcount
            if deleted:
                self._bump(db)
        return bool(deleted)

    def load(self) -> list[ListEntry]:
        with self._connect() as db:
            rows = db.execute("SELECT entry FROM list_entries").fetchall()
        return [ListEntry.from_json(json.loads(row[0])) for row in rows]

    def version(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT version FROM list_version").fetchone()[0])

    def ping(self) -> bool:
        try:
            self.version()
        except sqlite3.Error:
            return False
        return True


class RedisListBackend(ListBackend):
    """One Redis hash of entries and a version counter, shared by every replica."""

    def __init__(self, uri: str, prefix: str = "fraudops:lists") -> None:
        import redis

        self.client = redis.Redis.from_url(uri, decode_responses=True)
        self.entries_key = f"{prefix}:entries"
        self.version_key = f"{prefix}:version"

    @staticmethod
    def _field(list_name: str, kind: str, value: str) -> str:
        return json.dumps([list_name, kind, value])

    def put(self, entry: ListEntry) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.entries_key, self._field(*entry.key), json.dumps(entry.to_json()))
        pipe.incr(self.version_key)
        pipe.execute()

    def delete(self, list_name: str, kind: str, value: str) -> bool:
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.entries_key, self._field(list_name, kind, value))
        pipe.incr(self.version_key)
        deleted, _ = pipe.execute()
        return bool(deleted)

    def load(self) -> list[ListEntry]:
        raw: dict[str, str] = self.client.hgetall(self.entries_key)  # type: ignore[assignment]
        return [ListEntry.from_json(json.loads(text)) for text in raw.values()]

    def version(self) -> int:
        return int(self.client.get(self.version_key) or 0)  # type: ignore[arg-type]

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def close(self) -> None:
        self.client.close()


def open_list_backend(uri: str) -> ListBackend:
    """``memory://``, ``sqlite:///path/lists.db`` or ``redis://host:port/db``."""
    if uri.startswith("memory://"):
        return MemoryListBackend()
    if uri.startswith("sqlite:///"):
        return SQLiteListBackend(Path(uri[len("sqlite:///") :]))
    if uri.startswith(("redis://", "rediss://", "unix://")):
        return RedisListBackend(uri)
    raise ListError(f"unsupported lists URI {uri!r}: use memory://, sqlite:///PATH or redis://")


# (list, kind) -> value -> expiry in epoch seconds (inf when it never expires)
Snapshot = dict[tuple[str, str], dict[str, float]]


def snapshot_of(entries: Iterable[ListEntry]) -> Snapshot:
    snapshot: Snapshot = {}
    for entry in entries:
        expiry = entry.expires_at.timestamp() if entry.expires_at else float("inf")
        snapshot.setdefault((entry.list, entry.kind), {})[entry.value] = expiry
    return snapshot


class ListCache:
    """The request path's view of the lists: a snapshot of the backend, reloaded by
    :meth:`refresh` when the backend's version changed. The request path never calls the
    backend; the API refreshes from a background thread, and writes through this cache
    refresh it at once."""

    def __init__(self, backend: ListBackend) -> None:
        self.backend = backend
        self._snapshot: Snapshot = {}
        self._version: int | None = None
        self._lock = threading.Lock()
        self.healthy = True
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Reload the snapshot if the backend changed; on a backend error keep the last
        snapshot (lists keep working from memory) and log once per state change."""
        with self._lock:
            try:
                version = self.backend.version()
                if force or version != self._version:
                    self._snapshot = snapshot_of(self.backend.load())
                    self._version = version
            except Exception as exc:
                if self.healthy:
                    logger.warning("lists backend unreachable, serving the last snapshot: %s", exc)
                self.healthy = False
                return
            if not self.healthy:
                logger.info("lists backend reachable again")
            self.healthy = True

    def flags(
        self, tx: Mapping[str, Any], wanted: Iterable[tuple[str, str]], now: float
    ) -> dict[str, bool]:
        """``list_<list>_<kind>`` flags of one transaction for the (list, kind) pairs asked,
        at ``now`` (epoch seconds)."""
        snapshot = self._snapshot
        flags = {}
        for list_name, kind in wanted:
            values = snapshot.get((list_name, kind))
            expiry = None
            if values:  # nothing on that list under that kind is the common case
                value = tx.get(LIST_KINDS[kind])
                expiry = values.get(value) if value is not None else None
            flags[list_flag(list_name, kind)] = expiry is not None and now < expiry
        return flags

    @property
    def has_entries(self) -> bool:
        """Whether any list holds anything (the common case for a new install is not)."""
        return any(self._snapshot.values())

    def first_hit(self, tx: Mapping[str, Any], list_name: str, now: float) -> str | None:
        """The first kind (in ``LIST_KINDS`` order) under which ``tx`` is on ``list_name``."""
        snapshot = self._snapshot
        for kind, field in LIST_KINDS.items():
            values = snapshot.get((list_name, kind))
            if not values:
                continue
            value = tx.get(field)
            expiry = values.get(value) if value is not None else None
            if expiry is not None and now < expiry:
                return kind
        return None

    def entries(
        self, list_name: str | None = None, kind: str | None = None, now: datetime | None = None
    ) -> list[ListEntry]:
        """Stored entries (read from the backend), active at ``now`` unless it is None."""
        found = [
            e
            for e in self.backend.load()
            if (list_name is None or e.list == list_name)
            and (kind is None or e.kind == kind)
            and (now is None or e.active_at(now))
        ]
        return sorted(found, key=lambda e: e.key)

    def add(self, entry: ListEntry) -> None:
        self.backend.put(entry)
        self.refresh(force=True)

    def remove(self, list_name: str, kind: str, value: str) -> bool:
        if kind == "country":
            value = value.upper()
        removed = self.backend.delete(list_name, kind, value)
        self.refresh(force=True)
        return removed
