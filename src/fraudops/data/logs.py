"""Append-only prediction and label logs, written off the request path.

Requests append rows to an in-memory buffer; a background thread writes the buffer as a
parquet chunk per day every few seconds, and ``close()`` flushes what is left (called on
shutdown), so monitoring sees every prediction without the API waiting on storage.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from fraudops.data import store
from fraudops.features.online import to_epoch_us

logger = logging.getLogger(__name__)


class AppendLog:
    def __init__(
        self,
        uri: str,
        flush_seconds: float = 2.0,
        storage_options: dict[str, Any] | None = None,
        schema: dict[str, pl.DataType] | None = None,
        vector_columns: list[str] | None = None,
    ) -> None:
        self.uri = uri
        self.flush_seconds = flush_seconds
        self.storage_options = storage_options
        self.schema = schema
        # rows may carry a feature vector under "__vector": expanded into these columns at
        # flush time, column-wise, instead of 50 dict entries per prediction on the hot path
        self.vector_columns = vector_columns
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0

    def append(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._rows.extend(rows)

    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> int:
        """Write everything buffered; returns the number of rows written."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_day[row["timestamp"].date().isoformat()].append(row)
        try:
            for day, day_rows in by_day.items():
                store.append_chunk(self.uri, day, self._frame(day_rows), self.storage_options)
        except Exception:
            logger.exception("could not write %d log rows to %s; keeping them", len(rows), self.uri)
            with self._lock:
                self._rows[:0] = rows
            return 0
        self.written += len(rows)
        return len(rows)

    def _frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        vectors = None
        if self.vector_columns and "__vector" in rows[0]:
            vectors = np.vstack([row.pop("__vector") for row in rows])
        if self.schema is not None:
            base = pl.DataFrame(rows, schema=self.schema, infer_schema_length=None)
        else:
            base = pl.DataFrame([_column(key, [row.get(key) for row in rows]) for key in rows[0]])
        if vectors is None:
            return base
        return base.hstack(pl.DataFrame(vectors, schema=self.vector_columns, orient="row"))

    def start(self) -> None:
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.flush_seconds):
                self.flush()

        self._thread = threading.Thread(target=loop, name=f"log-{self.uri}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


def _column(name: str, values: list[Any]) -> pl.Series:
    """One log column. Datetimes go through integers: polars converts ``datetime`` objects
    several times slower, and a flush runs in the API process, holding the GIL."""
    first = next((v for v in values if v is not None), None)
    if not isinstance(first, datetime):
        return pl.Series(name, values, strict=False)
    micros = [None if v is None else to_epoch_us(v) for v in values]
    return pl.Series(name, micros, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
