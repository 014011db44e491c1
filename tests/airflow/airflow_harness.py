"""Harness of the Airflow tier: the three DAGs run for real with ``dag.test()``, in
process, against a private ``AIRFLOW_HOME`` (SQLite metadata DB, no scheduler, no API
server) and a private ``FRAUDOPS_HOME`` (embedded data store and MLflow registry), on
small simulated data.

Airflow reads ``AIRFLOW_HOME`` and its database URL when first imported, so importing this
module sets them; conftest.py imports it before anything imports airflow.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import secrets
import shutil
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from skip_policy import require

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DAG_IDS = ("fraud_data_pipeline", "fraud_training_pipeline", "fraud_monitoring_pipeline")

_ROOT = Path(tempfile.mkdtemp(prefix="fraudops-airflow-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
AIRFLOW_HOME = _ROOT / "airflow"
FRAUDOPS_HOME = _ROOT / "fraudops"
AIRFLOW_HOME.mkdir()
SQL_ALCHEMY_CONN = f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}"
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": SQL_ALCHEMY_CONN,
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        # the execution API's lifespan refuses to start without one (no airflow.cfg here)
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
    }
)

# The small world every DAG run of the session works on: day 44 (2026-02-14) is the last
# normal day, the world drifts from day 45 (2026-02-15). 30+ days of history before the
# training window, so 30-day feature windows are full and only real drift shows as drift.
SIMULATION: dict[str, Any] = {
    "customers": 1500,
    "start": "2026-01-01",
    "seed": 11,
    "fraud_rate": 0.01,
    "drift_day": 45,
    "drift_kinds": ["new_pattern", "amount_shift"],
}
SIM_START = date(2026, 1, 1)
LAST_NORMAL_DAY = date(2026, 2, 14)  # day index 44: the data DAG's test interval
DRIFT_DAY = date(2026, 2, 15)  # day index 45
TRAINING_WINDOW_END = datetime(2026, 2, 15, tzinfo=UTC)

# DAG options and settings for the session, as a worker's environment would carry them
FRAUDOPS_ENV = {
    "FRAUDOPS_HOME": str(FRAUDOPS_HOME),
    "FRAUDOPS_ENV": "test",
    "FRAUDOPS_SIMULATION": json.dumps(SIMULATION),
    "FRAUDOPS_TRAINING_MODELS": "lr",
    "FRAUDOPS_TRAINING_HISTORY_DAYS": "14",
    "FRAUDOPS_TRAINING_DELAY_DAYS": "3",
    "FRAUDOPS_TRAINING_TEST_DAYS": "4",
    "FRAUDOPS_MONITORING_WINDOW_HOURS": "24",
    # the Evidently HTML report (tested with the monitoring pipeline) costs ~30 s here
    "FRAUDOPS_MONITORING_REPORT": "never",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
# Settings read from Airflow Variables. The tiny test model's live average precision
# (about 0.05) is under the default floor of 0.3, which would ask to retrain on every
# window; with the floor off, drift alone decides (and the no-drift test fails if this
# Variable does not reach the tasks).
AIRFLOW_VARIABLES = {"fraudops_live_ap_floor": "0"}


def require_airflow() -> None:
    """Called at the top of each test module: the tier needs the ``[airflow]`` extra."""
    require(
        importlib.util.find_spec("airflow") is not None,
        "Airflow is not installed (the [airflow] extra; make install brings it)",
    )


def run_dag(dag: Any, logical_date: datetime, conf: dict[str, Any] | None = None) -> Any:
    """``dag.test()``: the whole DAG, in process, task after task.

    Retries are off during the run: a failing task fails the test at once instead of
    waiting out its retry delays. (Not on a deep copy: copying breaks the NOTSET sentinel
    TriggerDagRunOperator compares by identity.)
    """
    retries = {task.task_id: task.retries for task in dag.tasks}
    try:
        for task in dag.tasks:
            task.retries = 0
        return dag.test(logical_date=logical_date, run_conf=conf)
    finally:
        for task in dag.tasks:
            task.retries = retries[task.task_id]


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def xcom(dag_run: Any, task_id: str) -> Any:
    """The return value a task of ``dag_run`` pushed."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id,
                dag_ids=dag_run.dag_id,
                task_ids=task_id,
                key="return_value",
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)
