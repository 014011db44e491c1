"""Append-only prediction and label logs, written off the request path, durable on a crash.

A request hands its rows to :meth:`AppendLog.append`, which only takes a lock and extends
a list (never blocks on I/O; past ``max_queued`` waiting rows it drops them, counts them
and says so once). With a journal folder, a writer thread appends the waiting rows to a
local write-ahead file every ``journal_seconds`` (flushed to the OS: a SIGKILL loses at
most that much); every ``flush_seconds`` another thread writes what the journal holds as
parquet chunks per day and deletes the journal segments it covered. ``close()`` (SIGTERM)
writes everything. Segments left by a process that died are written to the dataset by
the next one that starts with the same journal folder (:meth:`AppendLog.recover`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import polars as pl

from fraudops.data import store
from fraudops.features.online import to_epoch_us

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_JOURNAL_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_PASSTHROUGH_DATETIME


class AppendLog:
    def __init__(
        self,
        uri: str,
        flush_seconds: float = 2.0,
        storage_options: dict[str, Any] | None = None,
        schema: dict[str, pl.DataType] | None = None,
        vector_columns: list[str] | None = None,
        journal_dir: Path | None = None,
        journal_seconds: float = 0.2,
        max_queued: int = 200_000,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.uri = uri
        self.flush_seconds = flush_seconds
        self.storage_options = storage_options
        self.schema = schema
        # rows may carry a feature vector under "__vector": expanded into these columns at
        # flush time, column-wise, instead of 50 dict entries per prediction on the hot path
        self.vector_columns = vector_columns
        self.journal_dir = journal_dir
        self.journal_seconds = journal_seconds
        self.max_queued = max_queued
        self.on_drop = on_drop
        self._queued: list[dict[str, Any]] = []  # appended, not journaled yet
        self._rows: list[dict[str, Any]] = []  # journaled, not in the dataset yet
        self._lock = threading.Lock()  # the request path's: guards _queued only
        self._write_lock = threading.Lock()  # journal writes and segment rotation
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._segment: IO[bytes] | None = None
        self._segment_path: Path | None = None
        self._covered: list[Path] = []  # closed segments whose rows are all in _rows
        self._sequence = 0
        self._dropping = False
        self.written = 0
        self.dropped = 0

    def append(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            if len(self._queued) + len(rows) > self.max_queued:
                self.dropped += len(rows)
                if not self._dropping:
                    self._dropping = True
                    logger.warning("log %s: writer behind, dropping rows (queue full)", self.uri)
                dropped = True
            else:
                self._queued.extend(rows)
                dropped = False
        if dropped and self.on_drop is not None:
            self.on_drop(len(rows))

    def pending(self) -> int:
        return len(self._queued) + len(self._rows)

    # -- journal ----------------------------------------------------------------------

    def _journal(self) -> None:
        """Move queued rows into the journal (and the rows to write). Holds _write_lock."""
        with self._lock:
            batch, self._queued = self._queued, []
            if self._dropping and not batch:
                self._dropping = False
                logger.info("log %s: writer caught up (%d rows dropped)", self.uri, self.dropped)
        if not batch:
            return
        if self.journal_dir is not None:
            try:
                if self._segment is None:
                    self._open_segment()
                assert self._segment is not None
                self._segment.write(b"".join(_journal_line(row) for row in batch))
                self._segment.flush()  # in the OS's hands: survives a SIGKILL
            except OSError:
                logger.exception("log %s: journal write failed", self.uri)
        self._rows.extend(batch)

    def _open_segment(self) -> None:
        assert self.journal_dir is not None
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        self._segment_path = self.journal_dir / f"{os.getpid()}-{self._sequence:08d}.wal"
        self._segment = self._segment_path.open("ab")

    def _close_segment(self) -> None:
        if self._segment is not None and self._segment_path is not None:
            self._segment.close()
            self._covered.append(self._segment_path)
        self._segment = self._segment_path = None

    def journal(self) -> None:
        with self._write_lock:
            self._journal()

    # -- dataset ----------------------------------------------------------------------

    def flush(self) -> int:
        """Write everything appended so far to the dataset; returns the rows written."""
        with self._write_lock:
            self._journal()
            rows, self._rows = self._rows, []
            self._close_segment()
            segments, self._covered = self._covered, []
        if rows and not self._write(rows):
            with self._write_lock:
                self._rows[:0] = rows
                self._covered[:0] = segments
            return 0
        for path in segments:
            path.unlink(missing_ok=True)
        return len(rows)

    def _write(self, rows: list[dict[str, Any]]) -> bool:
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_day[row["timestamp"].date().isoformat()].append(row)
        try:
            for day, day_rows in by_day.items():
                store.append_chunk(self.uri, day, self._frame(day_rows), self.storage_options)
        except Exception:
            logger.exception("could not write %d log rows to %s; keeping them", len(rows), self.uri)
            return False
        self.written += len(rows)
        return True

    def _frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        vectors = None
        if "__vector" in rows[0]:
            if self.vector_columns:
                vectors = np.vstack([row["__vector"] for row in rows])
            rows = [{k: v for k, v in row.items() if k != "__vector"} for row in rows]
        if self.schema is not None:
            base = pl.DataFrame(rows, schema=self.schema, infer_schema_length=None)
        else:
            base = pl.DataFrame([_column(key, [row.get(key) for row in rows]) for key in rows[0]])
        if vectors is None:
            return base
        return base.hstack(pl.DataFrame(vectors, schema=self.vector_columns, orient="row"))

    def recover(self) -> int:
        """Write the journal segments a dead process left (this process's own pid included:
        it has written none yet) to the dataset; returns the rows recovered."""
        if self.journal_dir is None or not self.journal_dir.is_dir():
            return 0
        recovered = 0
        for path in sorted(self.journal_dir.glob("*.wal")):
            pid = int(path.name.split("-", 1)[0]) if path.name.split("-", 1)[0].isdigit() else 0
            if pid != os.getpid() and _alive(pid):
                continue  # another live worker's journal
            rows = _read_segment(path)
            if rows and not self._write(rows):
                continue  # kept for the next start
            recovered += len(rows)
            path.unlink(missing_ok=True)
        if recovered:
            logger.info("log %s: %d rows recovered from a previous run", self.uri, recovered)
        return recovered

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self.recover()

        def every(seconds: float, step: Callable[[], Any]) -> Callable[[], None]:
            def loop() -> None:
                while not self._stop.wait(seconds):
                    step()

            return loop

        loops: list[tuple[str, float, Callable[[], Any]]] = [
            ("flush", self.flush_seconds, self.flush)
        ]
        if self.journal_dir is not None:
            loops.append(("journal", self.journal_seconds, self.journal))
        for name, seconds, step in loops:
            thread = threading.Thread(
                target=every(seconds, step), name=f"log-{name}-{self.uri}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.flush()


def _journal_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$t": to_epoch_us(value)}
    raise TypeError(f"cannot journal a {type(value).__name__}")


def _journal_line(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row, default=_journal_default, option=_JOURNAL_OPTIONS) + b"\n"


def _read_segment(path: Path) -> list[dict[str, Any]]:
    """A segment's rows; a line cut short by the crash is skipped."""
    rows = []
    for line in path.read_bytes().splitlines():
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        row = {
            key: _EPOCH + timedelta(microseconds=value["$t"])
            if isinstance(value, dict) and "$t" in value
            else value
            for key, value in raw.items()
        }
        if "__vector" in row:
            row["__vector"] = np.asarray(row["__vector"], dtype=np.float64)
        rows.append(row)
    return rows


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _column(name: str, values: list[Any]) -> pl.Series:
    """One log column. Datetimes go through integers: polars converts ``datetime`` objects
    several times slower, and a flush runs in the API process, holding the GIL."""
    first = next((v for v in values if v is not None), None)
    if not isinstance(first, datetime):
        return pl.Series(name, values, strict=False)
    micros = [None if v is None else to_epoch_us(v) for v in values]
    return pl.Series(name, micros, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
