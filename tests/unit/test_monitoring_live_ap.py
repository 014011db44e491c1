"""Monitoring's live performance rule (pipelines/monitoring.py ``assess_window``): a
matured window whose average precision is under the floor asks to retrain, but only when
enough frauds have been reported to judge it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from fraudops.config import Settings
from fraudops.models.bundle import FraudModel, LinearModel
from fraudops.monitoring.retrain import MIN_FRAUDS_FOR_PERFORMANCE
from fraudops.pipelines.monitoring import MonitoringRecord, assess_window

T0 = datetime(2026, 3, 1, tzinfo=UTC)
AS_OF = T0 + timedelta(days=20)  # the window has matured
ROWS = 1_000
FLOOR = 0.3


def _model() -> FraudModel:
    estimator = LinearModel(np.zeros(1), np.zeros(1), np.ones(1), np.ones(1), -3.0)
    return FraudModel(
        "lr", estimator, ["f1"], metadata={"thresholds": {"review": 0.3, "decline": 0.8}}
    )


def _window(frauds: int, frauds_ranked_first: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Matured predictions whose first ``frauds`` transactions are confirmed frauds, scored
    highest (a model that still works) or lowest (one that has stopped working)."""
    rng = np.random.default_rng(5)
    score = rng.uniform(0.05, 0.6, ROWS)
    score[:frauds] = 0.95 if frauds_ranked_first else 0.01
    predictions = pl.DataFrame(
        {
            "transaction_id": [f"tx-{i}" for i in range(ROWS)],
            "timestamp": [T0 + timedelta(minutes=i) for i in range(ROWS)],
            "card_id": [f"card-{i % 300}" for i in range(ROWS)],
            "amount": np.full(ROWS, 40.0),
            "f1": rng.normal(0, 1, ROWS),
            "fraud_probability": score,
        }
    )
    labels = pl.DataFrame(
        {
            "transaction_id": [f"tx-{i}" for i in range(frauds)],
            "is_fraud": [1] * frauds,
            "reported_at": [T0 + timedelta(days=5)] * frauds,
        }
    )
    return predictions, labels


def _assess(frauds: int, frauds_ranked_first: bool) -> MonitoringRecord:
    predictions, labels = _window(frauds, frauds_ranked_first)
    # the window is its own drift reference: only performance can ask to retrain
    return assess_window(
        predictions,
        predictions,
        _model(),
        (T0, T0 + timedelta(days=1)),
        AS_OF,
        Settings(live_ap_floor=FLOOR),
        matured=predictions,
        labels=labels,
        features=["f1"],
    )


def test_live_ap_under_the_floor_asks_to_retrain() -> None:
    record = _assess(frauds=20, frauds_ranked_first=False)
    assert record.performance["known_frauds"] == 20
    assert record.live_average_precision is not None
    assert record.live_average_precision < FLOOR
    assert record.verdict.retrain
    assert record.verdict.reasons == [
        f"live average precision {record.live_average_precision:.3f} < floor {FLOOR:g}"
    ]


def test_live_ap_over_the_floor_does_not() -> None:
    record = _assess(frauds=20, frauds_ranked_first=True)
    assert record.live_average_precision == pytest.approx(1.0)
    assert not record.verdict.retrain
    assert record.verdict.reasons == []


def test_too_few_reported_frauds_are_not_judged() -> None:
    few = MIN_FRAUDS_FOR_PERFORMANCE - 1
    record = _assess(frauds=few, frauds_ranked_first=False)
    assert record.performance["known_frauds"] == few
    assert record.performance["average_precision"] < FLOOR  # measured, but not trusted
    assert record.live_average_precision is None
    assert not record.verdict.retrain
    # one more fraud and the same poor ranking is judged
    enough = _assess(frauds=MIN_FRAUDS_FOR_PERFORMANCE, frauds_ranked_first=False)
    assert enough.live_average_precision is not None
    assert enough.verdict.retrain


def test_frauds_reported_after_the_as_of_time_do_not_count() -> None:
    predictions, labels = _window(20, frauds_ranked_first=False)
    record = assess_window(
        predictions,
        predictions,
        _model(),
        (T0, T0 + timedelta(days=1)),
        T0 + timedelta(days=4),  # a day before the chargebacks arrive
        Settings(live_ap_floor=FLOOR),
        matured=predictions,
        labels=labels,
        features=["f1"],
    )
    assert record.performance["known_frauds"] == 0
    assert record.live_average_precision is None
    assert not record.verdict.retrain
