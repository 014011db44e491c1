#!/usr/bin/env python3
"""The compose stack end to end (``make stack-e2e``; CI's stack job runs the same steps).

    python3 deployment/stack_e2e.py --env-file deployment/.env \\
        --compose "docker compose -f deployment/docker-compose.yml --env-file deployment/.env"

On a stack that is up and healthy (``make stack-up``), through the services' own APIs:

1. Airflow (REST API, admin token): a small simulated world (Variable
   ``fraudops_simulation``), then ``fraud_data_pipeline`` once per day, in order, then
   ``fraud_training_pipeline`` over those days; each run must end ``success``.
2. MLflow: the registered model has a ``champion`` alias (the training DAG's gate
   promoted it).
3. The API container: ``fraudops smoke`` inside it (liveness, readiness once the champion
   is loaded, one scored transaction, the model version).
4. Prometheus: it scraped the API's prediction counter after that transaction.
5. Grafana: it serves the provisioned overview dashboard.

Standard library only (ports and passwords come from deployment/.env, as for
stack_check.py). The request builders and response checks are pure functions, tested in
tests/deployment/test_stack_e2e.py; exit status 0 only when every step passed.
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import stack_check

HERE = Path(__file__).resolve().parent
DATA_DAG = "fraud_data_pipeline"
TRAINING_DAG = "fraud_training_pipeline"
DASHBOARD = HERE / "grafana" / "dashboards" / "fraudops-overview.json"
FINISHED = {"success", "failed"}


class StepFailedError(Exception):
    """A step of the run did not do what it must; the message says what and why."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict[str, Any] | None = None


# ---- Pure pieces: requests and the judgement of answers -------------------------------


def simulation(first_day: date, days: int, customers: int) -> dict[str, Any]:
    """The Variable the data DAG simulates from: a small world starting on ``first_day``."""
    return {"start": first_day.isoformat(), "days": days, "customers": customers}


def data_days(first_day: date, days: int) -> list[date]:
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    return [first_day + timedelta(days=index) for index in range(days)]


def training_window_end(days: list[date]) -> datetime:
    """Midnight UTC after the last simulated day: the window covers every day."""
    return datetime.combine(days[-1] + timedelta(days=1), clock(), tzinfo=UTC)


def token_request(username: str, password: str) -> Request:
    return Request("POST", "/auth/token", {"username": username, "password": password})


def variable_request(key: str, value: Any, exists: bool) -> Request:
    body = {"key": key, "value": json.dumps(value)}
    if exists:
        return Request("PATCH", f"/api/v2/variables/{urllib.parse.quote(key)}", body)
    return Request("POST", "/api/v2/variables", body)


def unpause_request(dag_id: str) -> Request:
    return Request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})


def trigger_request(dag_id: str, conf: dict[str, Any]) -> Request:
    # Airflow 3: a manual run without a logical date; the DAGs read their day from conf.
    return Request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})


def run_request(dag_id: str, run_id: str) -> Request:
    return Request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")


def access_token(status: int, body: Any) -> str:
    if status not in (200, 201) or not isinstance(body, dict) or not body.get("access_token"):
        raise StepFailedError(
            f"Airflow refused the admin login (HTTP {status}): check AIRFLOW_ADMIN_*"
        )
    return str(body["access_token"])


def run_state(body: Any) -> str | None:
    """``success`` or ``failed`` once the run finished, None while it is queued or running."""
    state = body.get("state") if isinstance(body, dict) else None
    return state if state in FINISHED else None


def champion_version(status: int, body: Any, model: str) -> str:
    version = (body.get("model_version") or {}).get("version") if isinstance(body, dict) else None
    if status != 200 or not version:
        raise StepFailedError(f"MLflow has no champion of {model!r} (HTTP {status})")
    return str(version)


def predictions_counted(status: int, body: Any) -> float:
    """The API's prediction count as Prometheus scraped it (0 when not scraped yet)."""
    if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
        raise StepFailedError(f"Prometheus query failed (HTTP {status})")
    return sum(float(sample["value"][1]) for sample in body["data"]["result"])


def dashboard_served(status: int, body: Any, uid: str) -> str:
    dashboard = body.get("dashboard") if isinstance(body, dict) else None
    if status != 200 or not isinstance(dashboard, dict) or dashboard.get("uid") != uid:
        raise StepFailedError(f"Grafana does not serve dashboard {uid!r} (HTTP {status})")
    return str(dashboard.get("title", uid))


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# ---- I/O ------------------------------------------------------------------------------


