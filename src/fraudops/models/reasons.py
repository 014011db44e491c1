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

    def reasons(self, values: np.ndarray, contributions: np.ndarray) -> list[dict[str, Any]]:
        order = np.argsort(-contributions)[:TOP_REASONS]
        out = []
        for i in order:
            name = self.names[i]
            value = float(values[i])
            out.append(
                {
                    "feature": name,
                    "value": value,
                    "contribution": round(float(contributions[i]), 6),
                    "text": self.text(i, value),
                }
            )
        return out
