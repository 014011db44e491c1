"""A real Airflow 3 for the live tier: API server, scheduler (LocalExecutor) and DAG
processor, each its own process group, on a throw-away PostgreSQL metadata database
started the way the integration tier starts it, with the project's dags/ folder and a
temporary FRAUDOPS_HOME.

Airflow's settings are the compose stack's own (every ``AIRFLOW__*`` of the
``airflow-scheduler`` service in deployment/docker-compose.yml, its hosts and paths mapped
here), so the tier checks the configuration users deploy.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from live_airflow import (
    FRAUDOPS_ENV,
    HISTORY_END,
    SIM_START,
    SIMULATION,
    AirflowApi,
    LiveAirflow,
    processes_marked_by,
    wait_for,
)

from skip_policy import require_executable

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DAG_IDS = ("fraud_data_pipeline", "fraud_training_pipeline", "fraud_monitoring_pipeline")
STACK_TIMEOUT = 180.0  # migrate + the first parse of the DAGs on a busy 2-core machine


def _integration_services() -> ModuleType:
    """tests/integration/conftest.py as a module: one way to start PostgreSQL, one way to
    run and stop a service's process group."""
    path = REPO / "tests" / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("fraudops_integration_services", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


services = _integration_services()
postgres_server = services.postgres_server  # the fixture, under this tier's scope


def airflow_environment(
    postgres: Any, airflow_home: Path, fraudops_home: Path, api_port: int
) -> dict[str, str]:
    """The compose scheduler's ``AIRFLOW__*`` with this machine's hosts and folders."""
    from cryptography.fernet import Fernet

    variables = {
        **services.COMPOSE_VARIABLES,
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(24),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
        # DAGs start paused; the test unpauses each (compose's default is unpaused)
        "AIRFLOW_DAGS_PAUSED_AT_CREATION": "True",
    }
    hosts = {
        "@postgres:5432": f"@{postgres.address}",
        "airflow-apiserver:8080": f"127.0.0.1:{api_port}",
        "/opt/airflow": str(airflow_home),
    }
    compose = services.compose_environment("airflow-scheduler", variables, hosts)
    env = {
        k: v
        for k, v in services.base_environment().items()
        if not k.startswith(("AIRFLOW", "PYTEST"))  # Airflow changes its logging under pytest
    }
    env.update({k: v for k, v in compose.items() if k.startswith("AIRFLOW__")})
    env.update(FRAUDOPS_ENV)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            # only the runs the test asks for: no scheduled run of "yesterday" on unpause
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "FRAUDOPS_HOME": str(fraudops_home),
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        }
    )
    return env


def store_history(fraudops_home: Path) -> None:
    """Days 0-42 simulated and validated by the pipeline functions the DAG tasks call."""
    from fraudops.config import Settings
    from fraudops.data.generate import SimulationConfig
    from fraudops.pipelines.data import generate_to_store, validate_dataset

    settings = Settings(home=fraudops_home)
    config = SimulationConfig(
        **{**SIMULATION, "start": SIM_START, "drift_kinds": tuple(SIMULATION["drift_kinds"])}
    )
    raw, validated = settings.dataset_uri("raw"), settings.dataset_uri("validated")
    generate_to_store(config, raw, day_indices=range((HISTORY_END - SIM_START).days))
    validate_dataset(raw, validated, settings.max_bad_fraction)


@pytest.fixture(scope="module")
def live_airflow(postgres_server: Any) -> Iterator[LiveAirflow]:
    """Airflow up, DAGs parsed and unpaused, Variables set, a logged-in API client; on
    exit every process group is stopped and no process of the stack may remain."""
    airflow = require_executable("airflow", "the [airflow] extra: make install")
    root = Path(tempfile.mkdtemp(prefix="fraudops-airflow-live-"))
    airflow_home, fraudops_home = root / "airflow", root / "fraudops"
    (airflow_home / "auth").mkdir(parents=True)
    port = services.free_port()
    env = airflow_environment(postgres_server, airflow_home, fraudops_home, port)
    password = secrets.token_urlsafe(16)
    passwords = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    passwords.write_text(json.dumps({"admin": password}))
    # the metadata schema and the stored history at once (one is PostgreSQL's work)
    migrate = subprocess.Popen(
        [airflow, "db", "migrate"],
        env=env,
        cwd=airflow_home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        store_history(fraudops_home)
        _, errors = migrate.communicate(timeout=STACK_TIMEOUT)
    finally:
        services.stop_process(migrate)
    if migrate.returncode != 0:
        pytest.fail(f"airflow db migrate exited {migrate.returncode}:\n{errors[-3000:]}")
    base_url = f"http://127.0.0.1:{port}"
    # started together; only the API server is waited for (the others need no port)
    commands = {
        "dag-processor": [airflow, "dag-processor"],
        # LocalExecutor: tasks run under the scheduler; the API server reads their logs
        # from the shared log folder, so no log server listens on every interface
        "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port),
                       "--workers", "1"],
    }  # fmt: skip
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        with ExitStack() as stack:
            ready = {"api-server": lambda: services.http_ok(f"{base_url}/api/v2/monitor/health")}
            for name, command in commands.items():
                processes[name] = stack.enter_context(
                    services.running_service(
                        name,
                        command,
                        airflow_home,
                        ready.get(name, lambda: True),
                        timeout=STACK_TIMEOUT,
                        env=env,
                        stop_timeout=10,
                    )
                )
            api = AirflowApi.login(base_url, "admin", password)
            for dag_id in DAG_IDS:
                parsed = partial(api.parsed, dag_id)
                wait_for(
                    parsed,
                    STACK_TIMEOUT,
                    f"the DAG processor to parse {dag_id} "
                    f"(log: {airflow_home / 'dag-processor.log'})",
                )
                api.unpause(dag_id)
            # read by every task through Variable.get: the tiny model's live average
            # precision is under the default floor; with it off, drift alone decides
            api.set_variable("fraudops_live_ap_floor", "0")
            yield LiveAirflow(api, airflow_home, fraudops_home, env, processes)
        # every group stopped (running_service): nothing of the stack may be left
        left = processes_marked_by(str(root))
        assert not left, f"processes outlived the stack: {left}"
    finally:
        for process in processes.values():
            services.stop_process(process, 10)
        if os.environ.get("FRAUDOPS_KEEP_LIVE_AIRFLOW") != "1":  # keep it to read the logs
            shutil.rmtree(root, ignore_errors=True)
