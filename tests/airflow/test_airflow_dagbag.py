"""The DAG folder imports cleanly and each DAG carries its production habits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import DAG_IDS, REPO, require_airflow

pytestmark = pytest.mark.airflow
require_airflow()

SCHEDULES = {
    "fraud_data_pipeline": "0 0 * * *",  # daily, for the day that just ended
    "fraud_training_pipeline": "0 6 * * 1",  # weekly, Monday after Sunday's data run
    "fraud_monitoring_pipeline": "0 * * * *",  # hourly
}
TASKS = {
    "fraud_data_pipeline": {
        "choose_source",
        "simulate_day",
        "ingest_export",
        "validate_day",
        "build_features",
        "refresh_online_store",
    },
    "fraud_training_pipeline": {
        "plan_training",
        "train_and_register",
        "promotion_gate",
        "notify_api",
    },
    "fraud_monitoring_pipeline": {"monitor_window", "decide_retrain", "trigger_training"},
}


def test_dag_folder_loads_from_the_repo_root(
    airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.chdir(REPO)
    bag = DagBag(dag_folder="dags")
    assert bag.import_errors == {}
    assert set(DAG_IDS) <= set(bag.dag_ids)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_schedule_retries_tags_and_docs(dagbag: Any, dag_id: str) -> None:
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.get_dag(dag_id)
    # data intervals, not trigger times: every task reads data_interval_start/end
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == SCHEDULES[dag_id]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout is not None
    assert {"fraudops", dag_id.split("_")[1]} <= set(dag.tags)
    assert dag.doc_md
    assert dag_id in dag.doc_md
    assert {t.task_id for t in dag.tasks} == TASKS[dag_id]
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_exponential_backoff >= 2, task.task_id
        assert task.max_retry_delay is not None, task.task_id
        assert task.execution_timeout is not None, task.task_id
        assert task.execution_timeout <= timedelta(hours=4), task.task_id


def test_monitoring_triggers_the_training_dag(dagbag: Any) -> None:
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    trigger = dagbag.get_dag("fraud_monitoring_pipeline").get_task("trigger_training")
    assert isinstance(trigger, TriggerDagRunOperator)
    assert trigger.trigger_dag_id == "fraud_training_pipeline"
    assert trigger.skip_when_already_exists
    assert trigger.upstream_task_ids == {"decide_retrain"}


def test_dag_files_hold_no_secrets_and_no_clock() -> None:
    for path in (REPO / "dags").glob("*.py"):
        source = path.read_text()
        for word in ("now()", "utcnow", "today()", "dev-admin-key", "dev-api-key"):
            assert word not in source, f"{path.name} uses {word}"
