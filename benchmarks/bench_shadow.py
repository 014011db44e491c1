"""Request-path cost of shadow scoring: ``ScoringService.score`` with and without a challenger.

    .venv/bin/python benchmarks/bench_shadow.py [--customers 2000] [--transactions 8000]

Simulates 35 days, trains two LightGBM models on the first 30 (the champion, and a
challenger with other hyper-parameters), warms the in-memory online store with them, then
scores the next days' transactions one at a time (the API's per-request path) in
alternating blocks: without shadow scoring, and with the challenger scored by the shadow
worker. Per request it records the ``score`` time and, in the shadow blocks, the time of the
``submit`` call alone (what the request thread pays: one non-blocking queue put). The worker
runs meanwhile in the same process, at the lowest CPU priority, as in the API. Last line:
JSON with p50/p99 of both, the submit cost, rows the worker scored and dropped.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fraudops.config import Settings
from fraudops.data.generate import SimulationConfig, generate
from fraudops.data.logs import AppendLog
from fraudops.features.offline import build_offline_features
from fraudops.features.online import OnlineFeatureEngine, open_online_store
from fraudops.features.spec import feature_names
from fraudops.models.train import train_calibrated
from fraudops.monitoring.shadow import SHADOW_SCHEMA
from fraudops.schema import TRANSACTION_COLUMNS
from fraudops.serving.metrics import ServiceMetrics
from fraudops.serving.model_loader import ModelHolder
from fraudops.serving.service import ScoringService
from fraudops.serving.shadow import ShadowScorer

START = date(2026, 1, 1)
HISTORY_DAYS = 30
BLOCK = 500


class TimedShadow(ShadowScorer):
    """The shadow scorer with the request thread's share timed (``submit`` only)."""

    submit_seconds: list[float]

    def submit(self, *args: Any, **kwargs: Any) -> bool:
        started = time.perf_counter()
        queued = super().submit(*args, **kwargs)
        self.submit_seconds.append(time.perf_counter() - started)
        return queued


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--transactions", type=int, default=8000)
    args = parser.parse_args()

    config = SimulationConfig(
        customers=args.customers, days=HISTORY_DAYS + 5, start=START, seed=11, fraud_rate=0.01
    )
    data = generate(config).sort("timestamp", "transaction_id")
    live_start = datetime.combine(START, datetime.min.time(), UTC) + timedelta(days=HISTORY_DAYS)
    history = data.filter(pl.col("timestamp") < live_start)
    live = data.filter(pl.col("timestamp") >= live_start).head(args.transactions)
    features = build_offline_features(history)
    names = feature_names()
    champion, _ = train_calibrated("lgbm", features, names, live_start, maturity_days=3)
    challenger, _ = train_calibrated(
        "lgbm", features, names, live_start, {"num_leaves": 63, "n_estimators": 300}, seed=1
    )
    for model in (champion, challenger):
        model.metadata["thresholds"] = {"review": 0.05, "decline": 0.5}

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(home=Path(folder), _env_file=None)  # type: ignore[call-arg]
        metrics = ServiceMetrics()
        holder = ModelHolder(settings, metrics)
        holder.install(champion, version=1)
        engine = OnlineFeatureEngine(open_online_store("memory://"))
        engine.backfill(history)
        prediction_log = AppendLog(str(Path(folder) / "predictions"))
        shadow_log = AppendLog(str(Path(folder) / "shadow"), schema=SHADOW_SCHEMA)
        for log in (prediction_log, shadow_log):
            log.start()
        shadow = TimedShadow(settings, shadow_log, metrics)
        shadow.submit_seconds = []
        shadow.holder.install(challenger, version=2)
        shadow.start(poll=False)
        plain = ScoringService(holder, engine, prediction_log, metrics=metrics)
        shadowed = ScoringService(holder, engine, prediction_log, metrics=metrics, shadow=shadow)

        rows = live.select(TRANSACTION_COLUMNS).to_dicts()
        timings: dict[str, list[float]] = {"without": [], "with": []}
        for index, tx in enumerate(rows):
            with_shadow = (index // BLOCK) % 2 == 1
            service = shadowed if with_shadow else plain
            started = time.perf_counter()
            service.score([tx])
            timings["with" if with_shadow else "without"].append(time.perf_counter() - started)
        shadow.stop()
        prediction_log.close()

    def ms(values: list[float], q: float) -> float:
        return round(float(np.quantile(values, q)) * 1000, 4)

    submit = shadow.submit_seconds
    result = {
        "transactions": len(rows),
        "score_p50_ms_without": ms(timings["without"], 0.5),
        "score_p50_ms_with": ms(timings["with"], 0.5),
        "score_p99_ms_without": ms(timings["without"], 0.99),
        "score_p99_ms_with": ms(timings["with"], 0.99),
        "submit_mean_us": round(float(np.mean(submit)) * 1e6, 2),
        "submit_p50_us": round(float(np.quantile(submit, 0.5)) * 1e6, 2),
        "submit_p99_us": round(float(np.quantile(submit, 0.99)) * 1e6, 2),
        "shadow_scored": metrics.registry.get_sample_value("fraudops_shadow_scored_total"),
        "shadow_dropped": metrics.registry.get_sample_value(
            "fraudops_shadow_dropped_total", {"reason": "queue_full"}
        )
        or 0.0,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
