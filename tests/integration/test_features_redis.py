"""The online engine on a real Redis: parity with offline, shared state, bounded keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from features_support import Stream, replay, streams
from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.offline import build_offline_features
from fraudops.features.online import OnlineFeatureEngine, RedisOnlineStore
from fraudops.features.online.packed import HEADER
from fraudops.features.online.redis_index import index_slot
from fraudops.features.online.times import US_PER_DAY, to_epoch_us
from fraudops.features.spec import feature_names, max_retention
from fraudops.schema import label_feed_from_transactions

pytestmark = pytest.mark.integration

NAMES = feature_names()
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
DAY_MS = 86_400_000


def fresh_store(url: str) -> RedisOnlineStore:
    """A store under its own key prefix, so examples never see each other's state."""
    return RedisOnlineStore(url, prefix=f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def store(redis_server: str) -> Iterator[RedisOnlineStore]:
    redis_store = fresh_store(redis_server)
    yield redis_store
    redis_store.clear()
    redis_store.close()


def assert_parity(online: np.ndarray, offline: np.ndarray) -> None:
    close = np.isclose(online, offline, rtol=1e-9, atol=1e-9)
    if not close.all():
        row, column = np.argwhere(~close)[0]
        raise AssertionError(
            f"row {row} feature {NAMES[column]}: online={online[row, column]!r} "
            f"offline={offline[row, column]!r}"
        )


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(stream=streams())
def test_online_redis_equals_offline(redis_server: str, stream: Stream) -> None:
    store = fresh_store(redis_server)
    try:
        engine = OnlineFeatureEngine(store)
        online = replay(engine, stream.transactions, stream.labels, stream.ingest_at)
        offline = build_offline_features(stream.transactions, stream.labels)
        assert_parity(online, offline.select(NAMES).to_numpy())
    finally:
        store.clear()
        store.close()


def test_replicas_share_state_and_labels(redis_server: str) -> None:
    """Two API replicas on one Redis behave as one engine."""
    transactions = generate(
        SimulationConfig(
            customers=40,
            days=14,
            fraud_rate=0.05,
            label_delay_model="gamma",
            label_delay_mean_days=2,
            seed=12,
        )
    )
    labels = label_feed_from_transactions(transactions)
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    replicas = [
        OnlineFeatureEngine(RedisOnlineStore(redis_server, prefix=prefix)) for _ in range(2)
    ]
    rows = transactions.sort("timestamp", "transaction_id").to_dicts()
    events = sorted(labels.to_dicts(), key=lambda e: e["reported_at"])
    vectors = []
    position = 0
    for k, row in enumerate(rows):
        while position < len(events) and events[position]["reported_at"] <= row["timestamp"]:
            event = events[position]
            # labels reach whichever replica the load balancer picks
            replicas[position % 2].ingest_label(
                event["transaction_id"], event["is_fraud"], event["reported_at"]
            )
            position += 1
        vectors.append(replicas[k % 2].process(row))
    offline = build_offline_features(transactions).select(NAMES).to_numpy()
    assert_parity(np.vstack(vectors), offline)
    assert offline[:, NAMES.index("terminal_fraud_rate_30d")].max() > 0
    replicas[0].store.clear()


def test_process_many_pipelines_in_order(store: RedisOnlineStore) -> None:
    transactions = generate(SimulationConfig(customers=20, days=5, seed=13))
    rows = transactions.sort("timestamp", "transaction_id").to_dicts()
    engine = OnlineFeatureEngine(store)
    batched = np.vstack([engine.process_many(rows[i : i + 50]) for i in range(0, len(rows), 50)])
    offline = build_offline_features(transactions).select(NAMES).to_numpy()
    assert_parity(batched, offline)


def test_backfill_into_redis_then_live_equals_offline(store: RedisOnlineStore) -> None:
    transactions = generate(SimulationConfig(customers=40, days=20, fraud_rate=0.05, seed=14))
    ordered = transactions.sort("timestamp", "transaction_id")
    split = ordered.height // 2
    engine = OnlineFeatureEngine(store)
    assert engine.backfill(ordered.head(split), label_feed_from_transactions(transactions)) == split
    live = replay(engine, ordered.slice(split))
    offline = build_offline_features(transactions).select(NAMES).to_numpy()[split:]
    assert_parity(live, offline)


def test_state_is_trimmed_and_expires(store: RedisOnlineStore) -> None:
    engine = OnlineFeatureEngine(store)
    base = {"card_id": "c1", "merchant_id": "m1", "terminal_id": "t1", "amount": 5.0}
    for k in range(20):
        engine.process(
            {**base, "transaction_id": f"a{k}", "timestamp": T0 + k * timedelta(hours=1)}
        )
    later = T0 + timedelta(days=31)
    engine.process({**base, "transaction_id": "late", "timestamp": later})
    client = store.client
    card_key, _ = store._entity_keys(store.layout.entities[0], "c1")
    # one packed value per card (fraudops.features.online.packed): its row count
    assert HEADER.unpack_from(store._raw.get(card_key))[0] == 1  # only the latest
    ttl_ms = client.pttl(card_key)
    assert 0 < ttl_ms <= 30 * 86_400_000 + 1
    # ids are kept at least the spec's longest look-back (past it a label changes no
    # feature): their day's hash expires that long plus a day after the day's end
    horizon_ms = max_retention().total_seconds() * 1000
    day, offset = divmod(to_epoch_us(later), US_PER_DAY)
    buckets = int(client.hget(f"{store._ns}idx:days", str(day)))  # the day's own count
    bucket, field = index_slot("late", buckets)
    index_key = f"{store._ns}idx:{day}:{bucket}"
    assert store._raw.hexists(index_key, field)
    rest_of_day_ms = (US_PER_DAY - offset) // 1000
    assert (
        horizon_ms + DAY_MS - 60_000
        < client.pttl(index_key)
        <= (horizon_ms + DAY_MS + rest_of_day_ms)
    )


def test_labels_for_unknown_transactions(store: RedisOnlineStore) -> None:
    engine = OnlineFeatureEngine(store)
    assert engine.ingest_label("f", 1, T0 - timedelta(hours=1)) is False
    base = {"card_id": "c1", "merchant_id": "m1", "terminal_id": "t1", "amount": 5.0}
    engine.process({**base, "transaction_id": "f", "timestamp": T0})
    vector = engine.process({**base, "transaction_id": "g", "timestamp": T0 + timedelta(minutes=1)})
    assert vector[NAMES.index("terminal_fraud_rate_1d")] == 1.0
    assert engine.ingest_label("f", 0, T0) is True
    assert engine.ready()