def call(
    base: str, request: Request, headers: dict[str, str] | None = None, timeout: float = 30
) -> tuple[int, Any]:
    """Status and JSON body (None when empty or not JSON); HTTP errors are answers."""
    url = base + request.path
    if not url.startswith("http://"):
        raise ValueError(f"not an http:// URL of the local stack: {url}")
    data = None if request.body is None else json.dumps(request.body).encode()
    prepared = urllib.request.Request(  # noqa: S310 - our own stack on localhost
        url, data=data, method=request.method, headers={"Content-Type": "application/json"}
    )
    for key, value in (headers or {}).items():
        prepared.add_header(key, value)
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def poll(what: str, check: Callable[[], Any], timeout: float, interval: float) -> Any:
    """The first truthy result of ``check`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() + interval > deadline:
            raise StepFailedError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Stack:
    settings: dict[str, str]
    values: dict[str, str]
    host: str

    def url(self, port_key: str) -> str:
        return f"http://{self.host}:{self.settings[port_key]}"

    def value(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)


def airflow_run(stack: Stack, token: str, dag_id: str, conf: dict[str, Any], timeout: float) -> str:
    base, auth = stack.url("AIRFLOW_PORT"), {"Authorization": f"Bearer {token}"}
    status, body = call(base, trigger_request(dag_id, conf), auth)
    if status not in (200, 201) or not isinstance(body, dict):
        raise StepFailedError(f"{dag_id}: trigger refused (HTTP {status}: {body})")
    run_id = str(body["dag_run_id"])

    def finished() -> str | None:
        return run_state(call(base, run_request(dag_id, run_id), auth)[1])

    state = poll(f"{dag_id} run {run_id}", finished, timeout, interval=5)
    if state != "success":
        raise StepFailedError(f"{dag_id} run {run_id} ended {state} (see its task logs in Airflow)")
    return run_id


def train_and_promote(stack: Stack, first_day: date, days: int, customers: int) -> str:
    base = stack.url("AIRFLOW_PORT")
    username = stack.value("AIRFLOW_ADMIN_USER", "admin")
    token = access_token(
        *call(base, token_request(username, stack.value("AIRFLOW_ADMIN_PASSWORD")))
    )
    auth = {"Authorization": f"Bearer {token}"}
    world = simulation(first_day, days, customers)
    status, _ = call(base, variable_request("fraudops_simulation", world, exists=False), auth)
    if status == 409:
        status, _ = call(base, variable_request("fraudops_simulation", world, exists=True), auth)
    if status not in (200, 201):
        raise StepFailedError(f"Airflow refused Variable fraudops_simulation (HTTP {status})")
    for dag_id in (DATA_DAG, TRAINING_DAG):
        status, _ = call(base, unpause_request(dag_id), auth)
        if status != 200:
            raise StepFailedError(f"{dag_id} is not loaded in Airflow (HTTP {status})")
    schedule = data_days(first_day, days)
    for day in schedule:
        run = airflow_run(stack, token, DATA_DAG, {"day": day.isoformat()}, timeout=900)
        report(f"data DAG {day}: success ({run})")
    conf = {
        "reason": "stack end-to-end check",
        "window_end": training_window_end(schedule).isoformat(),
        "models": ["lr"],
    }
    run = airflow_run(stack, token, TRAINING_DAG, conf, timeout=1800)
    report(f"training DAG: success ({run})")
    model = stack.value("FRAUDOPS_MODEL_NAME", "fraud-detector")
    query = urllib.parse.urlencode({"name": model, "alias": "champion"})
    path = f"/api/2.0/mlflow/registered-models/alias?{query}"
    version = champion_version(*call(stack.url("MLFLOW_PORT"), Request("GET", path)), model)
    report(f"MLflow: {model} champion is version {version}")
    return version


def score_in_api_container(compose: str, timeout: float) -> None:
    """`fraudops smoke` inside the API container, against the API itself (its own key)."""
    command = [*shlex.split(compose), "exec", "-T", "api", "fraudops", "smoke"]
    command += ["--url", "http://127.0.0.1:8000", "--timeout", str(int(timeout))]
    # The command is the stack's own compose invocation (make passes STACK_COMPOSE).
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=timeout + 60, check=False
    )
    print(result.stdout, end="")
    if result.returncode != 0:
        detail = result.stderr.strip()[-300:]
        raise StepFailedError(
            f"fraudops smoke in the api container exited {result.returncode}: {detail}"
        )
    report("API container: fraudops smoke passed (a transaction scored by the champion)")


def prometheus_scraped(stack: Stack) -> None:
    query = urllib.parse.urlencode({"query": "fraudops_predictions_total"})
    request = Request("GET", f"/api/v1/query?{query}")
    counted = poll(
        "Prometheus to scrape the API's predictions",
        lambda: predictions_counted(*call(stack.url("PROMETHEUS_PORT"), request)),
        timeout=120,
        interval=5,
    )
    report(f"Prometheus: fraudops_predictions_total = {counted:g}")


def grafana_serves_dashboard(stack: Stack) -> None:
    uid = json.loads(DASHBOARD.read_text(encoding="utf-8"))["uid"]
    auth = basic_auth(
        stack.value("GRAFANA_ADMIN_USER", "admin"), stack.value("GRAFANA_ADMIN_PASSWORD")
    )
    answer = call(
        stack.url("GRAFANA_PORT"),
        Request("GET", f"/api/dashboards/uid/{uid}"),
        {"Authorization": auth},
    )
    report(f"Grafana: dashboard {dashboard_served(*answer, uid)!r} served")


def report(line: str) -> None:
    print(f"ok  {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The fraudops compose stack, end to end.")
    parser.add_argument("--env-file", type=Path, default=HERE / ".env")
    parser.add_argument("--compose", required=True, help="the docker compose command of the stack")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--first-day", type=date.fromisoformat, default=date(2026, 1, 1))
    parser.add_argument(
        "--days", type=int, default=28, help="simulated days (training needs a few weeks)"
    )
    parser.add_argument("--customers", type=int, default=500)
    args = parser.parse_args(argv)
    stack = Stack(
        settings=stack_check.stack_settings(args.env_file),
        values=stack_check.read_dotenv(args.env_file),
        host=args.host,
    )
    try:
        train_and_promote(stack, args.first_day, args.days, args.customers)
        score_in_api_container(args.compose, timeout=180)
        prometheus_scraped(stack)
        grafana_serves_dashboard(stack)
    except (StepFailedError, ValueError, OSError, subprocess.TimeoutExpired) as error:
        print(f"FAIL {error}", file=sys.stderr)
        return 1
    print("stack end-to-end: every step passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
