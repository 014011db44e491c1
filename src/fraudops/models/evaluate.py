"""Fraud metrics: ranking quality, analyst-capacity metrics and money.

All functions are pure (arrays in, numbers out) so they can be checked by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from fraudops.models.decision import DecisionThresholds, decision_masks


@dataclass(frozen=True)
class CostModel:
    """What a decision costs or saves, per transaction.

    - a declined fraud saves its amount; a declined genuine transaction costs
      ``false_decline_cost`` (lost margin and an annoyed customer);
    - a reviewed transaction costs ``review_cost`` of analyst time; a reviewed fraud is
      stopped (its amount saved) with probability ``review_catch_rate``;
    - an approved fraud loses its amount (the baseline with no model).
    """

    review_cost: float = 3.0
    false_decline_cost: float = 15.0
    review_catch_rate: float = 0.9

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _has_both_classes(y: np.ndarray) -> bool:
    return bool(y.size) and 0 < int(y.sum()) < y.size


def finite_mean(values: list[float]) -> float:
    """Mean of the finite values (a skipped fold scores NaN); NaN when there are none."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if _has_both_classes(y) else float("nan")


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    return float(average_precision_score(y, score)) if _has_both_classes(y) else float("nan")


def recall_at_fpr(y: np.ndarray, score: np.ndarray, max_fpr: float = 0.01) -> float:
    """Share of frauds caught while flagging at most ``max_fpr`` of genuine transactions."""
    if not _has_both_classes(y):
        return float("nan")
    fpr, tpr, _ = roc_curve(y, score)
    return float(tpr[fpr <= max_fpr].max())


def precision_at_k_per_day(day: np.ndarray, y: np.ndarray, score: np.ndarray, k: int) -> float:
    """Mean over days of the fraud share among the day's ``k`` highest-scored transactions.

    A day with fewer than ``k`` transactions divides by its own count.
    """
    values = []
    for d in np.unique(day):
        in_day = day == d
        top = np.argsort(-score[in_day], kind="stable")[:k]
        values.append(y[in_day][top].mean())
    return float(np.mean(values)) if values else float("nan")


def card_precision_at_k_per_day(
    day: np.ndarray, card: np.ndarray, y: np.ndarray, score: np.ndarray, k: int
) -> float:
    """Card precision@k: analysts review cards, not transactions.

    Each day, a card's score is its riskiest transaction of the day and it is fraudulent if
    any of its transactions that day is. The ``k`` riskiest cards are "reviewed"; cards
    already caught (found fraudulent on an earlier day) are no longer candidates, so a
    card counts once. Returns the mean daily share of fraudulent cards among those ``k``
    (divided by ``k`` — a day with fewer candidate cards cannot reach 1 by luck).
    """
    caught: set[Any] = set()
    values = []
    for d in np.unique(day):
        in_day = day == d
        cards, inverse = np.unique(card[in_day], return_inverse=True)
        card_score = np.full(cards.size, -np.inf)
        np.maximum.at(card_score, inverse, score[in_day])
        card_fraud = np.zeros(cards.size)
        np.maximum.at(card_fraud, inverse, y[in_day])
        candidates = np.array([c not in caught for c in cards], dtype=bool)
        order = np.flatnonzero(candidates)[np.argsort(-card_score[candidates], kind="stable")]
        top = order[:k]
        values.append(card_fraud[top].sum() / k)
        caught.update(cards[top][card_fraud[top] == 1].tolist())
    return float(np.mean(values)) if values else float("nan")


@dataclass(frozen=True)
class Thresholds(DecisionThresholds):
    """Thresholds chosen on a labelled window, with the savings they gave there."""

    savings: float
    baseline_loss: float


def savings_curve(
    y: np.ndarray, score: np.ndarray, amount: np.ndarray, cost: CostModel, n_points: int = 101
) -> tuple[np.ndarray, np.ndarray]:
    """Savings versus a single threshold where every flagged transaction is declined."""
    thresholds = np.quantile(score, np.linspace(0, 1, n_points)) if score.size else np.array([])
    savings = np.array(
        # review = decline: no review band, every flagged transaction is declined
        [_savings(y, score, amount, cost, DecisionThresholds(t, t)) for t in thresholds]
    )
    return thresholds, savings


def _savings(
    y: np.ndarray,
    score: np.ndarray,
    amount: np.ndarray,
    cost: CostModel,
    thresholds: DecisionThresholds,
) -> float:
    reviewed, declined = decision_masks(score, thresholds)
    return decision_savings(y, amount, reviewed, declined, cost)


