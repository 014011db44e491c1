"""deployment/stack_e2e.py (make stack-e2e, CI's stack job): its requests and checks, and
its Airflow client against a local HTTP server that answers like Airflow's REST API.

The whole run needs Docker (CI's stack job); what runs here is everything that does not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from deployment_support import DEPLOYMENT, load_script


@pytest.fixture(scope="module")
def e2e() -> ModuleType:
    # The script imports its sibling stack_check by name, as it does when run from deployment/.
    sys.modules["stack_check"] = load_script("stack_check")
    return load_script("stack_e2e")


# ---- Requests ---------------------------------------------------------------------------


def test_days_and_training_window(e2e: ModuleType) -> None:
    days = e2e.data_days(date(2026, 1, 30), 3)
    assert days == [date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1)]
    assert e2e.training_window_end(days).isoformat() == "2026-02-02T00:00:00+00:00"
    with pytest.raises(ValueError, match="--days must be at least 1"):
        e2e.data_days(date(2026, 1, 1), 0)


def test_airflow_requests(e2e: ModuleType) -> None:
    trigger = e2e.trigger_request("fraud_data_pipeline", {"day": "2026-01-05"})
    assert (trigger.method, trigger.path) == ("POST", "/api/v2/dags/fraud_data_pipeline/dagRuns")
    assert trigger.body == {"logical_date": None, "conf": {"day": "2026-01-05"}}
    run = e2e.run_request("fraud_data_pipeline", "manual__2026-01-05T00:00:00+00:00")
    assert run.path.endswith("/dagRuns/manual__2026-01-05T00%3A00%3A00%2B00%3A00")
    world = e2e.simulation(date(2026, 1, 1), 28, 500)
    created = e2e.variable_request("fraudops_simulation", world, exists=False)
    assert (created.method, created.path) == ("POST", "/api/v2/variables")
    assert json.loads(created.body["value"]) == {
        "start": "2026-01-01",
        "days": 28,
        "customers": 500,
    }
    assert e2e.variable_request("fraudops_simulation", world, exists=True).method == "PATCH"
    assert e2e.unpause_request("fraud_training_pipeline").body == {"is_paused": False}


def test_simulation_is_read_by_the_dags(e2e: ModuleType) -> None:
    """The Variable the script writes is one the data DAG accepts."""
    sys.path.insert(0, str(DEPLOYMENT.parent / "dags"))
    try:
        from _fraudops_common import simulation_config
    finally:
        sys.path.pop(0)
    world = json.dumps(e2e.simulation(date(2026, 1, 1), 28, 500))
    config = simulation_config(lambda name: world if name == "simulation" else None)
    assert (config.start, config.days, config.customers) == (date(2026, 1, 1), 28, 500)


# ---- Checks of the answers -----------------------------------------------------------------


def test_run_state(e2e: ModuleType) -> None:
    assert e2e.run_state({"state": "running"}) is None
    assert e2e.run_state({"state": "queued"}) is None
    assert e2e.run_state({"state": "success"}) == "success"
    assert e2e.run_state({"state": "failed"}) == "failed"
    assert e2e.run_state(None) is None


def test_champion_version(e2e: ModuleType) -> None:
    body = {"model_version": {"name": "fraud-detector", "version": "3", "aliases": ["champion"]}}
    assert e2e.champion_version(200, body, "fraud-detector") == "3"
    with pytest.raises(e2e.StepFailedError, match="no champion of 'fraud-detector'"):
        e2e.champion_version(404, {"error_code": "RESOURCE_DOES_NOT_EXIST"}, "fraud-detector")


def test_predictions_counted(e2e: ModuleType) -> None:
    sample = {"metric": {"__name__": "fraudops_predictions_total"}, "value": [1.7e9, "2"]}
    body = {"status": "success", "data": {"resultType": "vector", "result": [sample, sample]}}
    assert e2e.predictions_counted(200, body) == 4
    empty = {"status": "success", "data": {"resultType": "vector", "result": []}}
    assert e2e.predictions_counted(200, empty) == 0
    with pytest.raises(e2e.StepFailedError, match="Prometheus query failed"):
        e2e.predictions_counted(400, {"status": "error"})


def test_dashboard_served(e2e: ModuleType) -> None:
    uid = json.loads(
        (DEPLOYMENT / "grafana" / "dashboards" / "fraudops-overview.json").read_text()
    )["uid"]
    body = {"dashboard": {"uid": uid, "title": "fraudops overview"}, "meta": {}}
    assert e2e.dashboard_served(200, body, uid) == "fraudops overview"
    with pytest.raises(e2e.StepFailedError, match="does not serve dashboard"):
        e2e.dashboard_served(404, {"message": "Dashboard not found"}, uid)


def test_access_token(e2e: ModuleType) -> None:
    assert e2e.access_token(201, {"access_token": "t0k"}) == "t0k"
    with pytest.raises(e2e.StepFailedError, match="refused the admin login"):
        e2e.access_token(401, {"detail": "Invalid credentials"})


# ---- The Airflow client against a server that answers like Airflow ----------------------


class FakeAirflow(BaseHTTPRequestHandler):
    """Triggers return a run id; the run reports ``running`` once, then its final state."""

    final_state: ClassVar[str] = "success"
    polls: ClassVar[dict[str, int]] = {}
    triggered: ClassVar[list[dict[str, Any]]] = []

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != "Bearer t0k":
            self._answer(401, {"detail": "Not authenticated"})
            return
        self.triggered.append(body)
        self._answer(200, {"dag_run_id": f"manual__{len(self.triggered)}", "state": "queued"})

    def do_GET(self) -> None:
        run_id = self.path.rsplit("/", 1)[-1]
        self.polls[run_id] = self.polls.get(run_id, 0) + 1
        state = "running" if self.polls[run_id] == 1 else self.final_state
        self._answer(200, {"dag_run_id": run_id, "state": state})

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def airflow() -> Iterator[int]:
    FakeAirflow.polls, FakeAirflow.triggered, FakeAirflow.final_state = {}, [], "success"
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAirflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _stack(e2e: ModuleType, port: int) -> Any:
    return e2e.Stack(settings={"AIRFLOW_PORT": str(port)}, values={}, host="127.0.0.1")


def test_airflow_run_waits_for_success(
    e2e: ModuleType, airflow: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(e2e.time, "sleep", lambda seconds: None)
    run = e2e.airflow_run(_stack(e2e, airflow), "t0k", "fraud_data_pipeline", {"day": "x"}, 30)
    assert run == "manual__1"
    assert FakeAirflow.triggered == [{"logical_date": None, "conf": {"day": "x"}}]
    assert FakeAirflow.polls == {"manual__1": 2}


def test_a_failed_run_fails_the_step(
    e2e: ModuleType, airflow: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(e2e.time, "sleep", lambda seconds: None)
    FakeAirflow.final_state = "failed"
    with pytest.raises(
        e2e.StepFailedError, match="fraud_training_pipeline run manual__1 ended failed"
    ):
        e2e.airflow_run(_stack(e2e, airflow), "t0k", "fraud_training_pipeline", {}, 30)


def test_a_refused_trigger_fails_the_step(e2e: ModuleType, airflow: int) -> None:
    with pytest.raises(e2e.StepFailedError, match="trigger refused \\(HTTP 401"):
        e2e.airflow_run(_stack(e2e, airflow), "wrong", "fraud_data_pipeline", {}, 30)


def test_unreachable_stack_exits_1_with_one_line(tmp_path: Path) -> None:
    env = tmp_path / "stack.env"
    env.write_text("AIRFLOW_PORT=9\nAIRFLOW_ADMIN_PASSWORD=x\n")
    result = subprocess.run(
        [
            sys.executable,
            str(DEPLOYMENT / "stack_e2e.py"),
            "--env-file",
            str(env),
            "--compose",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("FAIL ")
    assert "Traceback" not in result.stderr
