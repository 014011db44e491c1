"""Matured fraud-history features under a constant label delay: alive (not constant) and
equal to a brute-force reference in both engines, on random streams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from fraudops.features.offline import build_offline_features
from fraudops.features.online import MemoryOnlineStore, OnlineFeatureEngine
from fraudops.features.spec import FEATURES, LABEL_MATURITY, feature_names
from fraudops.schema import conform

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DELAY = timedelta(days=7)  # every fraud is reported exactly a week later
HISTORY = ("card_known_fraud_count_30d", "terminal_fraud_rate_7d")
MATURED = [f for f in FEATURES if f.delay > timedelta(0)]


def random_stream(seed: int, n: int = 600) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.uniform(0, 70 * 86_400, n)).round()
    fraud = rng.random(n) < 0.15
    rows: list[dict[str, Any]] = []
    for i in range(n):
        at = T0 + timedelta(seconds=float(seconds[i]))
        rows.append(
            {
                "transaction_id": f"tx-{i:04d}",
                "timestamp": at,
                "card_id": f"card-{rng.integers(0, 12)}",
                "merchant_id": f"m-{rng.integers(0, 4)}",
                "terminal_id": f"t-{rng.integers(0, 6)}",
                "amount": float(rng.integers(100, 20_000) / 100),
                "is_fraud": int(fraud[i]),
                "label_available_at": at + DELAY if fraud[i] else None,
            }
        )
    return conform(pl.DataFrame(rows, infer_schema_length=None))


def brute_force(frame: pl.DataFrame, entity: str, window: timedelta, delay: timedelta) -> list:
    """Share of the entity's transactions in (t - delay - window, t - delay] whose fraud was
    reported by t (the current transaction excluded), by looping over every pair."""
    rows = frame.sort("timestamp", "transaction_id").to_dicts()
    values = []
    for i, row in enumerate(rows):
        t = row["timestamp"]
        inside = [
            other
            for j, other in enumerate(rows)
            if j != i
            and other[entity] == row[entity]
            and (other["timestamp"], other["transaction_id"])
            < (row["timestamp"], row["transaction_id"])
            and t - delay - window < other["timestamp"] <= t - delay
        ]
        known = [o for o in inside if o["is_fraud"] == 1 and o["label_available_at"] <= t]
        values.append(len(known) / len(inside) if inside else 0.0)
    return values


def online_vectors(frame: pl.DataFrame) -> np.ndarray:
    engine = OnlineFeatureEngine(MemoryOnlineStore())
    for row in frame.filter(pl.col("is_fraud") == 1).iter_rows(named=True):
        # labels ingested early are applied from their reported time on
        engine.ingest_label(row["transaction_id"], 1, row["label_available_at"])
    ordered = frame.sort("timestamp", "transaction_id").drop("is_fraud", "label_available_at")
    return np.vstack([engine.process(tx) for tx in ordered.iter_rows(named=True)])


def test_the_spec_declares_matured_windows_of_the_label_maturity() -> None:
    assert {f.name for f in MATURED} == {
        "terminal_matured_fraud_rate_7d",
        "terminal_matured_fraud_rate_30d",
        "merchant_matured_fraud_rate_7d",
        "merchant_matured_fraud_rate_30d",
    }
    assert all(f.delay == LABEL_MATURITY for f in MATURED)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matured_rates_equal_a_brute_force_reference_in_both_engines(seed: int) -> None:
    frame = random_stream(seed)
    offline = build_offline_features(frame)
    online = online_vectors(frame)
    names = feature_names()
    for f in MATURED:
        assert f.entity is not None
        assert f.window is not None
        expected = brute_force(frame, f.entity, f.window, f.delay)
        np.testing.assert_allclose(offline[f.name].to_numpy(), expected, atol=1e-12)
        np.testing.assert_allclose(online[:, names.index(f.name)], expected, atol=1e-12)
        # under a 7-day delay the matured rates move; the undelayed 1- and 7-day ones cannot
        assert offline[f.name].n_unique() > 5
    assert offline["terminal_fraud_rate_7d"].max() == 0
    assert offline["card_known_fraud_count_30d"].max() > 0  # type: ignore[operator]
