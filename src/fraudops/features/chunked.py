"""Offline features in time chunks: memory set by a chunk and its look-back, not the history.

A chunk is a run of whole UTC days. Its features need the chunk's rows and, before them,
the spec's longest look-back (:func:`~fraudops.features.spec.max_retention`: window plus
delay); older rows cannot enter any window of the chunk. So each chunk reads
``[start - look-back, end]``, computes with the earlier rows as history only
(``compute_features(since=start)``) and yields the chunk's rows. The result equals the
unchunked engine's, up to float rounding of window sums (prefix sums start at another row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from fraudops.features.definition import FeatureDef
from fraudops.features.offline import compute_features
from fraudops.features.spec import FEATURES, max_retention

Loader = Callable[[date, date], pl.DataFrame]  # transactions of days [first, last]


@dataclass(frozen=True)
class Chunk:
    start: date  # first day whose features are computed
    end: date  # last day, inclusive
    history_from: date  # first day read: ``start`` minus the look-back


def plan_chunks(
    days: Sequence[date], chunk_days: int, features: Sequence[FeatureDef] = FEATURES
) -> list[Chunk]:
    """Chunks of ``chunk_days`` consecutive days covering ``days``, with their look-back."""
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be at least 1, got {chunk_days}")
    if not days:
        return []
    look_back = max_retention(tuple(features))
    first, last = min(days), max(days)
    chunks = []
    start = first
    while start <= last:
        end = min(start + timedelta(days=chunk_days - 1), last)
        midnight = datetime(start.year, start.month, start.day, tzinfo=UTC)
        history_from = max((midnight - look_back).date(), first)
        chunks.append(Chunk(start, end, history_from))
        start = end + timedelta(days=1)
    return chunks


def chunked_features(
    load: Loader,
    days: Sequence[date],
    chunk_days: int,
    labels: pl.DataFrame | None = None,
    features: Sequence[FeatureDef] = FEATURES,
) -> Iterator[tuple[Chunk, pl.DataFrame]]:
    """``compute_features`` of the days, chunk by chunk, in time order (compact dtypes)."""
    for chunk in plan_chunks(days, chunk_days, features):
        history = load(chunk.history_from, chunk.end)
        since = datetime(chunk.start.year, chunk.start.month, chunk.start.day, tzinfo=UTC)
        yield chunk, compute_features(history, labels, features, since=since)
