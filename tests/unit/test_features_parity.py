"""Offline and online engines give the same features on the same stream (memory store),
and the Spark engine gives the offline engine's table.

Hypothesis generates streams that hit the hard cases: ties on identical timestamps,
transactions exactly on window boundaries (and one µs either side), first-ever
transactions, labels reported before/at/after their transaction, several and contradictory
label events per transaction, label events ingested early and out of order, labels for
transactions not seen yet or never, and UTC midnight, week and year edges.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features_support import Stream, replay, streams
from fraudops.features.offline import build_offline_features
from fraudops.features.online import MemoryOnlineStore, OnlineFeatureEngine
from fraudops.features.spec import feature_names


def assert_parity(online: np.ndarray, offline: np.ndarray) -> None:
    names = feature_names()
    close = np.isclose(online, offline, rtol=1e-9, atol=1e-9)
    if not close.all():
        row, column = np.argwhere(~close)[0]
        raise AssertionError(
            f"{(~close).sum()} values differ; first: row {row} feature {names[column]} "
            f"online={online[row, column]!r} offline={offline[row, column]!r}"
        )


def offline_matrix(stream: Stream) -> np.ndarray:
    table = build_offline_features(stream.transactions, stream.labels)
    return table.select(feature_names()).to_numpy()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_online_memory_equals_offline(stream: Stream) -> None:
    engine = OnlineFeatureEngine(MemoryOnlineStore())
    online = replay(engine, stream.transactions, stream.labels, stream.ingest_at)
    assert_parity(online, offline_matrix(stream))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(max_size=16), st.floats(0, 1))
def test_backfill_then_stream_equals_offline(stream: Stream, share: float) -> None:
    """A server warmed from stored history continues exactly as the offline table."""
    transactions = stream.transactions.sort("timestamp", "transaction_id")
    split = int(transactions.height * share)
    history, live = transactions.head(split), transactions.slice(split)
    engine = OnlineFeatureEngine(MemoryOnlineStore())
    engine.backfill(history, stream.labels)
    online = replay(engine, live)  # every label is already in the store
    assert_parity(online, offline_matrix(stream)[split:])


def test_parity_on_simulated_traffic() -> None:
    """Realistic volumes per card and terminal, many frauds and label delays."""
    from fraudops.data.generate import SimulationConfig, generate
    from fraudops.schema import label_feed_from_transactions

    transactions = generate(
        SimulationConfig(
            customers=60,
            days=21,
            fraud_rate=0.05,
            label_delay_model="gamma",
            label_delay_mean_days=2,
            seed=3,
        )
    )
    engine = OnlineFeatureEngine(MemoryOnlineStore())
    online = replay(engine, transactions, label_feed_from_transactions(transactions))
    offline = build_offline_features(transactions).select(feature_names()).to_numpy()
    assert transactions.height > 1000
    assert_parity(online, offline)


def _combined(batch: list[Stream]) -> Stream:
    """Several streams as one: ids and entities prefixed per stream, so no two interact."""
    entity_columns = ("transaction_id", "card_id", "merchant_id", "terminal_id", "customer_id")
    transactions, labels = [], []
    for k, stream in enumerate(batch):
        prefix = pl.lit(f"s{k}-")
        transactions.append(
            stream.transactions.with_columns(
                [(prefix + pl.col(c)).alias(c) for c in entity_columns]
            )
        )
        labels.append(stream.labels.with_columns(prefix + pl.col("transaction_id")))
    return Stream(pl.concat(transactions), pl.concat(labels), [])


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(streams(), min_size=1, max_size=12))
def test_spark_equals_offline(spark: Any, batch: list[Stream]) -> None:
    """The Spark engine gives the polars engine's table to the bit, dtypes included.

    One Spark job checks a batch of generated streams at once (each Spark run has a fixed
    cost of seconds), with a label feed; the CLI test covers labels from the rows."""
    from fraudops.features.offline import compute_features
    from fraudops.features.spark.engine import spark_offline_features, to_polars

    stream = _combined(batch)
    expected = compute_features(stream.transactions, stream.labels)
    table = spark_offline_features(
        spark.createDataFrame(stream.transactions.to_arrow()),
        spark.createDataFrame(stream.labels.to_arrow()),
    )
    assert_frame_equal(to_polars(table), expected, check_exact=True)
