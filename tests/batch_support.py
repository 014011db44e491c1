"""Helpers for the batch-equals-singles tests: a stream scored one transaction at a time
and the same stream scored in batches, with its label events in between.

Importable from every test folder because pytest puts ``tests/`` on the path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
from hypothesis import strategies as st

from features_support import Stream
from fraudops.features.online import OnlineFeatureEngine

Event = tuple[str, dict[str, Any]]  # ("label" | "tx", payload)


def events_of(stream: Stream, order: Sequence[int] | None = None) -> list[Event]:
    """The stream's transactions in ``(timestamp, id)`` order (or their rows rearranged by
    ``order``: late and out-of-order traffic), label events at their ingestion times."""
    rows = stream.transactions.sort("timestamp", "transaction_id").to_dicts()
    timed: list[tuple[datetime, int, int, Event]] = [
        (at, 0, k, ("label", event))
        for k, (event, at) in enumerate(
            zip(stream.labels.to_dicts(), stream.ingest_at, strict=True)
        )
    ]
    timed += [(row["timestamp"], 1, k, ("tx", row)) for k, row in enumerate(rows)]
    timed.sort(key=lambda e: (e[0], e[1], e[2]))
    events = [event for *_, event in timed]
    if order is not None:  # the same slots, the transactions in another order
        slots = [i for i, (kind, _) in enumerate(events) if kind == "tx"]
        payloads = [events[i][1] for i in slots]
        for slot, k in zip(slots, order, strict=True):
            events[slot] = ("tx", payloads[k])
    return events


def events_from(transactions: pl.DataFrame, labels: pl.DataFrame) -> list[Event]:
    """Transactions in ``(timestamp, id)`` order with each label at its ``reported_at``."""
    timed: list[tuple[datetime, int, int, Event]] = [
        (event["reported_at"], 0, k, ("label", event)) for k, event in enumerate(labels.to_dicts())
    ]
    rows = transactions.sort("timestamp", "transaction_id").to_dicts()
    timed += [(row["timestamp"], 1, k, ("tx", row)) for k, row in enumerate(rows)]
    timed.sort(key=lambda e: (e[0], e[1], e[2]))
    return [event for *_, event in timed]


def play(engine: OnlineFeatureEngine, events: Sequence[Event], batch: int) -> np.ndarray:
    """Feed ``events``; runs of consecutive transactions go in batches of up to ``batch``
    (``process_many``), or one by one (``process``) when ``batch`` is 1."""
    vectors: list[np.ndarray] = []
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if batch == 1:
            vectors.extend(engine.process(tx).reshape(1, -1) for tx in pending)
        elif pending:
            vectors.append(engine.process_many(pending))
        pending.clear()

    for kind, payload in events:
        if kind == "label":
            flush()
            engine.ingest_label(
                payload["transaction_id"], payload["is_fraud"], payload["reported_at"]
            )
            continue
        pending.append(payload)
        if len(pending) >= batch:
            flush()
    flush()
    return np.vstack(vectors) if vectors else np.empty((0, len(engine.feature_names)))


@st.composite
def orders(draw: st.DrawFn, n: int) -> list[int] | None:
    """Usually none (time order); sometimes a shuffle, or a few retries of earlier ids."""
    choice = draw(st.sampled_from(["time", "time", "shuffled", "retried"]))
    if choice == "shuffled":
        return draw(st.permutations(list(range(n))))
    if choice == "retried":  # a transaction sent again later (a retry after a timeout)
        return sorted(draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
    return None


def assert_same(batched: np.ndarray, singles: np.ndarray, names: Sequence[str]) -> None:
    """Bit-for-bit equal, naming the first difference."""
    same = (batched == singles) | (np.isnan(batched) & np.isnan(singles))
    if not same.all():
        row, column = np.argwhere(~same)[0]
        raise AssertionError(
            f"row {row} feature {names[column]}: batch={batched[row, column]!r} "
            f"singles={singles[row, column]!r}"
        )
