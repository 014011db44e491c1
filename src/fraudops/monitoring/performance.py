"""Live performance once labels have matured.

A window of predictions is judged only when every transaction in it is at least
``maturity_days`` old, and only with the labels reported by the as-of time: judging a
fresh window would count not-yet-reported frauds as genuine and cry wolf.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from fraudops.models.decision import DecisionThresholds
from fraudops.models.evaluate import CostModel, evaluate_scores


def known_fraud_ids(labels: pl.DataFrame, as_of: datetime) -> pl.Series:
    """Transactions confirmed as fraud by ``as_of`` (the latest label per id wins)."""
    if labels.height == 0:
        return pl.Series("transaction_id", [], dtype=pl.String)
    latest = (
        labels.filter(pl.col("reported_at") <= as_of)
        .sort("reported_at")
        .group_by("transaction_id")
        .agg(pl.col("is_fraud").last())
    )
    return latest.filter(pl.col("is_fraud") == 1)["transaction_id"]


def matured_performance(
    predictions: pl.DataFrame,
    labels: pl.DataFrame,
    as_of: datetime,
    k: int,
    thresholds: DecisionThresholds,
    cost: CostModel | None = None,
) -> dict[str, float]:
    """Metrics of a matured prediction window with the labels known at ``as_of``, judged
    at the serving model's own thresholds."""
    if predictions.height == 0:
        return {"labelled_rows": 0.0}
    fraud_ids = known_fraud_ids(labels, as_of)
    y = predictions["transaction_id"].is_in(fraud_ids.implode()).to_numpy().astype(np.int64)
    score = predictions["fraud_probability"].to_numpy()
    metrics = evaluate_scores(
        y,
        score,
        predictions["amount"].to_numpy(),
        predictions["timestamp"].dt.date().cast(pl.String).to_numpy(),
        predictions["card_id"].to_numpy(),
        k,
        cost,
        thresholds,
    )
    metrics["labelled_rows"] = float(predictions.height)
    metrics["known_frauds"] = float(y.sum())
    return metrics
