"""Monitoring: drift rule, PSI, matured-label performance and the verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from fraudops.config import Settings
from fraudops.models.bundle import FraudModel, LinearModel
from fraudops.models.decision import DecisionThresholds
from fraudops.monitoring.drift import drift_table, feature_drift, population_stability_index
from fraudops.monitoring.performance import known_fraud_ids, matured_performance
from fraudops.pipelines.monitoring import assess_window

T0 = datetime(2026, 3, 1, tzinfo=UTC)
RNG = np.random.default_rng(3)


def test_drift_rule_flags_a_shift_and_ignores_noise() -> None:
    reference = RNG.normal(0, 1, 5_000)
    assert not feature_drift(reference, RNG.normal(0, 1, 5_000), "x").drifted
    shifted = feature_drift(reference, RNG.normal(0.5, 1, 5_000), "x")
    assert shifted.drifted
    assert shifted.method == "wasserstein"
    assert shifted.statistic == pytest.approx(0.5, abs=0.05)
    small = feature_drift(reference[:300], RNG.normal(1.0, 1, 300), "x")
    assert small.method == "ks"
    assert small.drifted


def test_psi_is_zero_for_the_same_distribution_and_grows_with_shift() -> None:
    scores = RNG.beta(1, 30, 20_000)
    assert population_stability_index(scores, RNG.beta(1, 30, 20_000)) < 0.01
    assert population_stability_index(scores, RNG.beta(1, 10, 20_000)) > 0.2


def test_only_labels_reported_by_the_as_of_time_count() -> None:
    labels = pl.DataFrame(
        {
            "transaction_id": ["a", "b", "c", "c"],
            "is_fraud": [1, 1, 1, 0],
            "reported_at": [T0, T0 + timedelta(days=10), T0, T0 + timedelta(days=1)],
        }
    )
    # b is reported after the as-of time; c was later confirmed genuine
    assert known_fraud_ids(labels, T0 + timedelta(days=2)).to_list() == ["a"]
    predictions = pl.DataFrame(
        {
            "transaction_id": ["a", "b", "c", "d"],
            "timestamp": [T0] * 4,
            "card_id": ["1", "2", "3", "4"],
            "amount": [100.0, 50.0, 10.0, 5.0],
            "fraud_probability": [0.9, 0.8, 0.1, 0.05],
        }
    )
    perf = matured_performance(
        predictions, labels, T0 + timedelta(days=2), 2, DecisionThresholds(0.5, 0.85)
    )
    assert perf["known_frauds"] == 1
    assert perf["average_precision"] == pytest.approx(1.0)


def _model(reference: pl.DataFrame) -> FraudModel:
    est = LinearModel(np.zeros(2), np.zeros(2), np.ones(2), np.array([1.0, 0.0]), -4.0)
    model = FraudModel(
        "lr", est, ["f1", "f2"], metadata={"thresholds": {"review": 0.1, "decline": 0.5}}
    )
    model.reference = reference
    return model


def _frame(shift: float, n: int = 4_000) -> pl.DataFrame:
    f1, f2 = RNG.normal(shift, 1, n), RNG.normal(0, 1, n)
    return pl.DataFrame(
        {
            "timestamp": [T0] * n,
            "f1": f1,
            "f2": f2,
            "fraud_probability": 1 / (1 + np.exp(-(f1 - 4))),
        }
    )


def test_verdict_retrains_on_drift_and_says_why() -> None:
    settings = Settings(drift_share_threshold=0.2, psi_threshold=0.2)
    reference = _frame(0.0)
    model = _model(reference)
    calm = assess_window(
        _frame(0.0),
        reference,
        model,
        (T0, T0 + timedelta(days=1)),
        T0,
        settings,
        features=["f1", "f2"],
    )
    assert not calm.verdict.retrain
    assert calm.drift_share == 0.0
    moved = assess_window(
        _frame(1.0),
        reference,
        model,
        (T0, T0 + timedelta(days=1)),
        T0,
        settings,
        features=["f1", "f2"],
    )
    assert moved.verdict.retrain
    assert moved.drifted_features == ["f1"]
    assert moved.drift_share == 0.5
    assert any("drift share 0.50" in r for r in moved.verdict.reasons)
    assert any("PSI" in r for r in moved.verdict.reasons)
    assert moved.decision_rates["review"] > calm.decision_rates["review"]


def test_drift_table_skips_missing_columns() -> None:
    reference, current = _frame(0.0), _frame(0.0).drop("f2")
    assert [d.feature for d in drift_table(reference, current, ["f1", "f2"])] == ["f1"]


def test_latest_record_becomes_prometheus_gauges(isolated_home: object) -> None:
    from prometheus_client import generate_latest

    from fraudops.data import store
    from fraudops.monitoring.records import latest_record, record_uri
    from fraudops.serving.metrics import ServiceMetrics, export_gauges

    settings = Settings()
    metrics = ServiceMetrics()
    assert "fraudops_live_average_precision NaN" in generate_latest(metrics.registry).decode()
    assert latest_record(settings) is None
    reference = _frame(0.0)
    for day, shift in ((1, 0.0), (2, 1.0)):
        record = assess_window(
            _frame(shift),
            reference,
            _model(reference),
            (T0, T0 + timedelta(days=day)),
            T0,
            settings,
            features=["f1", "f2"],
        )
        store.write_json(
            record_uri(settings, T0 + timedelta(days=day)), record.model_dump(mode="json")
        )
    latest = latest_record(settings)
    assert latest is not None
    assert latest.drift_share == 0.5
    export_gauges(latest, metrics)
    text = generate_latest(metrics.registry).decode()
    assert "fraudops_drift_share 0.5" in text
    assert "fraudops_monitoring_retrain_triggered 1.0" in text


@pytest.mark.parametrize(
    ("threshold", "alarm"), [(0.2, True), (0.5, False)], ids=["default", "raised"]
)
def test_alarm_gauges_follow_the_verdict_rule(threshold: float, alarm: bool) -> None:
    """A changed FRAUDOPS_DRIFT_SHARE_THRESHOLD moves the alert's gauge with the verdict."""
    from prometheus_client import generate_latest

    from fraudops.serving.metrics import ServiceMetrics, export_gauges

    settings = Settings(drift_share_threshold=threshold, psi_threshold=100.0)
    reference = _frame(0.0)
    record = assess_window(
        _frame(1.0),
        reference,
        _model(reference),
        (T0, T0 + timedelta(days=1)),
        T0,
        settings,
        features=["f1", "f2"],
    )
    assert record.drift_share == 0.5
    assert record.verdict.retrain is alarm
    assert record.verdict.drift_alarm is alarm
    metrics = ServiceMetrics()
    export_gauges(record, metrics)
    text = generate_latest(metrics.registry).decode()
    assert f"fraudops_drift_alarm {float(alarm)}" in text
    assert f"fraudops_monitoring_retrain_triggered {float(alarm)}" in text
    assert "fraudops_score_drift_alarm 0.0" in text


