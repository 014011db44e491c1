"""Cases and labels written off the request path.

Scoring hands the reviewed transactions to :meth:`CaseRecorder.on_scored` and every label
to :meth:`CaseRecorder.on_label`; both only put an item on a bounded queue (never
blocking: when it is full the item is dropped and counted), and one writer thread stores
them. Labels pass through the same queue, after the cases scored before them, so a
verdict's conflict check sees the chargebacks that came first.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from fraudops.cases.store import CaseStore, NewCase

logger = logging.getLogger(__name__)
_STOP = object()
# queued items stored per database transaction: one commit (an fsync on SQLite) per case
# would cap the writer at a few dozen cases a second
WRITE_BATCH = 500


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def needs_case(result: Mapping[str, Any], case_rules: frozenset[str]) -> bool:
    """A review decision, or an active rule that asks for a case, fired."""
    return result["decision"] == "review" or any(r in case_rules for r in result["rules"])


def new_case(tx: Mapping[str, Any], result: Mapping[str, Any]) -> NewCase:
    moment = tx["timestamp"]
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    decided_by = result["decided_by"]
    return NewCase(
        transaction_id=str(tx["transaction_id"]),
        card_id=str(tx["card_id"]),
        amount=float(tx["amount"]),
        transaction_time=moment if moment.tzinfo else moment.replace(tzinfo=UTC),
        fraud_probability=float(result["fraud_probability"]),
        score=int(result["score"]),
        decision=str(result["decision"]),
        decided_by=f"{decided_by['stage']}:{decided_by['name']}",
        rules=tuple(result["rules"]),
        reasons=list(result.get("reasons") or []),
        transaction={k: _json_safe(v) for k, v in tx.items()},
    )


class CaseRecorder:
    """The scoring service's case sink: a bounded queue and one writer thread."""

    def __init__(
        self,
        store: CaseStore,
        case_rules: Callable[[], frozenset[str]] = frozenset,
        max_pending: int = 10_000,
        on_drop: Callable[[int], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.case_rules = case_rules
        self.on_drop = on_drop
        self.clock = clock
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_pending)
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.failed = 0
        self.opened = 0

    # -- called on the request path: never blocks ----------------------------------------
    def _offer(self, item: Any, count: int) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += count
            if self.on_drop is not None:
                self.on_drop(count)

    def on_scored(
        self, transactions: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
    ) -> None:
        rules = self.case_rules()
        picked = [
            (tx, result)
            for tx, result in zip(transactions, results, strict=True)
            if needs_case(result, rules)
        ]
        if picked:
            self._offer(("cases", picked), len(picked))

    def on_label(
        self, transaction_id: str, is_fraud: int, reported_at: datetime, source: str
    ) -> None:
        self._offer(("label", (transaction_id, is_fraud, reported_at, source)), 1)

    # -- the writer ------------------------------------------------------------------------
    def _write(self, items: Sequence[Any]) -> None:
        """Store items in their order; consecutive case items share one transaction."""
        now = self.clock()
        pending: list[NewCase] = []
        for kind, payload in [*items, ("end", None)]:
            if kind == "cases":
                pending.extend(new_case(tx, r) for tx, r in payload)
                continue
            if pending:
                self.opened += self.store.create_cases(pending, now)
                pending = []
            if kind == "label":
                transaction_id, is_fraud, reported_at, source = payload
                self.store.record_label(
                    transaction_id, is_fraud, source=source, reported_at=reported_at, now=now
                )

    def _write_safely(self, items: Sequence[Any]) -> None:
        try:
            self._write(items)
        except Exception:
            if len(items) > 1:  # one bad item must not cost the rest of the batch
                for item in items:
                    self._write_safely([item])
                return
            self.failed += 1
            logger.exception("could not store a case or label")

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < WRITE_BATCH and batch[-1] is not _STOP:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = batch[-1] is _STOP
            try:
                self._write_safely([item for item in batch if item is not _STOP])
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="case-writer", daemon=True)
            self._thread.start()

    def drain(self) -> None:
        """Wait until everything queued so far is stored (tests, shutdown)."""
        if self._thread is None:
            while not self._queue.empty():
                self._write_safely([self._queue.get_nowait()])
                self._queue.task_done()
            return
        self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
            self._thread = None
        self.drain()

    @property
    def pending(self) -> int:
        return self._queue.qsize()
