"""One decision rule: the per-request, numpy and polars forms agree; missing thresholds fail."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudops.models.bundle import FraudModel, LinearModel, load_bundle, save_bundle
from fraudops.models.decision import (
    DecisionThresholds,
    ThresholdsError,
    decide,
    decide_array,
    decision_expr,
    decision_rates,
    score_points,
    score_points_array,
)
from fraudops.models.evaluate import CostModel, evaluate_scores, optimal_thresholds
from fraudops.monitoring.performance import matured_performance

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def thresholds(draw: st.DrawFn) -> DecisionThresholds:
    review, decline = sorted((draw(unit), draw(unit)))
    return DecisionThresholds(review, decline)


def boundary_scores(t: DecisionThresholds) -> np.ndarray:
    """Each threshold, the floats either side of it, and the ends of the range."""
    edges = [0.0, 1.0, t.review, t.decline]
    near = [np.nextafter(v, d) for v in (t.review, t.decline) for d in (-np.inf, np.inf)]
    return np.clip(np.array(edges + near, dtype=np.float64), 0.0, 1.0)


def all_forms(probability: np.ndarray, t: DecisionThresholds) -> tuple[list[str], ...]:
    scalar = [decide(p, t) for p in probability.tolist()]
    vectorised = decide_array(probability, t).tolist()
    frame = pl.DataFrame({"p": probability})
    expression = frame.select(decision_expr(pl.col("p"), t).alias("d"))["d"].to_list()
    return scalar, vectorised, expression


@settings(max_examples=100, deadline=None)
@given(t=thresholds(), seed=st.integers(0, 2**32 - 1))
def test_scalar_numpy_and_polars_decide_alike(t: DecisionThresholds, seed: int) -> None:
    random = np.random.default_rng(seed).random(200)
    probability = np.concatenate([random, boundary_scores(t)])
    scalar, vectorised, expression = all_forms(probability, t)
    assert scalar == vectorised == expression
    reviewed = sum(d == "review" for d in scalar) / probability.size
    declined = sum(d == "decline" for d in scalar) / probability.size
    rates = decision_rates(probability, t)
    assert rates == pytest.approx({"review": reviewed, "decline": declined})


def test_boundaries_belong_to_the_higher_decision() -> None:
    t = DecisionThresholds(review=0.2, decline=0.7)
    below_review, below_decline = np.nextafter(0.2, 0.0), np.nextafter(0.7, 0.0)
    probability = np.array([0.0, below_review, 0.2, below_decline, 0.7, 1.0])
    expected = ["approve", "approve", "review", "review", "decline", "decline"]
    for forms in all_forms(probability, t):
        assert forms == expected
    # equal thresholds leave no review band; thresholds at 1.0 decline only certain fraud
    assert all_forms(np.array([0.49, 0.5]), DecisionThresholds(0.5, 0.5))[0] == [
        "approve",
        "decline",
    ]
    assert all_forms(np.array([0.999, 1.0]), DecisionThresholds(1.0, 1.0))[2] == [
        "approve",
        "decline",
    ]


def test_empty_windows_have_zero_rates() -> None:
    assert decision_rates(np.array([]), DecisionThresholds(0.1, 0.5)) == {
        "review": 0.0,
        "decline": 0.0,
    }


@given(p=unit)
def test_points_are_thousandths_capped_at_999(p: float) -> None:
    points = score_points(p)
    assert points == int(score_points_array(np.array([p]))[0])
    assert 0 <= points <= 999
    assert points == min(math.floor(p * 1000), 999)


def test_points_at_the_edges() -> None:
    probability = np.array([0.0, 0.0009, 0.001, 0.5, 0.9989, 0.999, 0.9999, 1.0])
    expected = [0, 0, 1, 500, 998, 999, 999, 999]
    assert score_points_array(probability).tolist() == expected
    assert [score_points(p) for p in probability.tolist()] == expected


@pytest.mark.parametrize(
    ("review", "decline", "message"),
    [
        (0.9, 0.5, "review <= decline"),
        (-0.1, 0.5, "0 <= review"),
        (0.5, 1.5, "decline <= 1"),
        (math.nan, 0.5, "review threshold must be a finite number"),
        (0.1, "high", "decline threshold must be a finite number"),
    ],
)
def test_thresholds_are_validated(review: float, decline: float, message: str) -> None:
    with pytest.raises(ThresholdsError, match=message):
        DecisionThresholds(review, decline)


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        (None, "'review' or 'decline'"),
        ({}, "'review' or 'decline'"),
        ({"review": 0.2}, "'decline'"),
    ],
)
def test_missing_thresholds_are_an_error_not_a_default(
    values: dict[str, float] | None, missing: str
) -> None:
    with pytest.raises(ThresholdsError, match=f"the lr model has no decision threshold {missing}"):
        DecisionThresholds.from_mapping(values, "the lr model")


def _linear(metadata: dict[str, object]) -> FraudModel:
    est = LinearModel(np.zeros(2), np.zeros(2), np.ones(2), np.array([1.0, 0.0]), -4.0)
    return FraudModel("lr", est, ["f1", "f2"], metadata=metadata)


def test_a_model_without_thresholds_cannot_decide_or_load(tmp_path: Path) -> None:
    model = _linear({})
    with pytest.raises(ThresholdsError, match="the lr model has no decision threshold"):
        _ = model.thresholds
    save_bundle(model, tmp_path / "bundle")
    with pytest.raises(ThresholdsError, match="the lr bundle has no decision threshold"):
        load_bundle(tmp_path / "bundle", None)
    decided = _linear({"thresholds": {"review": 0.2, "decline": 0.6}})
    save_bundle(decided, tmp_path / "decided")
    loaded = load_bundle(tmp_path / "decided", None)
    assert loaded.decision_thresholds == DecisionThresholds(0.2, 0.6)
    assert loaded.thresholds == {"review": 0.2, "decline": 0.6}


def test_live_performance_is_judged_at_the_models_thresholds() -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    predictions = pl.DataFrame(
        {
            "transaction_id": ["a", "b", "c", "d"],
            "timestamp": [t0] * 4,
            "card_id": ["1", "2", "3", "4"],
            "amount": [100.0, 50.0, 10.0, 5.0],
            "fraud_probability": [0.9, 0.6, 0.3, 0.05],
        }
    )
    labels = pl.DataFrame(
        {"transaction_id": ["a", "c"], "is_fraud": [1, 1], "reported_at": [t0, t0]}
    )
    as_of = t0 + timedelta(days=1)
    strict = matured_performance(predictions, labels, as_of, 2, DecisionThresholds(0.8, 0.95))
    loose = matured_performance(predictions, labels, as_of, 2, DecisionThresholds(0.2, 0.5))
    assert (strict["review_threshold"], strict["decline_threshold"]) == (0.8, 0.95)
    assert strict["recall_at_review"] == pytest.approx(0.5)  # a only
    assert loose["recall_at_review"] == pytest.approx(1.0)  # a and c


def test_optimal_thresholds_stay_within_the_valid_range() -> None:
    # the best choice is "flag nothing" and the top score is exactly 1.0
    y = np.zeros(4, dtype=int)
    score = np.array([1.0, 0.5, 0.2, 0.1])
    chosen = optimal_thresholds(y, score, np.ones(4), CostModel())
    assert chosen.review == chosen.decline == 1.0
    metrics = evaluate_scores(y, score, np.ones(4), np.ones(4), np.arange(4), k=1)
    assert metrics["decline_threshold"] == 1.0