def test_low_live_ap_on_too_few_frauds_degrades_nothing() -> None:
    """The performance gauge applies the minimum-frauds rule the verdict applies."""
    from fraudops.monitoring.retrain import MIN_FRAUDS_FOR_PERFORMANCE

    settings = Settings(live_ap_floor=0.9, psi_threshold=100.0, drift_share_threshold=1.0)
    reference = _frame(0.0)
    n = 200
    predictions = pl.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(n)],
            "timestamp": [T0] * n,
            "card_id": [str(i) for i in range(n)],
            "amount": [10.0] * n,
            "fraud_probability": np.linspace(0.0, 1.0, n),
        }
    )
    for frauds, degraded in ((MIN_FRAUDS_FOR_PERFORMANCE - 1, False), (20, True)):
        # the frauds sit among the lowest scores: average precision far below 0.9
        labels = pl.DataFrame(
            {
                "transaction_id": [f"t{i}" for i in range(frauds)],
                "is_fraud": [1] * frauds,
                "reported_at": [T0] * frauds,
            }
        )
        record = assess_window(
            _frame(0.0),
            reference,
            _model(reference),
            (T0, T0 + timedelta(days=1)),
            T0 + timedelta(days=1),
            settings,
            matured=predictions,
            labels=labels,
            features=["f1", "f2"],
        )
        assert record.performance is not None
        assert record.performance["average_precision"] < 0.9
        assert record.verdict.performance_degraded is degraded
        assert record.verdict.retrain is degraded
