"""Offline and online engines give the same features on the same stream (memory store).

Hypothesis generates streams that hit the hard cases: ties on identical timestamps,
transactions exactly on window boundaries (and one µs either side), first-ever
transactions, labels reported before/at/after their transaction, several and contradictory
label events per transaction, label events ingested early and out of order, labels for
transactions not seen yet or never, and UTC midnight, week and year edges.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
