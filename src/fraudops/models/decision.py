"""The decision rule: a calibrated fraud probability -> approve, review or decline.

Defined once and used by the API (one transaction at a time), bulk scoring (a polars
expression over millions of rows), monitoring (decision rates) and evaluation (savings).
A transaction is declined when its probability is at least the decline threshold, sent to
review when it is at least the review threshold, and approved otherwise. The 0-999 score
shown to analysts is the probability in thousandths, capped at 999.

A model without thresholds cannot decide: :meth:`DecisionThresholds.from_mapping` refuses
it with an error that says so, instead of guessing a default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, Self

import numpy as np
import polars as pl

Decision = Literal["approve", "review", "decline"]
DECISIONS: tuple[Decision, ...] = ("approve", "review", "decline")
FLAGGED: frozenset[str] = frozenset({"review", "decline"})  # what an analyst sees
MAX_POINTS = 999


class ThresholdsError(ValueError):
    """Decision thresholds are missing or out of order."""


@dataclass(frozen=True)
class DecisionThresholds:
    """Review and decline thresholds on the calibrated probability, ``0 <= review <=
    decline <= 1``."""

    review: float
    decline: float

    def __post_init__(self) -> None:
        for name in ("review", "decline"):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                raise ThresholdsError(
                    f"the {name} threshold must be a finite number, got {value!r}"
                )
            object.__setattr__(self, name, number)  # frozen: set once, as a plain float
        if not 0.0 <= self.review <= self.decline <= 1.0:
            raise ThresholdsError(
                "decision thresholds must satisfy 0 <= review <= decline <= 1, got "
                f"review={self.review:g}, decline={self.decline:g}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, source: str) -> Self:
        """Thresholds from ``{"review": ..., "decline": ...}``; ``source`` names where they
        were expected, for the error message when they are missing."""
        missing = [k for k in ("review", "decline") if not values or values.get(k) is None]
        if values is None or missing:
            raise ThresholdsError(
                f"{source} has no decision threshold {' or '.join(map(repr, missing))}: "
                "a model decides only with the thresholds chosen when it was trained "
                "(retrain it with `fraudops train`)"
            )
        try:
            return cls(review=values["review"], decline=values["decline"])
        except ThresholdsError as error:
            raise ThresholdsError(f"{source}: {error}") from None

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def decide(probability: float, thresholds: DecisionThresholds) -> Decision:
    """The decision for one probability (the API's per-request form)."""
    if probability >= thresholds.decline:
        return "decline"
    if probability >= thresholds.review:
        return "review"
    return "approve"


def decision_masks(
    probability: np.ndarray, thresholds: DecisionThresholds
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks ``(review, decline)`` of an array of probabilities (disjoint)."""
    declined = probability >= thresholds.decline
    reviewed = (probability >= thresholds.review) & ~declined
    return reviewed, declined


def decide_array(probability: np.ndarray, thresholds: DecisionThresholds) -> np.ndarray:
    """The decisions of an array of probabilities, as an array of strings."""
    reviewed, declined = decision_masks(probability, thresholds)
    return np.select([declined, reviewed], ["decline", "review"], default="approve")


def decision_expr(probability: pl.Expr, thresholds: DecisionThresholds) -> pl.Expr:
    """The decision as a polars expression (bulk scoring: no Python per row)."""
    return (
        pl.when(probability >= thresholds.decline)
        .then(pl.lit("decline"))
        .when(probability >= thresholds.review)
        .then(pl.lit("review"))
        .otherwise(pl.lit("approve"))
    )


def score_points(probability: float) -> int:
    """The 0-999 score of one probability."""
    return min(int(probability * 1000), MAX_POINTS)


def score_points_array(probability: np.ndarray) -> np.ndarray:
    """The 0-999 scores of an array of probabilities."""
    return np.minimum((probability * 1000).astype(np.int64), MAX_POINTS)


def decision_rates(probability: np.ndarray, thresholds: DecisionThresholds) -> dict[str, float]:
    """Shares of review and decline decisions (0 for an empty window)."""
    if probability.size == 0:
        return {"review": 0.0, "decline": 0.0}
    reviewed, declined = decision_masks(probability, thresholds)
    return {"review": float(reviewed.mean()), "decline": float(declined.mean())}
