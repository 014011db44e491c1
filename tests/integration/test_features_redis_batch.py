"""On a real Redis, a batch's online features (one pipelined script call per transaction)
are the ones its transactions get one after another: the same random streams as
``tests/unit/test_features_batch.py``, scored singly and in batches on two key prefixes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from batch_support import assert_same, events_of, orders, play
from features_support import Stream, streams
from fraudops.features.online import MemoryOnlineStore, OnlineFeatureEngine, RedisOnlineStore
from fraudops.features.spec import feature_names

pytestmark = pytest.mark.integration

NAMES = feature_names()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), stream=streams(max_size=30), batch=st.integers(2, 30))
def test_batches_equal_single_calls_on_redis(
    redis_server: str, data: st.DataObject, stream: Stream, batch: int
) -> None:
    events = events_of(stream, data.draw(orders(len(stream.transactions))))
    stores = [RedisOnlineStore(redis_server, prefix=f"b-{uuid.uuid4().hex[:12]}") for _ in "ab"]
    try:
        singles = play(OnlineFeatureEngine(stores[0]), events, batch=1)
        batched = play(OnlineFeatureEngine(stores[1]), events, batch=batch)
        assert_same(batched, singles, NAMES)
    finally:
        for store in stores:
            store.clear()
            store.close()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), stream=streams(max_size=30))
def test_late_and_retried_traffic_on_redis_gets_the_memory_stores_features(
    redis_server: str, data: st.DataObject, stream: Stream
) -> None:
    """Counted entities' times are day buckets edited in Lua on Redis and one sorted array
    in memory: a transaction arriving late (into an older bucket, or between two others)
    or twice must leave both counting the same.

    Within four weeks of traffic: past that the stores forget differently, both by the
    newest transaction's time (memory trims a counted entity's times to the exact µs,
    Redis by whole day buckets, and memory evicts an idle entity by its clock where Redis
    lets it expire in wall-clock time), so a transaction arriving weeks late may find
    more history on Redis."""
    times = stream.transactions["timestamp"]
    assume(times.max() - times.min() < timedelta(days=28))  # type: ignore[operator]
    events = events_of(stream, data.draw(orders(len(stream.transactions))))
    store = RedisOnlineStore(redis_server, prefix=f"l-{uuid.uuid4().hex[:12]}")
    try:
        in_memory = play(OnlineFeatureEngine(MemoryOnlineStore()), events, batch=1)
        on_redis = play(OnlineFeatureEngine(store), events, batch=1)
        assert_same(on_redis, in_memory, NAMES)
    finally:
        store.clear()
        store.close()


def test_a_busy_terminal_counts_alike_with_late_days_and_same_time_rows(
    redis_server: str,
) -> None:
    """Hundreds of transactions a day at one terminal, then late ones: into a day between
    two held ones (a new bucket in the middle of its listing), before its first day, and
    at a time already held."""
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    stamps = [t0 + timedelta(days=day, seconds=97 * k) for day in (0, 2, 4) for k in range(300)]
    stamps += [t0 + timedelta(days=1, hours=5), t0 - timedelta(hours=3), stamps[450], stamps[-1]]
    stamps += [t0 + timedelta(days=4, hours=20) + timedelta(minutes=k) for k in range(5)]
    events = [
        (
            "tx",
            {
                "transaction_id": f"busy-{k:04d}",
                "timestamp": at,
                "card_id": f"card-{k % 7}",
                "merchant_id": "m-busy",
                "terminal_id": "t-busy",
                "amount": 10.0 + k % 13,
                "country": "FR",
            },
        )
        for k, at in enumerate(stamps)
    ]
    store = RedisOnlineStore(redis_server, prefix=f"busy-{uuid.uuid4().hex[:12]}")
    try:
        in_memory = play(OnlineFeatureEngine(MemoryOnlineStore()), events, batch=1)
        on_redis = play(OnlineFeatureEngine(store), events, batch=1)
        assert_same(on_redis, in_memory, NAMES)
        terminal_count = NAMES.index("terminal_tx_count_1d")
        assert in_memory[-1, terminal_count] > 300  # the day's rows were all counted
    finally:
        store.clear()
        store.close()