def decision_savings(
    y: np.ndarray, amount: np.ndarray, reviewed: np.ndarray, declined: np.ndarray, cost: CostModel
) -> float:
    """Savings of decisions already made (boolean masks of reviewed and declined
    transactions, disjoint) against approving everything."""
    fraud = y == 1
    saved = amount[declined & fraud].sum() - cost.false_decline_cost * (declined & ~fraud).sum()
    saved += cost.review_catch_rate * amount[reviewed & fraud].sum()
    saved -= cost.review_cost * reviewed.sum()
    return float(saved)


def optimal_thresholds(
    y: np.ndarray,
    score: np.ndarray,
    amount: np.ndarray,
    cost: CostModel,
    n_candidates: int = 200,
) -> Thresholds:
    """The review and decline thresholds that maximise expected savings.

    Works on prefix sums over the transactions sorted by score, so every (review, decline)
    pair of candidate cut points is evaluated in O(1).
    """
    baseline = float(amount[y == 1].sum())
    if score.size == 0:
        return Thresholds(review=1.0, decline=1.0, savings=0.0, baseline_loss=0.0)
    order = np.argsort(-score, kind="stable")
    s, fraud, amt = score[order], (y[order] == 1), amount[order]
    fraud_amount = np.concatenate([[0.0], np.cumsum(np.where(fraud, amt, 0.0))])
    genuine = np.concatenate([[0], np.cumsum(~fraud)])
    # cut i = the first i transactions are flagged; a cut inside a run of equal scores is
    # impossible (a threshold cannot split ties), so candidates are the score boundaries
    boundaries = np.flatnonzero(s[1:] < s[:-1]) + 1
    cuts = np.concatenate([[0], boundaries, [s.size]])
    if cuts.size > n_candidates:
        # keep the resolution where it matters: every boundary among the top scores,
        # then evenly spaced ones
        head = cuts[: n_candidates // 2]
        tail = cuts[np.linspace(n_candidates // 2, cuts.size - 1, n_candidates // 2).astype(int)]
        cuts = np.unique(np.concatenate([head, tail]))
    decline_part = fraud_amount[cuts] - cost.false_decline_cost * genuine[cuts]
    best = (-np.inf, 0, 0)
    for a, i in enumerate(cuts):  # i declined; j - i reviewed
        j = cuts[a:]
        review_part = cost.review_catch_rate * (fraud_amount[j] - fraud_amount[i]) - (
            cost.review_cost * (j - i)
        )
        b = int(np.argmax(review_part))
        total = decline_part[a] + review_part[b]
        if total > best[0]:
            best = (float(total), int(i), int(j[b]))

    def threshold_at(cut: int) -> float:
        # flag the first `cut` transactions: threshold halfway to the next score (flagging
        # none when the top score is 1.0 cannot be written: 1.0 flags only those scores)
        if cut == 0:
            return min(float(np.nextafter(s[0], np.inf)), 1.0)
        if cut >= s.size:
            return float(s[-1])
        return float((s[cut - 1] + s[cut]) / 2)

    decline = threshold_at(best[1])
    review = min(threshold_at(best[2]), decline)
    return Thresholds(review=review, decline=decline, savings=best[0], baseline_loss=baseline)


def evaluate_scores(
    y: np.ndarray,
    score: np.ndarray,
    amount: np.ndarray,
    day: np.ndarray,
    card: np.ndarray,
    k: int = 100,
    cost: CostModel | None = None,
    thresholds: DecisionThresholds | None = None,
) -> dict[str, float]:
    """Every headline metric of a scored, labelled window (at the optimal thresholds of
    the window itself when none are given)."""
    cost = cost or CostModel()
    y = np.asarray(y, dtype=np.int64)
    chosen = thresholds or optimal_thresholds(y, score, amount, cost)
    savings = _savings(y, score, amount, cost, chosen)
    baseline_loss = float(amount[y == 1].sum())
    reviewed, declined = decision_masks(score, chosen)
    flagged = reviewed | declined
    frauds = max(int(y.sum()), 1)
    return {
        "roc_auc": roc_auc(y, score),
        "average_precision": average_precision(y, score),
        "recall_at_1pct_fpr": recall_at_fpr(y, score, 0.01),
        "precision_at_k": precision_at_k_per_day(day, y, score, k),
        "card_precision_at_k": card_precision_at_k_per_day(day, card, y, score, k),
        "savings": savings,
        "savings_share": savings / baseline_loss if baseline_loss else float("nan"),
        "recall_at_review": float((flagged & (y == 1)).sum() / frauds),
        "alert_rate": float(flagged.mean()) if flagged.size else float("nan"),
        "review_threshold": chosen.review,
        "decline_threshold": chosen.decline,
        "fraud_rate": float(y.mean()) if y.size else float("nan"),
        "transactions": float(y.size),
    }
