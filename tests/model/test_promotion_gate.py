"""The promotion gate's vetoes (models/registry.py ``compare_on_window``): a challenger
that wins on average precision but reviews fewer fraudulent cards is not promoted, and a
window with no labelled fraud decides nothing."""

from __future__ import annotations

import numpy as np
import pytest

from fraudops.models.bundle import FraudModel, LinearModel
from fraudops.models.registry import compare_on_window

NAMES = ["on_burst_cards", "on_single_fraud_cards", "on_genuine_cards"]
K = 10


def _linear(*weights: float) -> FraudModel:
    estimator = LinearModel(
        fill=np.zeros(3),
        mean=np.zeros(3),
        scale=np.ones(3),
        coef=np.array(weights),
        intercept=-3.0,
    )
    return FraudModel(
        "lr", estimator, NAMES, metadata={"thresholds": {"review": 0.3, "decline": 0.8}}
    )


def _window() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One day: 2 cards with 50 frauds each, 20 cards with one fraud each, 1,000 genuine
    transactions on 500 cards. Each group lights up one feature."""
    groups = [  # (cards, transactions per card, fraud, feature)
        ([f"burst-{i}" for i in range(2)], 50, 1, 0),
        ([f"single-{i}" for i in range(20)], 1, 1, 1),
        ([f"genuine-{i}" for i in range(500)], 2, 0, 2),
    ]
    x_rows, y, card = [], [], []
    for cards, per_card, fraud, feature in groups:
        for name in cards:
            for _ in range(per_card):
                row = np.zeros(3)
                row[feature] = 1.0
                x_rows.append(row)
                y.append(fraud)
                card.append(name)
    n = len(y)
    return np.array(x_rows), np.array(y), np.zeros(n, dtype=int), np.array(card)


def test_a_challenger_that_reviews_fewer_fraudulent_cards_is_vetoed() -> None:
    x, y, day, card = _window()
    # ranks the 100 burst transactions first (high AP), but those are only 2 cards: the
    # other 8 of the day's 10 reviews go to genuine cards
    challenger = _linear(5.0, 0.0, 0.5)
    # ranks the 20 single-fraud cards first: 10 fraudulent cards reviewed of 10
    champion = _linear(0.0, 5.0, 0.0)
    promoted, reason, new, old = compare_on_window(
        challenger, champion, x, y, day, card, K, ap_margin=0.005
    )
    assert new["average_precision"] > old["average_precision"] + 0.5  # AP alone would promote
    assert new["card_precision_at_k"] == pytest.approx(0.2)
    assert old["card_precision_at_k"] == pytest.approx(1.0)
    assert not promoted
    assert reason == "card precision@k 0.2000 is worse than the champion's 1.0000"


def test_equal_card_precision_does_not_veto() -> None:
    x, y, day, card = _window()
    # with 2 reviews a day both review the 2 burst cards; the challenger also ranks the
    # single frauds above the genuine transactions, the champion below them
    challenger, champion = _linear(5.0, 1.0, 0.5), _linear(5.0, 0.0, 0.5)
    promoted, reason, new, old = compare_on_window(
        challenger, champion, x, y, day, card, 2, ap_margin=0.005
    )
    assert new["card_precision_at_k"] == old["card_precision_at_k"] == pytest.approx(1.0)
    assert new["average_precision"] > old["average_precision"] + 0.1
    assert promoted, reason
    assert reason.startswith("average precision +")


def test_a_window_without_labelled_fraud_promotes_nothing() -> None:
    x, y, day, card = _window()
    nothing_known = np.zeros_like(y)  # no fraud reported yet in the gate window
    challenger, champion = _linear(5.0, 0.0, 0.5), _linear(0.0, 5.0, 0.0)
    promoted, reason, new, old = compare_on_window(
        challenger, champion, x, nothing_known, day, card, K, ap_margin=0.005
    )
    assert not promoted
    assert reason == "the gate window has no labelled fraud to compare on"
    assert np.isnan(new["average_precision"])
    assert np.isnan(old["average_precision"])
    # with no champion to defend, the first model is still promoted
    promoted, reason, *_ = compare_on_window(
        challenger, None, x, nothing_known, day, card, K, ap_margin=0.005
    )
    assert promoted
    assert reason == "no champion yet"
