"""``fraud_monitoring_pipeline``: drift, score PSI and matured-label performance (hourly);
triggers ``fraud_training_pipeline`` when the verdict asks for it.

A thin wrapper over ``fraudops.pipelines.monitoring.run_monitoring``, the function
``fraudops monitor`` and ``fraudops demo`` call.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

# DagBag(dag_folder=...) outside a DAG bundle does not put this folder on sys.path
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from _fraudops_common import (  # noqa: E402
    DEFAULT_ARGS,
    START_DATE,
    latest_stored_day,
    option,
    permanent_errors_fail,
    previous_triggers,
    record_trigger,
    skip,
    task_settings,
    to_json,
)
from _fraudops_window import HOUR, run_facts, window_end  # noqa: E402

TRAINING_DAG_ID = "fraud_training_pipeline"

DOC = """
### fraud_monitoring_pipeline (hourly)

```
monitor_window ─► decide_retrain ─► trigger_training (TriggerDagRunOperator)
```

- **monitor_window** judges the window ending at `conf.window_end` (or after `conf.day`),
  else at a scheduled run's interval end, else at a manual run's logical date, else at the
  trigger hour or the end of the latest complete stored day, whichever is earlier; the
  task log says which (default the last 24 h, `fraudops_monitoring_window_hours`):
  feature drift share against the champion's training sample, score PSI, decision rates
  and performance on labels that have matured (`label_maturity_days`). It reads the API's
  prediction log, or, when the window has none, scores the stored transactions through the
  offline features (`fraudops_monitoring_source`). The record is stored under
  `monitoring/records/` and logged to MLflow. Skipped while no champion exists, and
  when the window holds no transaction (the message names the window).
- **decide_retrain** goes on when the verdict asks to retrain: drift share above
  `drift_share_threshold` (0.2 by default), score PSI above `psi_threshold`, live average
  precision below `live_ap_floor` on at least five known frauds (Variables `fraudops_<name>`
  or `FRAUDOPS_<NAME>`; the rule is `fraudops.monitoring.retrain.RetrainPolicy`), and
  no earlier window triggered in the last `fraudops_retrain_cooldown_hours` (24 h);
  otherwise the run ends here, with the trigger skipped.
- **trigger_training** starts `fraud_training_pipeline` with `conf = {reason, window_end,
  monitoring_run_id}` and the run id `retrain__<this run id>`, so a re-run of this
  window never starts a second training.
- **Catchup** off, `max_active_runs=1`. Idempotent: the window comes from the interval,
  the record's name is the window end.
"""


@dag(
    dag_id="fraud_monitoring_pipeline",
    description="Hourly: drift, PSI and matured-label performance; trigger retraining.",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=50),
    default_args={**DEFAULT_ARGS, "execution_timeout": timedelta(minutes=20)},
    tags=["fraudops", "monitoring"],
    doc_md=DOC,
    params={
        "window_end": Param(
            None,
            type=["null", "string"],
            description="End of the monitored window (ISO 8601, UTC); default: the interval.",
        ),
    },
)
def fraud_monitoring_pipeline() -> None:
    @task
    def monitor_window(**context: Any) -> dict[str, Any]:
        """Drift, PSI, decision rates and matured performance of the window."""
        from fraudops.models.registry import RegistryError
        from fraudops.monitoring.records import record_uri
        from fraudops.pipelines.monitoring import run_monitoring

        settings = task_settings()
        with permanent_errors_fail():
            as_of, why = window_end(run_facts(context), HOUR, lambda: latest_stored_day(settings))
            hours = float(option("monitoring_window_hours") or 24)
        window = f"[{as_of - timedelta(hours=hours):%Y-%m-%dT%H:%M}Z, {as_of:%Y-%m-%dT%H:%M}Z)"
        logging.getLogger("airflow.task").info("monitoring window %s: %s", window, why)
        with permanent_errors_fail():
            try:
                record = run_monitoring(
                    settings,
                    as_of,
                    timedelta(hours=hours),
                    report=option("monitoring_report") or "auto",
                    source=option("monitoring_source") or "auto",
                )
            except RegistryError as error:  # nothing to monitor before the first training
                skip(f"{window}: {error}")
        if record.rows == 0:
            skip(f"no transaction in the window {window}: nothing to judge")
        return to_json(
            {
                "as_of": as_of.isoformat(),
                "window_hours": hours,
                "rows": record.rows,
                "model_version": record.model_version,
                "drift_share": record.drift_share,
                "drifted_features": record.drifted_features[:10],
                "score_psi": record.score_psi,
                "live_average_precision": record.live_average_precision,
                "retrain": record.verdict.retrain,
                "reasons": record.verdict.reasons,
                "record": record_uri(settings, as_of),
                "report_html": record.report_html,
            }
        )

    @task.short_circuit
    def decide_retrain(summary: dict[str, Any], **context: Any) -> dict[str, Any] | None:
        """The training DAG's conf when the verdict asks to retrain; None ends the run."""
        from datetime import datetime

        from fraudops.monitoring.retrain import RetrainPolicy

        if not summary.get("retrain"):
            return None
        settings = task_settings()
        as_of = datetime.fromisoformat(summary["as_of"])
        cooldown = timedelta(hours=float(option("retrain_cooldown_hours") or 0))
        policy = RetrainPolicy.from_settings(settings, cooldown)
        decision = policy.decide(summary["reasons"], as_of, previous_triggers(settings))
        if not decision.retrain:
            return None
        conf = {
            "reason": decision.reason,
            "window_end": summary["as_of"],
            "monitoring_run_id": context["run_id"],
        }
        record_trigger(settings, as_of, conf)
        return conf

    decision = decide_retrain(monitor_window())
    TriggerDagRunOperator(
        task_id="trigger_training",
        trigger_dag_id=TRAINING_DAG_ID,
        trigger_run_id="retrain__{{ run_id }}",
        conf=decision,
        logical_date=None,  # the window travels in conf, the run needs no logical date
        skip_when_already_exists=True,
        wait_for_completion=False,
    )


fraud_monitoring_pipeline()
