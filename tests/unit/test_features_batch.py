"""A batch's online features (``process_many``, what ``/v1/predict/batch`` and the closed
loop use) are the ones its transactions get one after another: the same stream scored
singly and in batches, on two memory stores, bit for bit (cards repeating in a batch,
equal times, window edges, labels before and between batches, retries, shuffled and late
traffic). ``tests/integration/test_features_redis_batch.py`` runs the same on Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_support import assert_same, events_of, orders, play
from features_support import Stream, streams
from fraudops.features.online import MemoryOnlineStore, OnlineFeatureEngine
from fraudops.features.spec import feature_names

NAMES = feature_names()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), stream=streams(max_size=40), batch=st.integers(2, 40))
def test_batches_equal_single_calls(data: st.DataObject, stream: Stream, batch: int) -> None:
    order = data.draw(orders(len(stream.transactions)))
    events = events_of(stream, order)
    singles = play(OnlineFeatureEngine(MemoryOnlineStore()), events, batch=1)
    batched = play(OnlineFeatureEngine(MemoryOnlineStore()), events, batch=batch)
    assert_same(batched, singles, NAMES)


def tx(tx_id: str, minutes: int, amount: float) -> dict[str, Any]:
    at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return {"transaction_id": tx_id, "timestamp": at, "card_id": "c1", "merchant_id": "m1",
            "terminal_id": "t1", "amount": amount}  # fmt: skip


def test_a_card_repeating_in_one_batch_sees_its_earlier_transactions() -> None:
    engine = OnlineFeatureEngine(MemoryOnlineStore())
    engine.process(tx("h", -30, amount=100.0))
    vectors = engine.process_many([tx(f"b{k}", k, amount=float(k + 1)) for k in range(3)])
    assert vectors[:, NAMES.index("card_tx_count_1h")].tolist() == [2.0, 3.0, 4.0]
    assert vectors[:, NAMES.index("card_amount_sum_1h")].tolist() == [101.0, 103.0, 106.0]
    assert np.all(vectors[:, NAMES.index("card_seconds_since_prev")] == [1800.0, 60.0, 60.0])
