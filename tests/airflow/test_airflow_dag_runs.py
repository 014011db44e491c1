"""The three DAGs, run end to end with ``dag.test()`` on one small simulated world.

Session fixtures chain the runs the way production does: the stored history, the data DAG
for the next day, the training DAG on its features; the monitoring DAG then judges a
normal day (no trigger) and a drifted day (it triggers the training DAG).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from airflow_harness import (
    DRIFT_DAY,
    LAST_NORMAL_DAY,
    SIM_START,
    SIMULATION,
    TRAINING_WINDOW_END,
    require_airflow,
    run_dag,
    task_states,
    xcom,
)

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
require_airflow()

TRAINING_DAG = "fraud_training_pipeline"


def _settings() -> Any:
    from fraudops.config import Settings

    return Settings()


def _dataset_hashes() -> dict[str, str | None]:
    from fraudops.data import store

    settings = _settings()
    uris = {
        "raw": settings.dataset_uri("raw"),
        "clean": store.join_uri(settings.dataset_uri("validated"), "clean"),
        "features": settings.dataset_uri("features"),
    }
    return {name: store.read_manifest(uri).get("dataset_hash") for name, uri in uris.items()}


def _training_runs() -> list[Any]:
    from airflow.models.dagrun import DagRun

    return list(DagRun.find(dag_id=TRAINING_DAG))


def test_data_pipeline_simulates_validates_and_builds_features(data_run: Any) -> None:
    from fraudops.data import store

    assert str(data_run.state) == "success", task_states(data_run)
    assert task_states(data_run) == {
        "choose_source": "success",
        "simulate_day": "success",
        "ingest_export": "skipped",  # no fraudops_export_uri: the simulator is the source
        "validate_day": "success",
        "build_features": "success",
        "refresh_online_store": "skipped",  # memory:// lives in the API process
    }
    day = LAST_NORMAL_DAY.isoformat()
    settings = _settings()
    validated = settings.dataset_uri("validated")
    # the interval's day and only it: raw partition, clean partition, its own report
    assert store.list_partitions(settings.dataset_uri("raw"))[-1] == day
    assert store.list_partitions(store.join_uri(validated, "clean"))[-1] == day
    report = store.read_json(store.join_uri(validated, "reports", f"{day}.json"))
    assert report["passed"]
    assert list(report["batches"]) == [day]
    assert xcom(data_run, "simulate_day")["partitions"] == 1
    assert xcom(data_run, "validate_day")["totals"]["rows"] == report["totals"]["rows"]
    features = xcom(data_run, "build_features")
    assert store.list_partitions(settings.dataset_uri("features"))[-1] == day
    assert features["partitions"] == (LAST_NORMAL_DAY - SIM_START).days + 1
    assert features["engine"] == "polars"  # Settings.engine, as the task saw it


def test_data_pipeline_rerun_of_an_interval_gives_the_same_data(data_run: Any, dagbag: Any) -> None:
    from fraudops.data.generate import SimulationConfig, World, generate_day

    before = _dataset_hashes()
    rerun = run_dag(dagbag.get_dag("fraud_data_pipeline"), data_run.logical_date)
    assert str(rerun.state) == "success", task_states(rerun)
    assert rerun.data_interval_start == data_run.data_interval_start
    assert _dataset_hashes() == before
    # the stored day is the simulator's day 44, whichever process made it
    config = SimulationConfig(
        **{**SIMULATION, "start": SIM_START, "drift_kinds": tuple(SIMULATION["drift_kinds"])}
    )
    expected = generate_day(World(config), (LAST_NORMAL_DAY - SIM_START).days)
    assert xcom(rerun, "simulate_day")["rows"] == expected.height


def test_training_pipeline_registers_and_promotes_a_model(training_run: Any) -> None:
    from fraudops.models.registry import CHAMPION, Registry

    assert str(training_run.state) == "success", task_states(training_run)
    assert task_states(training_run)["notify_api"] == "skipped"  # no FRAUDOPS_API_URL
    plan = xcom(training_run, "plan_training")
    assert plan["reason"] == "airflow test"
    assert plan["window_end"] == TRAINING_WINDOW_END.isoformat()
    assert plan["models"] == ["lr"]
    trained = xcom(training_run, "train_and_register")
    assert trained["data_uri"].endswith("/features")  # the data DAG's feature table
    assert trained["engine"] == "polars"
    assert trained["split"]["test_end"] == TRAINING_WINDOW_END.isoformat()
    gate = xcom(training_run, "promotion_gate")
    assert gate["promoted"], gate
    assert gate["reason"] == "no champion yet"
    settings = _settings()
    registry = Registry.from_settings(settings)
    assert registry.version_by_alias(CHAMPION) == trained["registered_version"]
    assert registry.version_tags(trained["registered_version"])["trigger"] == "airflow test"


def test_monitoring_without_drift_does_not_trigger_training(training_run: Any, dagbag: Any) -> None:
    runs_before = {r.run_id for r in _training_runs()}
    as_of = datetime(2026, 2, 15, tzinfo=UTC)  # the window is the normal day 2026-02-14
    run = run_dag(dagbag.get_dag("fraud_monitoring_pipeline"), as_of)
    assert str(run.state) == "success", task_states(run)
    summary = xcom(run, "monitor_window")
    assert summary["as_of"] == as_of.isoformat()
    assert summary["rows"] > 1000
    assert summary["drift_share"] < 0.2, summary
    assert not summary["retrain"], summary["reasons"]
    assert task_states(run)["decide_retrain"] == "success"
    assert task_states(run)["trigger_training"] == "skipped"
    assert {r.run_id for r in _training_runs()} == runs_before


def test_monitoring_with_drift_triggers_training(training_run: Any, dagbag: Any) -> None:
    from fraudops.data.generate import SimulationConfig
    from fraudops.pipelines.data import generate_to_store, validate_dataset

    # the drifted day arrives (new fraud pattern and shifted amounts), stored as usual
    settings = _settings()
    config = SimulationConfig(
        **{**SIMULATION, "start": SIM_START, "drift_kinds": tuple(SIMULATION["drift_kinds"])}
    )
    index = (DRIFT_DAY - SIM_START).days
    generate_to_store(config, settings.dataset_uri("raw"), day_indices=range(index, index + 1))
    validate_dataset(
        settings.dataset_uri("raw"),
        settings.dataset_uri("validated"),
        start=DRIFT_DAY,
        end=DRIFT_DAY,
    )
    as_of = datetime(2026, 2, 16, tzinfo=UTC)  # the window is the drifted day 2026-02-15
    run = run_dag(dagbag.get_dag("fraud_monitoring_pipeline"), as_of)
    assert str(run.state) == "success", task_states(run)
    summary = xcom(run, "monitor_window")
    assert summary["drift_share"] > 0.2, summary
    assert summary["retrain"]
    assert task_states(run)["trigger_training"] == "success"
    triggered = [r for r in _training_runs() if r.run_id == f"retrain__{run.run_id}"]
    assert len(triggered) == 1
    conf = triggered[0].conf
    assert conf["reason"].startswith("drift share")
    assert conf["window_end"] == as_of.isoformat()
    assert conf["monitoring_run_id"] == run.run_id
