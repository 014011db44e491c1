"""The live tier's view of Airflow: its REST API (v2, bearer token of the simple auth
manager), deadlines, and the processes a stack leaves behind.

Nothing here imports Airflow: the test process only talks HTTP to the API server, as the
compose stack's clients and CD do.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx

# The simulated world: day 44 (2026-02-14) is the last normal day, drift from day 45.
SIMULATION: dict[str, Any] = {
    "customers": 1000,
    "start": "2026-01-01",
    "seed": 11,
    "fraud_rate": 0.01,
    "drift_day": 45,
    "drift_kinds": ["new_pattern", "amount_shift"],
}
SIM_START = date(2026, 1, 1)
# the stored history the tier starts from: days 0-42 (through 2026-02-12)
HISTORY_END = date(2026, 2, 13)

FRAUDOPS_ENV = {
    "FRAUDOPS_ENV": "test",
    "FRAUDOPS_ONLINE_STORE_URI": "memory://",
    "FRAUDOPS_SIMULATION": json.dumps(SIMULATION),
    "FRAUDOPS_TRAINING_MODELS": "lr",
    "FRAUDOPS_TRAINING_HISTORY_DAYS": "14",
    "FRAUDOPS_TRAINING_DELAY_DAYS": "3",
    "FRAUDOPS_TRAINING_TEST_DAYS": "4",
    "FRAUDOPS_MONITORING_REPORT": "never",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "OMP_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class LiveAirflow:
    api: AirflowApi
    airflow_home: Path
    fraudops_home: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]


T = TypeVar("T")
FINISHED = {"success", "failed"}


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 1.0) -> T:
    """``check()``'s first truthy value within ``timeout`` seconds; else fail with ``what``
    (and the last value seen)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {last}")


@dataclass
class AirflowApi:
    """A logged-in client of one API server."""

    base_url: str
    token: str

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> AirflowApi:
        # the simple auth manager's token endpoint (users from a passwords file)
        response = httpx.post(
            f"{base_url}/auth/token",
            json={"username": username, "password": password},
            timeout=30,
            trust_env=False,
        )
        assert response.status_code in (200, 201), (response.status_code, response.text)
        return cls(base_url, response.json()["access_token"])

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.base_url}/api/v2{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
            trust_env=False,
            **kwargs,
        )

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.text[:2000]}"
        return response.json() if response.content else None

    def set_variable(self, key: str, value: str) -> None:
        self.call("POST", "/variables", 201, json={"key": key, "value": value})

    def parsed(self, dag_id: str) -> bool:
        """The DAG processor has stored the DAG (the API knows it)."""
        return self.request("GET", f"/dags/{dag_id}").status_code == 200

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any], run_id: str | None = None) -> str:
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if run_id:
            body["dag_run_id"] = run_id
        run: dict[str, Any] = self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)
        return str(run["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        return found

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        page = self.call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})
        return list(page["dag_runs"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        page = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in page["task_instances"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.call("GET", path, params={"deserialize": True})["value"]

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        content = self.call("GET", path, params={"full_content": True})["content"]
        if isinstance(content, list):  # structured log lines
            return "\n".join(str(line.get("event", line)) for line in content)
        return str(content)

    def wait_finished(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        """The run once it succeeded or failed (a failure quotes its task states)."""

        def finished() -> dict[str, Any] | None:
            run = self.run(dag_id, run_id)
            return run if run["state"] in FINISHED else None

        run = wait_for(finished, timeout, f"{dag_id} run {run_id} to finish", every=2.0)
        assert run["state"] == "success", (run_id, self.task_states(dag_id, run_id))
        return run


def processes_marked_by(marker: str) -> list[str]:
    """Live processes whose environment mentions ``marker`` (a stack's private folder):
    whatever a stack started and did not stop, whichever group it moved to."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            if marker.encode() in environ:
                state = next(
                    line for line in (proc / "status").read_text().splitlines() if "State" in line
                )
                if "zombie" not in state:
                    cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    found.append(f"{proc.name}: {cmdline[:200]}")
        except (FileNotFoundError, PermissionError, ProcessLookupError, StopIteration):
            continue
    return found
