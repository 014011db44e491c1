"""The time-chunked offline engine equals the engine over the whole history."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.chunked import chunked_features, plan_chunks
from fraudops.features.offline import compute_features
from fraudops.features.spec import FEATURES
from fraudops.schema import label_feed_from_transactions

SHORT = tuple(f for f in FEATURES if f.retention <= timedelta(days=1))


def _by_day(transactions: pl.DataFrame):  # type: ignore[no-untyped-def]
    day = pl.col("timestamp").dt.date()

    def load(first: date, last: date) -> pl.DataFrame:
        return transactions.filter(day >= first, day <= last)

    days = sorted(set(transactions["timestamp"].dt.date().to_list()))
    return load, days


def _assert_same(whole: pl.DataFrame, parts: list[pl.DataFrame]) -> None:
    chunked = pl.concat(parts)
    assert chunked.columns == whole.columns
    assert chunked["transaction_id"].to_list() == whole["transaction_id"].to_list()
    for name in whole.columns:
        ours, theirs = chunked[name], whole[name]
        if ours.dtype.is_float():
            # window sums are prefix-sum differences: another first row, another rounding
            assert np.allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-9, atol=1e-9), name
        else:
            assert ours.equals(theirs), name


@pytest.mark.parametrize("seed", [3, 11])
@pytest.mark.parametrize("chunk_days", [2, 10])
def test_chunks_with_their_look_back_give_the_whole_history_features(
    seed: int, chunk_days: int
) -> None:
    # longer than the spec's 37-day look-back, so late chunks really drop early days
    days = 45
    transactions = generate(
        SimulationConfig(
            customers=120, days=days, start=date(2026, 1, 1), seed=seed, fraud_rate=0.05
        )
    )
    load, all_days = _by_day(transactions)
    assert any(c.history_from > all_days[0] for c in plan_chunks(all_days, chunk_days))
    whole = compute_features(transactions)
    parts = [part for _, part in chunked_features(load, all_days, chunk_days)]
    _assert_same(whole, parts)


def test_a_short_spec_reads_only_its_short_look_back_and_an_external_feed_works(
    small_transactions: pl.DataFrame,
) -> None:
    load, days = _by_day(small_transactions)
    plan = plan_chunks(days, 2, SHORT)
    assert all(c.start - c.history_from <= timedelta(days=1) for c in plan)
    feed = label_feed_from_transactions(small_transactions)
    whole = compute_features(small_transactions, feed, SHORT)
    parts = [part for _, part in chunked_features(load, days, 2, feed, SHORT)]
    _assert_same(whole, parts)


def test_plan_covers_every_day_once() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(10)]
    plan = plan_chunks(days, 3)
    assert [(c.start.day, c.end.day) for c in plan] == [(1, 3), (4, 6), (7, 9), (10, 10)]
    assert all(c.history_from == date(2026, 1, 1) for c in plan)  # 37-day look-back
    with pytest.raises(ValueError, match="chunk_days"):
        plan_chunks(days, 0)


def test_the_pipeline_writes_the_same_table_chunked(
    small_transactions: pl.DataFrame, tmp_path: Path
) -> None:
    from fraudops.data import store
    from fraudops.pipelines.features import build_features

    source = tmp_path / "raw"
    for day, part in small_transactions.group_by(pl.col("timestamp").dt.date()):
        store.write_partition(str(source), day[0], part)  # type: ignore[arg-type]
    whole = build_features(str(source), str(tmp_path / "whole"))
    chunked = build_features(str(source), str(tmp_path / "chunked"), chunk_days=3)
    assert chunked["rows"] == whole["rows"] == small_transactions.height
    assert chunked["partitions"] == whole["partitions"]
    a = store.read_dataset(str(tmp_path / "whole"))
    b = store.read_dataset(str(tmp_path / "chunked"))
    _assert_same(a, [b])
