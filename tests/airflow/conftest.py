"""Fixtures of the Airflow tier (airflow_harness sets the Airflow environment)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# imported first: it sets AIRFLOW_HOME & co. before anything imports airflow
from airflow_harness import (
    AIRFLOW_HOME,
    AIRFLOW_VARIABLES,
    DAGS,
    FRAUDOPS_ENV,
    FRAUDOPS_HOME,
    LAST_NORMAL_DAY,
    SIM_START,
    SIMULATION,
    SQL_ALCHEMY_CONN,
    TRAINING_WINDOW_END,
    run_dag,
)


@contextmanager
def fraudops_environment() -> Iterator[Path]:
    """The FRAUDOPS_* environment of a worker of this tier; other tiers never see it."""
    from fraudops.config import get_settings

    with pytest.MonkeyPatch.context() as patch:
        for name in ("FRAUDOPS_DATA_URI", "FRAUDOPS_MLFLOW_TRACKING_URI", "FRAUDOPS_API_URL"):
            patch.delenv(name, raising=False)
        patch.setenv("FRAUDOPS_ONLINE_STORE_URI", "memory://")
        for name, value in FRAUDOPS_ENV.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield FRAUDOPS_HOME
        finally:
            get_settings.cache_clear()


@pytest.fixture(autouse=True)
def isolated_home() -> Iterator[Path]:
    """Overrides the suite-wide fixture: the DAG runs of a session share one home."""
    with fraudops_environment() as home:
        yield home


def _cache_in_process_api() -> None:
    """Build Airflow's in-process execution API once for the session.

    ``dag.test()`` builds one per task (several seconds each) and drops it at once; with
    svcs >= 26 the dropped instance's lifespan exit also detaches the service registry
    its requests still use.
    """
    from airflow.sdk.execution_time import supervisor

    api = supervisor.in_process_api_server()
    try:
        api.transport  # noqa: B018 - builds the app and starts its lifespan
    except Exception as error:
        pytest.fail(
            f"Airflow's execution API does not build here ({type(error).__name__}: {error}). "
            "Airflow 3.2.2 needs fastapi<0.156.1 (later releases reject its callable "
            "discriminator); see docs/GUIDE.md, Orchestration."
        )
    supervisor.in_process_api_server = lambda: api  # type: ignore[assignment]


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A fresh SQLite metadata DB, the session's Variables and a cached execution API."""
    from airflow import settings

    if settings.SQL_ALCHEMY_CONN != SQL_ALCHEMY_CONN:
        pytest.fail(
            f"airflow was imported before tests/airflow/conftest.py configured it "
            f"(database {settings.SQL_ALCHEMY_CONN}); run this tier in its own process"
        )
    from airflow.models.variable import Variable
    from airflow.utils.db import initdb

    initdb()
    for key, value in AIRFLOW_VARIABLES.items():
        Variable.set(key, value)
    _cache_in_process_api()
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture(scope="session")
def history() -> dict[str, str]:
    """Days 0-43 simulated and validated by the pipeline functions the DAG tasks call."""
    from fraudops.config import Settings
    from fraudops.data.generate import SimulationConfig
    from fraudops.pipelines.data import generate_to_store, validate_dataset

    with fraudops_environment():
        settings = Settings()
        config = SimulationConfig(
            **{**SIMULATION, "start": SIM_START, "drift_kinds": tuple(SIMULATION["drift_kinds"])}
        )
        raw, validated = settings.dataset_uri("raw"), settings.dataset_uri("validated")
        generate_to_store(config, raw, day_indices=range((LAST_NORMAL_DAY - SIM_START).days))
        validate_dataset(raw, validated, settings.max_bad_fraction)
    return {"raw": raw, "validated": validated}


@pytest.fixture(scope="session")
def data_run(dagbag: Any, history: dict[str, str]) -> Any:
    """fraud_data_pipeline for 2026-02-14 (the day after the stored history)."""
    with fraudops_environment():
        return run_dag(
            dagbag.get_dag("fraud_data_pipeline"),
            datetime(2026, 2, 15, tzinfo=UTC),  # the daily interval [02-14, 02-15)
        )


@pytest.fixture(scope="session")
def training_run(dagbag: Any, data_run: Any) -> Any:
    """fraud_training_pipeline on the features the data DAG built, window ending 02-15."""
    with fraudops_environment():
        return run_dag(
            dagbag.get_dag("fraud_training_pipeline"),
            datetime(2026, 2, 16, 6, tzinfo=UTC),
            conf={"reason": "airflow test", "window_end": TRAINING_WINDOW_END.isoformat()},
        )
