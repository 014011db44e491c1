"""Reason codes: a row's largest positive feature contributions, worded for analysts
(the same sentences from the API and from bulk scoring)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fraudops.features.spec import describe_features, feature_names

TOP_REASONS = 3


class ReasonWriter:
    """Turns the largest positive contributions into short sentences for analysts."""

    def __init__(self, names: Sequence[str] | None = None) -> None:
        self.names = list(names) if names is not None else feature_names()
        described = {f["name"]: f["description"].rstrip(".") for f in describe_features()}
        self.labels = [described.get(n, n) for n in self.names]

    def text(self, feature: int, value: float) -> str:
        """The sentence for feature number ``feature`` (in ``names``) at ``value``."""
        return f"{self.labels[feature]}: {value:.4g}"

    def reasons_many(
        self, values: np.ndarray, contributions: np.ndarray
    ) -> list[list[dict[str, Any]]]:
        """``reasons`` of every row of a batch: one sort of the matrix, one conversion to
        Python numbers (the same order as row by row: the same sort per row)."""
        if len(values) == 0:
            return []
        order = np.argsort(-contributions, axis=1)[:, :TOP_REASONS]
        picked_values = np.take_along_axis(values, order, axis=1).tolist()
        picked = np.take_along_axis(contributions, order, axis=1).tolist()
        names, labels = self.names, self.labels
        return [
            [
                {
                    "feature": names[i],
                    "value": value,
                    "contribution": round(contribution, 6),
                    "text": f"{labels[i]}: {value:.4g}",
                }
                for i, value, contribution in zip(row, row_values, row_contributions, strict=True)
            ]
            for row, row_values, row_contributions in zip(
                order.tolist(), picked_values, picked, strict=True
            )
        ]

    def reasons(self, values: np.ndarray, contributions: np.ndarray) -> list[dict[str, Any]]:
        """The reasons of one row."""
        return self.reasons_many(values[None, :], contributions[None, :])[0]
