"""A batch's online features (``process_many``, what ``/v1/predict/batch`` and the closed
loop use) are the ones its transactions get one after another: the same stream scored
singly and in batches, on two memory stores, bit for bit (cards repeating in a batch,
equal times, window edges, labels before and between batches, retries, shuffled and late
traffic). The memory store computes an in-order batch in one vectorised pass
(``features/online/batch.py``); here it does so from two transactions on, so the small
generated batches exercise it, and the other batches take the one-by-one path.
``tests/integration/test_features_redis_batch.py`` runs the same on Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_support import assert_same, events_from, events_of, orders, play
from features_support import CUSTOM_SPEC, Stream, streams
from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.definition import FeatureDef, Filter
from fraudops.features.online import MemoryOnlineStore, OnlineFeatureEngine
from fraudops.features.online import engine as engine_module
from fraudops.features.online.batch import BatchKernel, BatchRows
from fraudops.features.spec import DAY, HOUR, feature_names
from fraudops.schema import label_feed_from_transactions

NAMES = feature_names()


@pytest.fixture
def vectorised_from_two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "BATCH_FROM", 2)


@pytest.mark.usefixtures("vectorised_from_two")
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


class CountingStore(MemoryOnlineStore):
    """Counts the batches the vectorised pass computed and those it handed back."""

    def __init__(self) -> None:
        super().__init__()
        self.vectorised = self.handed_back = 0

    def exchange_batch(self, rows: BatchRows, kernel: BatchKernel) -> np.ndarray | None:
        out = super().exchange_batch(rows, kernel)
        if out is None:
            self.handed_back += 1
        else:
            self.vectorised += 1
        return out


def day_of_traffic(start: int, n: int) -> list[dict[str, Any]]:
    """In-order traffic over a few cards, terminals and merchants (amounts, channels and
    countries varying), ~3 minutes apart."""
    return [
        {**tx(f"d{start + k}", 3 * (start + k), amount=round(1.5 + (k * 37) % 400 / 3, 2)),
         "card_id": f"c{k % 7}", "terminal_id": f"t{k % 3}", "merchant_id": f"m{k % 5}",
         "channel": "ecom" if k % 4 else "pos", "country": "FR" if k % 5 else "DE",
         "device_id": None if k % 6 else f"dev{k % 2}"}
        for k in range(n)
    ]  # fmt: skip


def test_in_order_batches_take_the_vectorised_pass_and_equal_single_calls() -> None:
    """The fast path is really taken (it must not quietly become dead code) and leaves
    the state single calls leave: a label between batches, then later traffic scored
    singly on both engines agrees too."""
    store = CountingStore()
    batched, singles = OnlineFeatureEngine(store), OnlineFeatureEngine(MemoryOnlineStore())
    first, second, later = day_of_traffic(0, 300), day_of_traffic(300, 300), day_of_traffic(600, 50)
    got = [batched.process_many(first)]
    expected = [singles.process(t).reshape(1, -1) for t in first]
    reported = datetime(2026, 1, 5, 20, 0, tzinfo=UTC)
    for engine in (batched, singles):
        engine.ingest_label("d10", 1, reported)
        engine.ingest_label("d11", 1, reported)
    got.append(batched.process_many(second))
    expected += [singles.process(t).reshape(1, -1) for t in second]
    got += [batched.process(t).reshape(1, -1) for t in later]
    expected += [singles.process(t).reshape(1, -1) for t in later]
    assert_same(np.vstack(got), np.vstack(expected), NAMES)
    assert (store.vectorised, store.handed_back) == (2, 0)
    assert store.size() == singles.store.size()  # type: ignore[attr-defined]
    frauds = np.vstack(got)[:, NAMES.index("terminal_fraud_rate_1d")]
    assert frauds.max() > 0  # the labels reached later transactions' features


def test_a_batch_with_a_retry_and_a_late_transaction_is_halved_around_them() -> None:
    """The store hands back a batch it cannot take; halving it in order leaves only a few
    transactions around the retry and the late one to go one at a time."""
    store = CountingStore()
    batched, singles = OnlineFeatureEngine(store), OnlineFeatureEngine(MemoryOnlineStore())
    first = day_of_traffic(0, 100)
    traffic = day_of_traffic(100, 200)
    late = {**traffic[150], "transaction_id": "late", "timestamp": traffic[10]["timestamp"]}
    traffic[60] = first[3]  # a retry
    traffic[150] = late  # older than its card's transactions before it
    got = np.vstack([batched.process_many(first), batched.process_many(traffic)])
    expected = np.vstack([singles.process(t).reshape(1, -1) for t in first + traffic])
    assert_same(got, expected, NAMES)
    # each bad transaction costs one handed-back attempt per halving (200 -> 12: four)
    # plus the whole batch's; every piece beside them is vectorised
    assert store.handed_back <= 1 + 2 * 4
    assert store.vectorised >= 6


@pytest.mark.usefixtures("vectorised_from_two")
@pytest.mark.parametrize("batch", [2, 7, 64, 500])
def test_a_custom_spec_batched_equals_single_calls(batch: int) -> None:
    """The kernel's paths the default spec does not take — delayed windows, filtered sums,
    maxima, means, counts and distinct counts, a terminal with per-transaction entries —
    on simulated traffic with its fraud labels arriving between batches."""
    spec = (
        *CUSTOM_SPEC,
        FeatureDef("card_ecom_count_delayed", "count", "d", entity="card_id", window=DAY,
                   delay=HOUR, where=Filter("channel", "==", "ecom")),
        FeatureDef("merchant_count_delayed", "count", "d", entity="merchant_id",
                   window=7 * DAY, delay=DAY),
    )  # fmt: skip
    transactions = generate(SimulationConfig(customers=40, days=15, fraud_rate=0.08, seed=8))
    events = events_from(transactions, label_feed_from_transactions(transactions))
    store = CountingStore()
    batched = play(OnlineFeatureEngine(store, spec), events, batch)
    singles = play(OnlineFeatureEngine(MemoryOnlineStore(), spec), events, 1)
    assert_same(batched, singles, [f.name for f in spec])
    assert store.vectorised > 0
    assert singles[:, [f.name for f in spec].index("card_fraud_count_7d")].max() > 0


@pytest.mark.usefixtures("vectorised_from_two")
def test_a_late_transaction_after_its_keys_eviction_sees_what_single_calls_see() -> None:
    """Single calls evict entities by the store's clock: a transaction older than the clock
    finds a key evicted by a later one earlier in the batch. Found by the property test:
    such a batch goes one at a time, and the vectors agree."""
    first = tx("a", 0, 10.0)
    jump = {
        **tx("b", 38 * 24 * 60, 20.0),
        "card_id": "c2",
        "terminal_id": "t9",
        "merchant_id": "m9",
    }
    late = {**tx("c", 1, 30.0), "card_id": "c3"}  # terminal t1, evicted by the jump
    singles = OnlineFeatureEngine(MemoryOnlineStore())
    expected = np.vstack([singles.process(t).reshape(1, -1) for t in (first, jump, late)])
    store = CountingStore()
    batched = OnlineFeatureEngine(store)
    got = np.vstack([batched.process(first).reshape(1, -1), batched.process_many([jump, late])])
    assert_same(got, expected, NAMES)
    assert expected[2, NAMES.index("terminal_tx_count_1d")] == 0.0  # t1 was evicted
    assert store.handed_back == 1
