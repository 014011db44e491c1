"""Training speed: LightGBM on 1M rows of features, and the four-model comparison with
Optuna trials for the best model on 500k rows.

    .venv/bin/python benchmarks/bench_training.py --rows 1000000 --compare-rows 500000 --trials 20

Last line: JSON with lgbm_rows, lgbm_fit_seconds, compare_rows, compare_trials,
compare_seconds and per-model test AP.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

import numpy as np
import polars as pl

from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.offline import build_offline_features
from fraudops.features.spec import feature_names
from fraudops.models.train import feature_matrix, fit_estimator, labels_known_at
from fraudops.pipelines.training import FeatureData, TrainingOptions, train_candidates


def features_for(rows: int, seed: int) -> pl.DataFrame:
    days = 60
    customers = max(1_000, int(rows / days / 1.6))
    frame = generate(
        SimulationConfig(customers=customers, days=days, start=date(2026, 1, 1), seed=seed)
    )
    return build_offline_features(frame).sort("timestamp", "transaction_id")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--compare-rows", type=int, default=500_000)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    names = feature_names()

    frame = features_for(args.rows, seed=1).head(args.rows)
    x = feature_matrix(frame, names)
    cutoff = frame["timestamp"].max()
    y = labels_known_at(frame, cutoff)  # type: ignore[arg-type]
    started = time.perf_counter()
    fit_estimator("lgbm", x, y)
    lgbm_seconds = time.perf_counter() - started

    compare = features_for(args.compare_rows, seed=2)
    data = FeatureData(compare, names, "bench", "bench", "memory", burn_in_days=30)
    started = time.perf_counter()
    _, results, rows = train_candidates(data, TrainingOptions(trials=args.trials, k=100))
    compare_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "lgbm_rows": int(x.shape[0]),
                "lgbm_fit_seconds": round(lgbm_seconds, 1),
                "compare_rows": int(compare.height),
                "compare_train_rows": rows["train"],
                "compare_trials": args.trials,
                "compare_seconds": round(compare_seconds, 1),
                "test_average_precision": {
                    r.algorithm: round(float(np.nan_to_num(r.test_metrics["average_precision"])), 4)
                    for r in results
                },
            }
        )
    )


if __name__ == "__main__":
    main()
