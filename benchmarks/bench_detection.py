"""Detection quality under real label delay: a fixed protocol on simulated data.

    .venv/bin/python benchmarks/bench_detection.py                       # the documented run
    .venv/bin/python benchmarks/bench_detection.py --seeds 0 1 --models lgbm --feature-sets all

Protocol: per seed and label-delay model (``constant``: every fraud reported exactly 7 days
later; ``realistic``: the simulator's call-or-chargeback mixture), a 7-day test window
follows a 7-day gap after a 7-day or 28-day training window; the model is built at the test
start with the labels reported by then (what production would know) and judged with the
final labels. Reported per model: ROC AUC, average precision (AP) and card precision@100 on
the test window, and which model the selection picked (its *regret*: best test AP minus the
picked model's). Two references per model: an ablation without the fraud-history features
(the columns built from reported labels) and a *ceiling*, the same model trained on final
labels (what a world without label delay would give).

``--feature-sets`` compares alternative fraud-history feature sets (used to choose the
spec's set): ``spec`` (the shipped spec), ``undelayed`` (rates over the last W days, counting
the labels reported so far), ``matured`` (rates over windows old enough for labels to have
arrived), ``none`` (no fraud-history features).

Last line: JSON with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

# OpenMP threads that spin while waiting make LightGBM and XGBoost crawl when the cores are
# shared (measured here: minutes instead of seconds per fit under a load of 10)
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.definition import LABEL_KINDS, FeatureDef
from fraudops.features.offline import build_offline_features
from fraudops.features.spec import DAY, FEATURES
from fraudops.models.evaluate import average_precision, card_precision_at_k_per_day, roc_auc
from fraudops.pipelines.training import FeatureData, TrainingOptions, pick_best, train_candidates

START = date(2024, 11, 1)
BURN_IN_DAYS = 45  # full 30-day windows, plus matured windows reaching 7 days further back
DELAY_DAYS = 7
TEST_DAYS = 7


def _rate_features(delay: timedelta, suffix: str) -> list[FeatureDef]:
    """Fraud rates per terminal and merchant over 1, 7 and 30 days, delayed by ``delay``."""
    features = []
    for entity, noun in (("terminal_id", "terminal"), ("merchant_id", "merchant")):
        for window in (DAY, 7 * DAY, 30 * DAY):
            features.append(
                FeatureDef(
                    f"{noun}_fraud_rate_{window // DAY}d{suffix}",
                    "fraud_rate",
                    "benchmark candidate",
                    entity=entity,  # type: ignore[arg-type]
                    window=window,
                    delay=delay,
                )
            )
    return features


def candidate_sets() -> tuple[tuple[FeatureDef, ...], dict[str, list[str]]]:
    """Every feature any set needs (computed once) and the names of each set."""
    base = [f for f in FEATURES if f.kind not in LABEL_KINDS]
    spec_history = [f for f in FEATURES if f.kind in LABEL_KINDS]
    undelayed = _rate_features(timedelta(0), "_undelayed")
    matured = _rate_features(timedelta(days=DELAY_DAYS), "_matured")
    card = FeatureDef(
        "card_fraud_count_30d_bench",
        "fraud_count",
        "benchmark candidate",
        entity="card_id",
        window=30 * DAY,
    )
    superset = (*FEATURES, *undelayed, *matured, card)
    names = [f.name for f in base]
    return superset, {
        "spec": [f.name for f in FEATURES],
        "none": names,
        "undelayed": names + [f.name for f in undelayed],
        "matured": names + [f.name for f in matured] + [card.name],
        "both": names + [f.name for f in (*undelayed, *matured, card)],
        "_history": [f.name for f in spec_history],
    }


def simulate(seed: int, delay_model: str, customers: int, total_days: int) -> pl.DataFrame:
    config = SimulationConfig(
        customers=customers,
        days=total_days,
        start=START,
        seed=seed,
        label_delay_model=delay_model,
        label_delay_mean_days=DELAY_DAYS,
        unreported_fraction=0.0 if delay_model == "constant" else 0.05,
    )
    return generate(config)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def run_protocol(
    features: pl.DataFrame,
    names: list[str],
    window_days: int,
    test_end: datetime,
    models: tuple[str, ...],
    seed: int,
    final_labels: bool = False,
) -> dict[str, Any]:
    """Train every model on the window, select, and judge on the test window."""
    frame = features
    if final_labels:  # the ceiling: training sees every fraud as soon as it happens
        frame = frame.with_columns(
            label_available_at=pl.when(pl.col("is_fraud") == 1).then(pl.col("timestamp"))
        )
    train_end = test_end - timedelta(days=TEST_DAYS + DELAY_DAYS)
    options = TrainingOptions(
        models=models,
        train_start=train_end - timedelta(days=window_days),
        train_end=train_end,
        delay_days=DELAY_DAYS,
        test_end=test_end,
        n_folds=0,
        seed=seed,
        register=False,
    )
    data = FeatureData(frame, names, "bench", "bench", "memory", burn_in_days=BURN_IN_DAYS)
    split, results, _ = train_candidates(data, options)
    chosen, selection = pick_best(results, seed)
    test = frame.filter(
        (pl.col("timestamp") >= split.test_start) & (pl.col("timestamp") < split.test_end)
    )
    y = test["is_fraud"].fill_null(0).to_numpy()
    day = test["timestamp"].dt.date().cast(pl.String).to_numpy()
    card = test["card_id"].to_numpy()
    per_model = {
        r.algorithm: {
            "auc": roc_auc(y, r.test_scores),
            "ap": average_precision(y, r.test_scores),
            "card_p_at_100": card_precision_at_k_per_day(day, card, y, r.test_scores, 100),
            "selection_score": selection.scores.get(r.algorithm, float("nan")),
        }
        for r in results
    }
    best_ap = max(m["ap"] for m in per_model.values())
    return {
        "models": per_model,
        "chosen": chosen.algorithm,
        "regret": best_ap - per_model[chosen.algorithm]["ap"],
        "selection_spread": selection.spread,
        "selection_frauds": selection.frauds,
        "test_frauds": int(y.sum()),
        "test_rows": int(y.size),
    }


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return round(float(np.mean(finite)), 4) if finite else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])  # regret: 5
    parser.add_argument("--delay-models", nargs="+", default=["constant", "realistic"])
    parser.add_argument("--windows", type=int, nargs="+", default=[7, 28])
    parser.add_argument("--models", nargs="+", default=["lr", "rf", "xgb", "lgbm"])
    parser.add_argument("--customers", type=int, default=4_000)
    parser.add_argument(
        "--feature-sets",
        nargs="+",
        default=["spec"],
        help="spec, undelayed, matured, both, none (or 'all')",
    )
    parser.add_argument(
        "--reference-seeds",
        type=int,
        nargs="*",
        default=[0, 1, 2],
        help="seeds that also run the ablation and the ceiling (none: skip them)",
    )
    args = parser.parse_args()
    sets = (
        ["spec", "undelayed", "matured", "both", "none"]
        if "all" in args.feature_sets
        else args.feature_sets
    )
    superset, names_of = candidate_sets()
    total_days = BURN_IN_DAYS + max(args.windows) + DELAY_DAYS + TEST_DAYS
    test_end = _midnight(START) + timedelta(days=total_days)
    models = tuple(args.models)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    for delay_model in args.delay_models:
        for seed in args.seeds:
            raw = simulate(seed, delay_model, args.customers, total_days)
            features = build_offline_features(raw, features=superset).sort(
                "timestamp", "transaction_id"
            )
            for window in args.windows:
                for feature_set in sets:
                    names = names_of[feature_set]
                    base = {"delay_model": delay_model, "seed": seed, "window_days": window}
                    result = run_protocol(features, names, window, test_end, models, seed)
                    runs.append({**base, "feature_set": feature_set, **result})
                    print(
                        f"{delay_model:9s} seed {seed} window {window:2d}d {feature_set:9s} "
                        + " ".join(f"{m} {v['ap']:.3f}" for m, v in result["models"].items())
                        + f" chosen {result['chosen']} regret {result['regret']:.3f}",
                        flush=True,
                    )
                    if seed not in args.reference_seeds or feature_set != "spec":
                        continue
                    history = set(names_of["_history"])
                    ablation = run_protocol(
                        features,
                        [n for n in names if n not in history],
                        window,
                        test_end,
                        models,
                        seed,
                    )
                    runs.append({**base, "feature_set": "spec-no-history", **ablation})
                    ceiling = run_protocol(features, names, window, test_end, models, seed, True)
                    runs.append({**base, "feature_set": "spec-final-labels", **ceiling})
    summary: dict[str, Any] = {}
    for run in runs:
        key = f"{run['delay_model']}/{run['window_days']}d/{run['feature_set']}"
        entry = summary.setdefault(key, {"regret": [], "chosen": [], "models": {}})
        entry["regret"].append(run["regret"])
        entry["chosen"].append(run["chosen"])
        for model, values in run["models"].items():
            for metric, value in values.items():
                entry["models"].setdefault(model, {}).setdefault(metric, []).append(value)
    table = {
        key: {
            "mean_regret": _mean(entry["regret"]),
            "chosen": entry["chosen"],
            "models": {
                model: {metric: _mean(values) for metric, values in metrics.items()}
                for model, metrics in entry["models"].items()
            },
        }
        for key, entry in summary.items()
    }
    for key, entry in table.items():
        print(
            f"{key:36s} "
            + " ".join(
                f"{m}: AP {v['ap']:.3f} AUC {v['auc']:.3f} cP@100 {v['card_p_at_100']:.3f}"
                for m, v in entry["models"].items()
            )
            + f" | regret {entry['mean_regret']}"
        )
    all_regrets = [r["regret"] for r in runs if r["feature_set"] == "spec"]
    print(
        json.dumps(
            {
                "seeds": args.seeds,
                "customers": args.customers,
                "seconds": round(time.perf_counter() - started, 1),
                "mean_selection_regret": _mean(all_regrets),
                "table": table,
            }
        )
    )


if __name__ == "__main__":
    main()
