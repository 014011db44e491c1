"""Bulk scoring outside the API: stored transactions -> offline features -> champion.

Writes the same fields as ``POST /v1/predict`` (reasons included), partitioned by date,
for backtests, re-scoring after a model change and daily batch jobs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import polars as pl

from fraudops.config import Settings
from fraudops.data import store
from fraudops.models.bundle import FraudModel
from fraudops.serving.service import TOP_REASONS, decide


def score_frame(
    model: FraudModel, features: pl.DataFrame, version: int | None, name: str, alias: str
) -> pl.DataFrame:
    """Vectorised scoring of a feature table (one row per transaction)."""
    from fraudops.features.spec import describe_features

    x = features.select(model.feature_names).cast(pl.Float64).to_numpy()
    probability, contributions = model.score_and_explain(x)
    thresholds = model.thresholds
    top = np.argsort(-contributions, axis=1)[:, :TOP_REASONS]
    descriptions = {f["name"]: f["description"] for f in describe_features()}
    names = np.array(model.feature_names)
    rows = np.arange(x.shape[0])[:, None]
    reason_structs = [
        pl.Series(
            f"reason_{j + 1}",
            [
                {
                    "feature": f,
                    "value": float(v),
                    "contribution": float(c),
                    "text": f"{descriptions.get(f, f).rstrip('.')}: {v:.4g}",
                }
                for f, v, c in zip(
                    names[top[:, j]],
                    x[rows[:, 0], top[:, j]],
                    contributions[rows[:, 0], top[:, j]],
                    strict=True,
                )
            ],
        )
        for j in range(min(TOP_REASONS, x.shape[1]))
    ]
    return features.select("transaction_id", "timestamp", "card_id", "amount").with_columns(
        pl.Series("fraud_probability", np.round(probability, 6)),
        pl.Series("score", np.minimum((probability * 1000).astype(np.int64), 999)),
        pl.Series("decision", decide(probability, thresholds["review"], thresholds["decline"])),
        pl.concat_list(reason_structs).alias("reasons") if reason_structs else pl.lit(None),
        pl.lit(name).alias("model_name"),
        pl.lit(version).alias("model_version"),
        pl.lit(alias).alias("model_alias"),
    )


def score_dataset(
    settings: Settings, input_uri: str, out_uri: str, alias: str = "champion"
) -> dict[str, Any]:
    from fraudops.features.offline import build_offline_features
    from fraudops.models.registry import Registry, RegistryError
    from fraudops.pipelines.data import resolve_transactions_uri
    from fraudops.pipelines.training import configure_mlflow

    configure_mlflow(settings)
    registry = Registry(
        settings.resolved_tracking_uri, settings.resolved_registry_uri, settings.model_name
    )
    version = registry.version_by_alias(alias)
    if version is None:
        raise RegistryError(f"no {alias!r} model registered yet; run `fraudops train` first")
    model = registry.load(version)
    model.threads = 0  # a batch job owns the machine: every core
    options = settings.storage_options()
    transactions = store.read_dataset(
        resolve_transactions_uri(input_uri, options), storage_options=options
    )
    if transactions.height == 0:
        raise FileNotFoundError(f"no transactions found under {input_uri}")
    features = build_offline_features(transactions)
    started = time.perf_counter()
    scored = score_frame(model, features, version, settings.model_name, alias)
    model_seconds = time.perf_counter() - started
    infos = store.write_dataset(out_uri, scored, storage_options=options)
    counts = scored["decision"].value_counts()
    return {
        "rows": scored.height,
        "partitions": len(infos),
        "model_version": version,
        "model_seconds": round(model_seconds, 3),
        "decisions": dict(
            zip(counts["decision"].to_list(), counts["count"].to_list(), strict=True)
        ),
        "out": out_uri,
    }
