"""An online store that fails fast: a circuit breaker, a prober and a replay backlog.

A payment authorisation cannot wait for a store that is down. When the wrapped store
raises one of its connection errors, the breaker opens: calls raise
:class:`StoreUnavailableError` at once (the engine then computes what it can without state)
and the transactions and fraud labels they carried go to a bounded in-memory backlog.
A background thread pings the store every ``probe_seconds``; when it answers, the breaker
turns half-open, the backlog is replayed in arrival order (so velocity features count the
transactions scored meanwhile) and the breaker closes. One log line per state change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from fraudops.features.online.batch import BatchKernel, BatchRows
from fraudops.features.online.layout import BackfillData, Compute, StoreLayout, T, TxRecord
from fraudops.features.online.store import OnlineStore

logger = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half_open"]
_REPLAY_CHUNK = 500


class StoreUnavailableError(Exception):
    """The online store cannot be used now (the breaker is open); the message says why."""


def _noop(record: TxRecord, views: Any, known: bool) -> None:
    return None


class ResilientStore(OnlineStore):
    """Wraps ``inner``; only ``inner.failures`` (connection errors) open the breaker."""

    def __init__(
        self,
        inner: OnlineStore,
        probe_seconds: float = 1.0,
        backlog_limit: int = 100_000,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.inner = inner
        self.failures = inner.failures
        self.batches = inner.batches
        self.probe_seconds = probe_seconds
        self.on_change = on_change
        self.state: BreakerState = "closed"
        self.reason = ""
        self.backlog: deque[tuple[TxRecord | None, str, int]] = deque(maxlen=backlog_limit)
        self.backlog_dropped = 0
        self.replayed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._prober: threading.Thread | None = None

    def configure(self, layout: StoreLayout) -> None:
        super().configure(layout)
        self.inner.configure(layout)

    # -- breaker ----------------------------------------------------------------------

    def _set(self, state: BreakerState, reason: str = "") -> None:
        """Caller holds the lock."""
        if state == self.state:
            return
        previous, self.state = self.state, state
        if state == "open":
            self.reason = reason
            logger.warning("online store unavailable (%s): circuit open, degraded scoring", reason)
        elif state == "half_open":
            logger.info("online store answers again: replaying %d queued events", len(self.backlog))
        else:
            self.reason = ""
            logger.info(
                "online store back: circuit closed (from %s, %d events replayed so far)",
                previous,
                self.replayed,
            )
        if self.on_change is not None:
            self.on_change(state)

    def _open(self, exc: BaseException) -> None:
        """Caller holds the lock."""
        self._set("open", f"{type(exc).__name__}: {exc}"[:200])
        if self._prober is None or not self._prober.is_alive():
            self._prober = threading.Thread(target=self._probe, name="store-probe", daemon=True)
            self._prober.start()

    def _queue(self, record: TxRecord | None, tx_id: str = "", reported_us: int = 0) -> None:
        if len(self.backlog) == self.backlog.maxlen:
            if self.backlog_dropped == 0:
                logger.warning(
                    "online store backlog full (%d): the oldest events will not reach the store",
                    self.backlog.maxlen,
                )
            self.backlog_dropped += 1
        self.backlog.append((record, tx_id, reported_us))

    def _degraded(self) -> bool:
        # read again under the lock: the prober may have closed the breaker meanwhile
        return self.state != "closed"

    def _unavailable(self) -> StoreUnavailableError:
        return StoreUnavailableError(f"online store unavailable ({self.reason})")

    def _probe(self) -> None:
        # one thread for the process's life once the store has failed: a thread that ended
        # on closing could miss a failure arriving while it exits, leaving the breaker open
        while not self._stop.wait(self.probe_seconds):
            if self.state == "closed" or not self.inner.ping():
                continue
            with self._lock:
                self._set("half_open")
            try:
                self._replay()
            except Exception as exc:  # never let the prober die: stay open, try again
                logger.exception("online store replay failed")
                with self._lock:
                    self._set("open", f"replay failed: {type(exc).__name__}")

    def _replay(self) -> bool:
        """Replay the backlog oldest first; True once it is empty and the breaker closed."""
        while True:
            with self._lock:
                chunk = [
                    self.backlog.popleft() for _ in range(min(_REPLAY_CHUNK, len(self.backlog)))
                ]
                if not chunk:
                    self._set("closed")
                    return True
            try:
                self._apply(chunk)
            except Exception as exc:
                with self._lock:
                    self.backlog.extendleft(reversed(chunk))
                    self._set("open", f"{type(exc).__name__}: {exc}"[:200])
                if not isinstance(exc, self.inner.failures):
                    raise
                return False
            self.replayed += len(chunk)

    def _apply(self, chunk: list[tuple[TxRecord | None, str, int]]) -> None:
        """Transactions (pipelined) and labels in arrival order; a known id is not added
        twice, so a replay after a partly applied pipeline is safe."""
        records: list[TxRecord] = []
        for record, tx_id, reported_us in chunk:
            if record is not None:
                records.append(record)
                continue
            self.inner.exchange_many(records, _noop)
            records = []
            self.inner.add_fraud_label(tx_id, reported_us)
        self.inner.exchange_many(records, _noop)

    # -- store interface --------------------------------------------------------------

    def exchange(self, record: TxRecord, compute: Compute[T]) -> T:
        return self.exchange_many([record], compute)[0]

    def exchange_many(self, records: Sequence[TxRecord], compute: Compute[T]) -> list[T]:
        if self.state != "closed":
            with self._lock:
                if self._degraded():
                    for record in records:
                        self._queue(record)
                    raise self._unavailable()
        try:
            if len(records) == 1:
                return [self.inner.exchange(records[0], compute)]
            return self.inner.exchange_many(records, compute)
        except self.inner.failures as exc:
            with self._lock:
                # a pipeline may have applied part of the batch: a replay adds the rest
                # (the store skips ids it already holds)
                for record in records:
                    self._queue(record)
                self._open(exc)
            raise self._unavailable() from None

    def exchange_batch(self, rows: BatchRows, kernel: BatchKernel) -> np.ndarray | None:
        if self.state != "closed":
            return None  # the one-by-one path queues the batch and says why
        try:
            return self.inner.exchange_batch(rows, kernel)
        except self.inner.failures:
            return None  # nothing was applied: the one-by-one path meets the failure

    def add_fraud_label(self, tx_id: str, reported_us: int) -> bool:
        if self.state == "closed":
            try:
                return self.inner.add_fraud_label(tx_id, reported_us)
            except self.inner.failures as exc:
                with self._lock:
                    self._open(exc)
        with self._lock:
            self._queue(None, tx_id, reported_us)
        return False

    def knows(self, tx_id: str) -> bool:
        if self.state != "closed":
            return False
        try:
            return self.inner.knows(tx_id)
        except self.inner.failures as exc:
            with self._lock:
                self._open(exc)
            return False

    def load(self, data: BackfillData) -> None:
        self.inner.load(data)

    def ping(self) -> bool:
        return self.state == "closed" and self.inner.ping()

    def clear(self) -> None:
        self.inner.clear()

    def close(self) -> None:
        self._stop.set()
        if self._prober is not None:
            self._prober.join(timeout=5)
        self.inner.close()

    def wait_closed(self, timeout: float) -> bool:
        """Block until the breaker is closed and the backlog replayed (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.state != "closed":
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True
