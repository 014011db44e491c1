"""Bulk scoring on Spark against the polars engine, on the same feature table.

    .venv/bin/python benchmarks/bench_spark_scoring.py [--customers 20000 --days 31]

Trains a LightGBM champion through `fraudops train` (50 days, 3,000 card holders), simulates
a separate scoring set (``--customers`` x ``--days``, ~1M transactions by default) and builds
its feature table with `fraudops features build`. Then scores that table:

- ``polars``: `fraudops score`'s engine in this process (every core, LightGBM's own
  predict: the Spark engine scores interpreted too), read + model + write;
- ``spark_local1`` / ``spark_local2``: `fraudops score --engine spark` on ``local[1]`` and
  ``local[2]`` — read, score (Arrow batches through ``score_frame``), shuffle by day, write;
  the session's start is timed apart (``*_session_seconds``).

Both write the same date-partitioned table; the script checks they agree (rows, decisions).
Last line: JSON with every time and rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_scoring import rate, run  # the same training and rate as the polars benchmark


def spark_run(settings: Any, master: str, features: str, out: str) -> dict[str, Any]:
    from fraudops.features.spark import spark_session, stop_spark_session
    from fraudops.pipelines.spark_scoring import score_dataset_spark

    started = time.perf_counter()
    session = spark_session(master, "fraudops-bench")
    session_seconds = time.perf_counter() - started
    try:
        summary = score_dataset_spark(settings, features, out, spark=session)
    finally:
        stop_spark_session()
    return {"session_seconds": round(session_seconds, 2), **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=31)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fraudops-bench-spark-scoring-"))
    home = work / "home"
    env = {
        **os.environ,
        "FRAUDOPS_HOME": str(home),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    os.environ.update(env)
    train_raw, score_raw, features = str(work / "train"), str(work / "score"), str(work / "f")
    try:
        run(env, "data", "generate", "--customers", "3000", "--days", "50", "--out", train_raw)
        run(env, "train", "--data", train_raw, "--models", "lgbm")
        customers, days = str(args.customers), str(args.days)
        run(env, "data", "generate", "--customers", customers, "--days", days, "--seed", "11",
            "--out", score_raw)  # fmt: skip
        run(env, "features", "build", "--input", score_raw, "--out", features)

        from fraudops.config import Settings
        from fraudops.data import store
        from fraudops.pipelines.scoring import score_dataset

        settings = Settings(home=home)
        results: dict[str, Any] = {}
        started = time.perf_counter()
        local = score_dataset(settings, features, str(work / "polars"), compiled=False)
        results["polars_seconds"] = round(time.perf_counter() - started, 2)
        rows = int(local["rows"])
        results["rows"] = rows
        results["polars_model_seconds"] = local["model_seconds"]
        results["polars_rows_per_s"] = rate(rows, results["polars_seconds"])
        for master, key in (("local[1]", "spark_local1"), ("local[2]", "spark_local2")):
            summary = spark_run(settings, master, features, str(work / key))
            assert summary["rows"] == rows, (summary["rows"], rows)
            assert summary["decisions"] == local["decisions"], summary["decisions"]
            results[f"{key}_session_seconds"] = summary["session_seconds"]
            results[f"{key}_seconds"] = summary["model_seconds"]
            results[f"{key}_rows_per_s"] = rate(rows, summary["model_seconds"])
        written = store.read_manifest(str(work / "spark_local2"))
        assert written["rows"] == rows
        results["days"] = len(written["partitions"])
        results["local2_vs_local1"] = round(
            results["spark_local2_rows_per_s"] / results["spark_local1_rows_per_s"], 2
        )
        results["local2_vs_polars"] = round(
            results["spark_local2_rows_per_s"] / results["polars_rows_per_s"], 2
        )
        results["cores"] = os.cpu_count()
        results["load_average_1m"] = round(os.getloadavg()[0], 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
