"""Fraud metrics against examples computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from fraudops.models.evaluate import (
    CostModel,
    card_precision_at_k_per_day,
    evaluate_scores,
    optimal_thresholds,
    precision_at_k_per_day,
    recall_at_fpr,
)

# day 1: card A (0.9 genuine, 0.1 fraud), B (0.8 genuine), C (0.3 fraud)
# day 2: card A (0.95 fraud), B (0.2 genuine), C (0.7 fraud)
DAY = np.array([1, 1, 1, 1, 2, 2, 2])
CARD = np.array(["A", "A", "B", "C", "A", "B", "C"])
Y = np.array([0, 1, 0, 1, 1, 0, 1])
SCORE = np.array([0.9, 0.1, 0.8, 0.3, 0.95, 0.2, 0.7])


def test_precision_at_k_per_day() -> None:
    # day 1 top-2 = 0.9 (genuine), 0.8 (genuine) -> 0; day 2 top-2 = 0.95, 0.7 (both fraud) -> 1
    assert precision_at_k_per_day(DAY, Y, SCORE, k=2) == pytest.approx(0.5)


def test_card_precision_counts_each_card_once() -> None:
    # day 1: card scores A=0.9 (fraud via its 0.1 tx), B=0.8, C=0.3 -> top-2 A, B -> 1/2; A caught
    # day 2: A is no longer a candidate -> top-2 C (fraud), B (genuine) -> 1/2
    assert card_precision_at_k_per_day(DAY, CARD, Y, SCORE, k=2) == pytest.approx(0.5)


def test_card_precision_divides_by_k_on_small_days() -> None:
    # one card, fraudulent, k=3: the team had capacity for 3 cards and found 1
    value = card_precision_at_k_per_day(
        np.array([1]), np.array(["A"]), np.array([1]), np.array([0.5]), k=3
    )
    assert value == pytest.approx(1 / 3)


def test_recall_at_fixed_false_positive_rate() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    score = np.array([0.9, 0.4, 0.8, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05])
    # with no genuine flagged only the 0.9 fraud is caught; allowing 1 of 8 genuine (12.5%) catches
    # the 0.8 genuine too but the 0.4 fraud needs 0.3 flagged as well (2 of 8 = 25%)
    assert recall_at_fpr(y, score, max_fpr=0.0) == pytest.approx(0.5)
    assert recall_at_fpr(y, score, max_fpr=0.25) == pytest.approx(1.0)


def test_optimal_thresholds_maximise_savings() -> None:
    y = np.array([1, 0, 1, 0])
    score = np.array([0.9, 0.8, 0.5, 0.1])
    amount = np.array([100.0, 50.0, 10.0, 20.0])
    cost = CostModel(review_cost=3.0, false_decline_cost=15.0, review_catch_rate=0.9)
    # decline {0.9} saves 100; reviewing {0.8, 0.5} adds 0.9*10 - 2*3 = 3 -> 103 (declining all
    # three would give 100 + 10 - 15 = 95)
    chosen = optimal_thresholds(y, score, amount, cost)
    assert chosen.savings == pytest.approx(103.0)
    assert chosen.decline == pytest.approx(0.85)
    assert chosen.review == pytest.approx(0.3)
    assert chosen.baseline_loss == pytest.approx(110.0)


def test_evaluate_scores_reports_every_metric() -> None:
    amount = np.full(Y.size, 10.0)
    metrics = evaluate_scores(Y, SCORE, amount, DAY, CARD, k=2)
    for name in (
        "roc_auc",
        "average_precision",
        "precision_at_k",
        "card_precision_at_k",
        "savings",
    ):
        assert np.isfinite(metrics[name]), name
    assert metrics["card_precision_at_k"] == pytest.approx(0.5)
    assert metrics["review_threshold"] <= metrics["decline_threshold"]


def test_single_class_windows_give_nan_not_errors() -> None:
    y = np.zeros(5, dtype=int)
    metrics = evaluate_scores(y, np.linspace(0, 1, 5), np.ones(5), np.ones(5), np.arange(5), k=2)
    assert np.isnan(metrics["roc_auc"])
    assert np.isnan(metrics["average_precision"])


def test_thresholds_are_found_between_tied_scores() -> None:
    # calibrated scores are steps: thousands of ties; the cut must land between steps
    rng = np.random.default_rng(0)
    n = 30_000
    y = (rng.random(n) < 0.007).astype(int)
    score = np.round(np.clip(y * 0.3 + rng.random(n) * 0.2, 0, 1), 1)
    amount = rng.lognormal(4, 1, n)
    chosen = optimal_thresholds(y, score, amount, CostModel())
    assert chosen.savings > 0.9 * chosen.baseline_loss
    assert 0.2 < chosen.decline <= 0.3
