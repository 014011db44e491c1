"""``fraud_training_pipeline``: train, register a challenger, gate it, tell the API (weekly
and on trigger).

A thin wrapper over ``fraudops.pipelines.training``: the same ``run_training`` and
``promote_version`` that ``fraudops train``/``fraudops promote`` and ``fraudops demo`` call.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

# DagBag(dag_folder=...) outside a DAG bundle does not put this folder on sys.path
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from _fraudops_common import (  # noqa: E402
    DEFAULT_ARGS,
    START_DATE,
    latest_stored_day,
    permanent_errors_fail,
    skip,
    task_settings,
    to_json,
    training_plan,
)
from _fraudops_window import DAY, run_facts, window_end  # noqa: E402

DOC = """
### fraud_training_pipeline (weekly, and on trigger)

```
plan_training ─► train_and_register ─► promotion_gate ─► notify_api
```

- **plan_training** fixes the window end and logs why: `conf.window_end` (the monitoring
  DAG passes the end of the window that drifted) or `conf.day` (the window ends after that
  day), else midnight UTC of a scheduled run's interval end (complete days only), else a
  manual run's logical date, else the trigger time, or the end of the latest complete
  stored day when the stored data ends earlier. `conf.reason`, `models`, `train_start` or
  `history_days`, `trials`, `delay_days`, `test_days` override the Variables
  `fraudops_training_*`. No stored data in the test or training window is a skip naming
  the window (nothing to train on), not a failure.
- **train_and_register** trains every candidate with a time split and a label-delay gap
  ending at the window end, logs them to MLflow and registers the best as `challenger`.
  Only a small JSON summary crosses to the next task, never a model.
- **promotion_gate** moves `champion` to the challenger only if it beats the champion on
  the challenger's test window (`fraudops promote`).
- **notify_api** asks the API to reload (`POST {FRAUDOPS_API_URL}/admin/reload` with the
  admin key from the worker's environment); skipped without a promotion or an API URL
  (the API also polls the registry).
- **Schedule**: Mondays 06:00 UTC, after the daily data run of Sunday. **Catchup** off.
  `max_active_runs=1`: a trigger while a training runs waits in the queue.
- **Idempotent**: the window comes from conf or the interval, never from the clock; a
  re-run trains on the same data (it registers a new version: the registry keeps history).
"""


@dag(
    dag_id="fraud_training_pipeline",
    description="Weekly and on trigger: train candidates, register a challenger, gate, reload.",
    schedule=CronDataIntervalTimetable("0 6 * * 1", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args={**DEFAULT_ARGS, "retries": 1},
    tags=["fraudops", "training"],
    doc_md=DOC,
    params={
        "reason": Param(
            None, type=["null", "string"], description="Why this training runs (logged, tagged)."
        ),
        "window_end": Param(
            None,
            type=["null", "string"],
            description="End of the training window (ISO 8601, UTC); default: the interval.",
        ),
        "models": Param(
            None,
            type=["null", "string", "array"],
            description="Algorithms (lr, rf, xgb, lgbm); default: fraudops_training_models.",
        ),
    },
)
def fraud_training_pipeline() -> None:
    @task
    def plan_training(**context: Any) -> dict[str, Any]:
        """Resolve the window and options of this run; skip when no data covers it."""
        from datetime import date, datetime, timedelta

        from fraudops.data import store

        settings = task_settings()
        facts = run_facts(context)
        with permanent_errors_fail():
            end, why = window_end(facts, DAY, lambda: latest_stored_day(settings))
            plan = training_plan(facts.conf, end, run_type=facts.run_type)
        log = logging.getLogger("airflow.task")
        log.info("training window ends %s: %s", plan["window_end"], why)
        days = store.list_partitions(
            store.join_uri(settings.dataset_uri("validated"), "clean"), settings.storage_options()
        )
        test_start = end - timedelta(days=plan["test_days"])
        train_start = datetime.fromisoformat(plan["train_start"]) if plan["train_start"] else None

        def stored(first: datetime | None, last: datetime) -> list[str]:
            low = first.date() if first else date.min
            return [d for d in days if low <= date.fromisoformat(d) < last.date()]

        if not stored(test_start, end) or not stored(train_start, test_start):
            span = f"[{train_start or 'the first day'}, {test_start}) and [{test_start}, {end})"
            held = f"{days[0]}..{days[-1]}" if days else "no day yet"
            skip(
                f"nothing to train on: the training and test windows {span} need stored days, "
                f"the store holds {held}; pass conf window_end to train on another window"
            )
        return plan

    @task(execution_timeout=timedelta(hours=4))
    def train_and_register(plan: dict[str, Any]) -> dict[str, Any]:
        """Train the candidates, log them to MLflow, register the best as challenger."""
        from datetime import datetime

        from fraudops.data import store
        from fraudops.pipelines.training import TrainingOptions, run_training

        settings = task_settings()
        features = settings.dataset_uri("features")
        has_table = store.exists(
            store.join_uri(features, "feature_list.json"), settings.storage_options()
        )
        # the feature table of the data DAG; else features computed from validated data,
        # in this worker: with engine=spark the history is too big for that by choice
        if not has_table and settings.engine == "spark":
            with permanent_errors_fail():
                raise ValueError(
                    f"engine=spark and no feature table at {features}: run the data DAG "
                    "(its build_features runs on Spark) before training"
                )
        data_uri = features if has_table else settings.dataset_uri("validated")
        window_end = datetime.fromisoformat(plan["window_end"])
        options = TrainingOptions(
            models=tuple(plan["models"]),
            trials=plan["trials"],
            train_start=datetime.fromisoformat(plan["train_start"])
            if plan["train_start"]
            else None,
            delay_days=plan["delay_days"],
            test_end=window_end,
            test_days=plan["test_days"],
            reason=plan["reason"],
            label_cutoff=window_end,
            promote=False,  # the gate is the next task
        )
        with permanent_errors_fail():
            summary = run_training(settings, data_uri, options)
        keep = ("registered_version", "best", "models", "split", "dataset_hash", "run_id")
        return to_json(
            {"data_uri": data_uri, "engine": settings.engine, **{k: summary.get(k) for k in keep}}
        )

    @task
    def promotion_gate(trained: dict[str, Any]) -> dict[str, Any]:
        """Promote the challenger to champion only if it beats the champion."""
        from fraudops.pipelines.training import promote_version

        version = trained.get("registered_version")
        if version is None:
            skip("nothing was registered")
        with permanent_errors_fail():
            decision = promote_version(task_settings(), int(version))
        return to_json(decision.as_dict())

    @task(retries=3, execution_timeout=timedelta(minutes=5))
    def notify_api(decision: dict[str, Any]) -> dict[str, Any]:
        """Ask the API to load the new champion now (it also polls the registry)."""
        import httpx

        settings = task_settings()
        if not decision.get("promoted"):
            skip(f"no new champion: {decision.get('reason')}")
        if not settings.api_url:
            skip("FRAUDOPS_API_URL is not set; the API polls instead")
        response = httpx.post(
            f"{settings.api_url.rstrip('/')}/admin/reload",
            headers={"X-API-Key": settings.admin_api_key.get_secret_value()},
            timeout=30,
        )
        response.raise_for_status()
        return to_json(response.json())

    notify_api(promotion_gate(train_and_register(plan_training())))


fraud_training_pipeline()
