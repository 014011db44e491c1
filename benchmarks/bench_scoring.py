"""Bulk scoring speed: the model step of `fraudops score` against the usual alternatives.

    .venv/bin/python benchmarks/bench_scoring.py [--customers 20000 --days 31]

Trains a LightGBM champion through `fraudops train` on 50 days of 3,000 card holders, then
simulates a separate scoring set (``--customers`` x ``--days``, ~1M transactions by
default) and builds its offline features. On the same feature table it times:

- ``probability``: ``FraudModel.predict_proba`` through LightGBM's predict (every core);
- ``model_step_interpreted``: ``score_frame`` as ``fraudops score --interpreted`` runs it —
  probability, decision, score, and three reasons with their texts for the review and
  decline rows (``--reasons flagged``);
- ``compile_seconds``: compiling the trees to native code (``fraudops[compiled]``), once
  per model; then ``compiled_probability`` and ``model_step`` (the default engine for
  large inputs), and ``model_step_all_reasons`` (``--reasons all``);
- ``pyfunc``: the registered model through ``mlflow.pyfunc.load_model(...).predict`` on a
  pandas frame (probabilities only) — how a user would batch-score with MLflow;
- ``lgbm_shap``: LightGBM's own ``predict(pred_contrib=True)`` (exact TreeSHAP), the usual
  way to get per-row reasons from a booster, on a sample (it is slow) — rows/s only.

Then runs ``fraudops score`` end to end (read, features, model, write). Last line: JSON with
``rows``, ``model_step_rows_per_s`` and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BIN = Path(sys.executable).parent


def run(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(BIN / "fraudops"), *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def rate(rows: int, seconds: float) -> float:
    return round(rows / seconds, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--shap-rows", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fraudops-bench-scoring-"))
    home = work / "home"
    env = {
        **os.environ,
        "FRAUDOPS_HOME": str(home),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    os.environ.update(env)
    train_raw, score_raw = str(work / "train"), str(work / "score")
    try:
        run(env, "data", "generate", "--customers", "3000", "--days", "50", "--out", train_raw)
        run(env, "train", "--data", train_raw, "--models", "lgbm")
        run(
            env,
            "data",
            "generate",
            "--customers",
            str(args.customers),
            "--days",
            str(args.days),
            "--seed",
            "11",
            "--out",
            score_raw,
        )
        results = measure(home, score_raw, args.shap_rows)
        started = time.perf_counter()
        out = run(env, "score", "--input", score_raw, "--out", str(work / "scored"))
        results["cli_seconds"] = round(time.perf_counter() - started, 2)
        results["cli_rows_per_s"] = rate(results["rows"], results["cli_seconds"])
        print(out.strip().splitlines()[-1] if out.strip() else "", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))


def measure(home: Path, raw: str, shap_rows: int) -> dict[str, Any]:
    import mlflow
    import polars as pl

    from fraudops.config import Settings
    from fraudops.data import store
    from fraudops.features.offline import build_offline_features
    from fraudops.models.compiled import compile_booster
    from fraudops.models.registry import Registry
    from fraudops.models.tracking import configure_mlflow
    from fraudops.pipelines.scoring import score_frame

    settings = Settings(home=home)
    configure_mlflow(settings)
    registry = Registry.from_settings(settings)
    version = registry.version_by_alias("champion")
    assert version is not None
    model = registry.load(version)
    started = time.perf_counter()
    features = build_offline_features(store.read_dataset(raw))
    feature_seconds = time.perf_counter() - started
    rows = features.height
    x = features.select(model.feature_names).cast(pl.Float64).to_numpy()
    thresholds = model.thresholds
    out: dict[str, Any] = {"rows": rows, "features": len(model.feature_names)}
    out["feature_seconds"] = round(feature_seconds, 2)

    model.threads = 0  # as `fraudops score` runs it: every core
    started = time.perf_counter()
    probability = model.predict_proba(x)
    out["probability_rows_per_s"] = rate(rows, time.perf_counter() - started)

    def model_step(key: str, reasons: str) -> None:
        started = time.perf_counter()
        scored = score_frame(model, features, version, settings.model_name, "champion", reasons)
        seconds = time.perf_counter() - started
        assert scored.height == rows
        out[f"{key}_seconds"] = round(seconds, 2)
        out[f"{key}_rows_per_s"] = rate(rows, seconds)

    model_step("model_step_interpreted", "flagged")
    started = time.perf_counter()
    model.compiled_predict = compile_booster(model.estimator, home / "cache" / "compiled")
    out["compile_seconds"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    compiled_probability = model.predict_proba(x)
    out["compiled_probability_rows_per_s"] = rate(rows, time.perf_counter() - started)
    np.testing.assert_allclose(compiled_probability, probability, rtol=0, atol=1e-9)
    model_step("model_step", "flagged")
    model_step("model_step_all_reasons", "all")
    flagged = int((compiled_probability >= thresholds["review"]).sum())
    out["flagged_share"] = round(flagged / rows, 4)
    model.compiled_predict = None

    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.model_name}@champion")
    frame = features.select(model.feature_names).cast(pl.Float64).to_pandas()
    started = time.perf_counter()
    predicted = pyfunc.predict(frame)
    seconds = time.perf_counter() - started
    out["pyfunc_rows_per_s"] = rate(rows, seconds)
    np.testing.assert_allclose(np.asarray(predicted["fraud_probability"]), probability)

    sample = x[: min(shap_rows, rows)]
    started = time.perf_counter()
    model.estimator.predict(sample, pred_contrib=True)
    seconds = time.perf_counter() - started
    out["lgbm_shap_rows_per_s"] = rate(sample.shape[0], seconds)

    out["ratio_vs_pyfunc"] = round(out["model_step_rows_per_s"] / out["pyfunc_rows_per_s"], 1)
    out["ratio_vs_lgbm_shap"] = round(out["model_step_rows_per_s"] / out["lgbm_shap_rows_per_s"], 1)
    return out


if __name__ == "__main__":
    main()
