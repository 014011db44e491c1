"""On a real Redis, a batch's online features (one pipelined script call per transaction)
are the ones its transactions get one after another: the same random streams as
``tests/unit/test_features_batch.py``, scored singly and in batches on two key prefixes."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_support import assert_same, events_of, orders, play
from features_support import Stream, streams
from fraudops.features.online import OnlineFeatureEngine, RedisOnlineStore
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
