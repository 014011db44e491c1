"""Online engine (memory store): hand-computed features, labels, state bounds, backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from features_support import CUSTOM_SPEC, replay
from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.offline import build_offline_features
from fraudops.features.online import (
    MemoryOnlineStore,
    OnlineFeatureEngine,
    RedisOnlineStore,
    open_online_store,
    to_epoch_us,
)
from fraudops.features.spec import FEATURES, feature_names, max_retention
from fraudops.schema import conform, label_feed_from_transactions

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CAP = 30 * 86_400.0
NAMES = feature_names()


def tx(tx_id: str, at: timedelta, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "transaction_id": tx_id,
        "timestamp": T0 + at,
        "card_id": "c1",
        "merchant_id": "m1",
        "terminal_id": "t1",
        "amount": 10.0,
    }
    row.update(fields)
    return row


@pytest.fixture
def engine() -> OnlineFeatureEngine:
    return OnlineFeatureEngine(MemoryOnlineStore())


def features(vector: np.ndarray) -> dict[str, float]:
    return dict(zip(NAMES, vector.tolist(), strict=True))


def test_vector_follows_the_spec_order(engine: OnlineFeatureEngine) -> None:
    vector = engine.process(tx("a", timedelta(0)))
    assert vector.dtype == np.float64
    assert vector.shape == (len(FEATURES),)
    assert engine.feature_names == NAMES


def test_card_windows_hand_computed(engine: OnlineFeatureEngine) -> None:
    first = features(engine.process(tx("a", timedelta(0), amount=10.0)))
    engine.process(tx("b", 30 * MIN, amount=20.0))
    third = features(engine.process(tx("c", HOUR, amount=30.0)))
    assert first["card_tx_count_1h"] == 1
    assert first["card_seconds_since_prev"] == CAP  # first-ever transaction
    assert first["card_new_merchant_30d"] == 1
    assert third["card_tx_count_1h"] == 2  # "a" is exactly 1 h old: left the window
    assert third["card_amount_sum_1h"] == 50
    assert third["card_amount_mean_1h"] == 25
    assert third["card_amount_max_1h"] == 30
    assert third["card_tx_count_24h"] == 3
    assert third["card_seconds_since_prev"] == 1800
    assert third["card_amount_ratio_mean_30d"] == pytest.approx(1.5)
    assert third["terminal_tx_count_1d"] == 2  # current transaction excluded


def test_fraud_reported_after_a_transaction_does_not_reach_it(
    engine: OnlineFeatureEngine,
) -> None:
    engine.process(tx("f", timedelta(0), card_id="c1"))
    # the label arrives early (ingested now) but is reported in two days
    assert engine.ingest_label("f", 1, T0 + 2 * DAY) is True
    before = features(engine.process(tx("g", DAY, card_id="c2")))
    at_report = features(engine.process(tx("h", 2 * DAY, card_id="c3")))
    assert before["terminal_fraud_rate_7d"] == 0
    assert at_report["terminal_fraud_rate_7d"] == 0.5  # reported_at <= t counts
    assert at_report["merchant_fraud_rate_30d"] == 0.5


def test_out_of_order_labels_earliest_report_wins(engine: OnlineFeatureEngine) -> None:
    engine.process(tx("f", timedelta(0)))
    engine.ingest_label("f", 1, T0 + 5 * DAY)
    engine.ingest_label("f", 1, T0 + 2 * DAY)  # an earlier report, ingested later
    engine.ingest_label("f", 0, T0 + HOUR)  # genuine is the default: changes nothing
    vector = features(engine.process(tx("g", 3 * DAY)))
    assert vector["terminal_fraud_rate_7d"] == 1.0


def test_label_before_its_transaction_is_kept_until_it_arrives(
    engine: OnlineFeatureEngine,
) -> None:
    assert engine.ingest_label("f", 1, T0 - HOUR) is False  # not known yet: pending
    own = features(engine.process(tx("f", timedelta(0))))
    later = features(engine.process(tx("g", MIN)))
    assert own["terminal_fraud_rate_1d"] == 0  # never its own label
    assert later["terminal_fraud_rate_1d"] == 1
    assert engine.ingest_label("f", 0, T0) is True


def test_retried_transaction_is_not_added_twice(engine: OnlineFeatureEngine) -> None:
    engine.process(tx("a", timedelta(0)))
    engine.process(tx("a", timedelta(0)))
    vector = features(engine.process(tx("b", MIN)))
    assert vector["card_tx_count_1h"] == 2
    assert vector["terminal_tx_count_1d"] == 1


def test_process_many_equals_one_by_one() -> None:
    rows = [tx(str(k), k * 7 * MIN, amount=float(k + 1), card_id=f"c{k % 3}") for k in range(40)]
    one = OnlineFeatureEngine(MemoryOnlineStore())
    many = OnlineFeatureEngine(MemoryOnlineStore())
    expected = np.vstack([one.process(row) for row in rows])
    assert np.array_equal(many.process_many(rows), expected)
    assert many.process_many([]).shape == (0, len(NAMES))


def test_timestamps_as_iso_strings_or_naive_utc() -> None:
    aware = OnlineFeatureEngine(MemoryOnlineStore())
    text = OnlineFeatureEngine(MemoryOnlineStore())
    rows = [tx("a", timedelta(0)), tx("b", 90 * MIN)]
    expected = [aware.process(row) for row in rows]
    for row, vector in zip(rows, expected, strict=True):
        as_text = {**row, "timestamp": row["timestamp"].isoformat().replace("+00:00", "Z")}
        assert np.array_equal(text.process(as_text), vector)
    naive = datetime(2026, 1, 5, 12, 0)  # naive means UTC
    assert to_epoch_us(naive) == to_epoch_us(T0)


def test_missing_optional_fields_take_the_schema_defaults(engine: OnlineFeatureEngine) -> None:
    vector = features(
        engine.process(
            {
                "transaction_id": "a",
                "timestamp": T0,
                "card_id": "c",
                "merchant_id": "m",
                "amount": 3.0,
            }
        )
    )
    assert vector["channel_pos"] == 1  # channel defaults to pos
    assert vector["mcc_code"] == 0  # "0000"
    assert vector["distance_from_home_km"] == -1
    second = features(engine.process({**tx("b", MIN), "terminal_id": None, "merchant_id": "m"}))
    assert second["terminal_tx_count_1d"] == 1  # terminal defaults to the merchant


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"timestamp": T0, "card_id": "c", "merchant_id": "m", "amount": 1.0}, "transaction_id"),
        ({"transaction_id": "a", "card_id": "c", "merchant_id": "m", "amount": 1.0}, "timestamp"),
        ({"transaction_id": "a", "timestamp": "yesterday", "merchant_id": "m"}, "ISO-8601"),
        ({"transaction_id": "a", "timestamp": T0, "merchant_id": "m", "amount": 1.0}, "card_id"),
    ],
)
def test_bad_transactions_are_refused_clearly(
    engine: OnlineFeatureEngine, row: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        engine.process(row)


def test_state_stays_bounded() -> None:
    store = MemoryOnlineStore()
    engine = OnlineFeatureEngine(store)
    for k in range(200):  # 200 cards, terminals and merchants, once each
        engine.process(
            tx(f"old-{k}", k * MIN, card_id=f"c{k}", terminal_id=f"t{k}", merchant_id=f"m{k}")
        )
    assert store.size()["card_id"] == 200
    # much later (past the spec's longest look-back), new traffic pushes the old state out
    later = max_retention() + DAY
    for k in range(40):
        engine.process(tx(f"new-{k}", later + k * MIN, card_id="fresh"))
    sizes = store.size()
    assert sizes["card_id"] == 40  # only the live card's 40 transactions remain
    assert sizes["terminal_id"] == 40
    # ids are kept as long as a fraud label could still change a feature: the old ones left
    assert sizes["index"] == 40
    engine.process(tx("last", later + max_retention() + DAY, card_id="fresh"))
    assert store.size()["index"] == 1


def test_backfill_then_live_equals_offline() -> None:
    transactions = generate(SimulationConfig(customers=50, days=20, fraud_rate=0.05, seed=11))
    ordered = transactions.sort("timestamp", "transaction_id")
    split = ordered.height * 2 // 3
    engine = OnlineFeatureEngine(MemoryOnlineStore())
    # the label feed as known now: labels of live transactions wait for them (pending)
    indexed = engine.backfill(ordered.head(split), label_feed_from_transactions(transactions))
    assert indexed == split
    live = replay(engine, ordered.slice(split))
    offline = build_offline_features(transactions).select(NAMES).to_numpy()[split:]
    assert np.allclose(live, offline, rtol=1e-9, atol=1e-9)
    # a fresh server without backfill would see these cards as new
    cold = replay(OnlineFeatureEngine(MemoryOnlineStore()), ordered.slice(split))
    new_merchant = NAMES.index("card_new_merchant_30d")
    assert cold[:, new_merchant].sum() > live[:, new_merchant].sum()


def test_backfill_twice_adds_nothing() -> None:
    history = pl.DataFrame([tx("a", timedelta(0)), tx("b", MIN)])
    engine = OnlineFeatureEngine(MemoryOnlineStore())
    engine.backfill(conform(history))
    engine.backfill(conform(history))
    assert features(engine.process(tx("c", 2 * MIN)))["card_tx_count_1h"] == 3


def test_custom_spec_with_delay_and_filters_matches_offline() -> None:
    """Kinds and options the default spec does not use still agree between engines."""
    spec = CUSTOM_SPEC
    transactions = generate(SimulationConfig(customers=40, days=15, fraud_rate=0.08, seed=8))
    engine = OnlineFeatureEngine(MemoryOnlineStore(), spec)
    online = replay(engine, transactions, label_feed_from_transactions(transactions))
    names = [f.name for f in spec]
    offline = build_offline_features(transactions, features=spec).select(names).to_numpy()
    assert np.allclose(online, offline, rtol=1e-9, atol=1e-9)
    assert offline[:, names.index("card_fraud_count_7d")].max() > 0


def test_open_online_store() -> None:
    assert isinstance(open_online_store("memory://"), MemoryOnlineStore)
    assert isinstance(open_online_store("redis://127.0.0.1:1/0"), RedisOnlineStore)
    with pytest.raises(ValueError, match="memory:// or redis://"):
        open_online_store("postgres://x")


def test_ready() -> None:
    assert OnlineFeatureEngine(MemoryOnlineStore()).ready()
    unreachable = OnlineFeatureEngine(open_online_store("redis://127.0.0.1:1/0"))
    assert not unreachable.ready()


def test_loading_interleaved_histories_keeps_a_counted_entity_in_time_order() -> None:
    """Two loads whose times interleave for one terminal merge in time order (one sort,
    not an insertion per time), as one load of both would."""
    rows = [
        {"transaction_id": f"t{k}", "timestamp": datetime(2026, 1, 5, tzinfo=UTC)
         + timedelta(minutes=k), "card_id": f"c{k % 2}", "merchant_id": "m1",
         "terminal_id": "t1", "amount": 1.0 + k}
        for k in range(20)
    ]  # fmt: skip
    frame = conform(pl.DataFrame(rows))
    both = OnlineFeatureEngine(MemoryOnlineStore())
    both.backfill(frame)
    split = OnlineFeatureEngine(MemoryOnlineStore())
    split.backfill(frame.filter(pl.col("card_id") == "c0"))
    split.backfill(frame.filter(pl.col("card_id") == "c1"))
    later = {**rows[-1], "transaction_id": "next", "timestamp": rows[-1]["timestamp"]}
    assert np.array_equal(split.process(later), both.process(later))
    assert split.store.size() == both.store.size()  # type: ignore[attr-defined]
