"""deployment/stack_check.py (make stack-check) against fake services on localhost.

One HTTP server plays MinIO, MLflow, Airflow, the API, Prometheus and Grafana; two TCP
servers answer like PostgreSQL (SSLRequest) and Redis (PING).
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

HEALTHY_AIRFLOW = {
    "metadatabase": {"status": "healthy"},
    "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-01-01T00:00:00Z"},
    "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
    "dag_processor": {
        "status": "healthy",
        "latest_dag_processor_heartbeat": "2026-01-01T00:00:00Z",
    },
}
TARGETS = {"data": {"activeTargets": [{"labels": {"job": "fraudops-api"}, "health": "up"}]}}


class FakeServices(BaseHTTPRequestHandler):
    """Answers per path; tests change ``routes`` to break one service at a time."""

    routes: ClassVar[dict[str, tuple[int, Any]]] = {}

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, "not found"))
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


def default_routes() -> dict[str, tuple[int, Any]]:
    return {
        "/minio/health/live": (200, ""),
        "/health": (200, "OK"),
        "/api/v2/monitor/health": (200, HEALTHY_AIRFLOW),
        "/health/live": (200, {"status": "alive"}),
        "/health/ready": (200, {"status": "ready"}),
        "/-/ready": (200, "Prometheus Server is Ready."),
        "/api/v1/targets": (200, TARGETS),
        "/api/health": (200, {"database": "ok", "version": "12.1.1"}),
        "/json/": (200, {"status": "ALIVE", "aliveworkers": 1, "cores": 2}),
    }


def tcp_server(answer: bytes) -> socketserver.ThreadingTCPServer:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(64)
            self.request.sendall(answer)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Path]:
    """Fake services and an env file pointing every *_PORT at them."""
    FakeServices.routes = default_routes()
    http = ThreadingHTTPServer(("127.0.0.1", 0), FakeServices)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True).start()
    postgres, redis = tcp_server(b"N"), tcp_server(b"+PONG\r\n")
    http_port = http.server_address[1]
    http_services = (
        "API", "MLFLOW", "AIRFLOW", "MINIO", "PROMETHEUS", "GRAFANA", "SPARK_MASTER_UI",
    )  # fmt: skip
    ports = {f"{name}_PORT": http_port for name in http_services}
    ports["POSTGRES_PORT"] = postgres.server_address[1]
    ports["REDIS_PORT"] = redis.server_address[1]
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# generated\nSTACK_BIND_ADDRESS=127.0.0.1\n"
        + "".join(f"{key}={port}\n" for key, port in ports.items())
    )
    yield env_file
    for server in (http, postgres, redis):
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def no_port_overrides(monkeypatch: pytest.MonkeyPatch, stack_check: ModuleType) -> None:
    for key in stack_check.DEFAULT_PORTS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("STACK_BIND_ADDRESS", raising=False)


def run(stack_check: ModuleType, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = stack_check.main(list(args))
    return code, capsys.readouterr().out


def test_healthy_stack_prints_a_table_and_succeeds(
    stack: Path, stack_check: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(stack_check, capsys, "--env-file", str(stack))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["SERVICE", "STATUS", "TIME", "CHECK", "DETAIL"]
    assert set(lines[1]) == {"-", " "}
    rows = [line for line in lines[2:] if line.strip() and not re.match(r"\d+ ok,", line)]
    services = {row.split()[0] for row in rows}
    assert services == {
        "postgres", "redis", "minio", "mlflow", "airflow-apiserver", "airflow-scheduler",
        "airflow-dag-processor", "api", "prometheus", "grafana", "spark-master",
    }  # fmt: skip
    assert "FAIL" not in out
    assert "1 worker alive, 2 cores" in out
    assert out.rstrip().endswith("13 ok, 0 warn, 0 fail")


def test_api_without_a_model_is_a_warning_unless_strict(
    stack: Path, stack_check: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    FakeServices.routes["/health/ready"] = (503, {"detail": "no model loaded"})
    code, out = run(stack_check, capsys, "--env-file", str(stack))
    assert code == 0
    assert "WARN" in out
    assert "no model loaded yet" in out
    code, _ = run(stack_check, capsys, "--env-file", str(stack), "--strict")
    assert code == 1


def test_unhealthy_airflow_scheduler_fails_its_row(
    stack: Path, stack_check: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    unhealthy = dict(HEALTHY_AIRFLOW, scheduler={"status": "unhealthy"})
    FakeServices.routes["/api/v2/monitor/health"] = (200, unhealthy)
    code, out = run(stack_check, capsys, "--env-file", str(stack), "--json")
    assert code == 1
    results = {(r["service"], r["status"]) for r in json.loads(out)}
    assert ("airflow-scheduler", "fail") in results
    assert ("airflow-apiserver", "ok") in results
    assert ("airflow-dag-processor", "ok") in results


def test_api_not_scraped_by_prometheus_fails(
    stack: Path, stack_check: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    down = {"labels": {"job": "fraudops-api"}, "health": "down", "lastError": "connection refused"}
    FakeServices.routes["/api/v1/targets"] = (200, {"data": {"activeTargets": [down]}})
    FakeServices.routes["/api/health"] = (200, {"database": "failing"})
    code, out = run(stack_check, capsys, "--env-file", str(stack), "--json")
    assert code == 1
    failed = {r["check"]: r["detail"] for r in json.loads(out) if r["status"] == "fail"}
    assert len(failed) == 2
    assert any("connection refused" in detail for detail in failed.values())
    assert any("database failing" in detail for detail in failed.values())


def test_stopped_services_fail_fast(
    tmp_path: Path, stack_check: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{key}={port}\n" for key in stack_check.DEFAULT_PORTS))
    code, out = run(stack_check, capsys, "--env-file", str(env_file), "--timeout", "1", "--json")
    assert code == 1
    results = json.loads(out)
    assert len(results) == 13
    assert {r["status"] for r in results} == {"fail"}
    assert all(r["detail"].startswith("connection refused") for r in results)


def test_wait_retries_until_healthy_or_the_deadline(
    stack_check: ModuleType,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--wait: probe again after each interval; stop at success or when time is up."""
    calls: list[int] = []
    failing = [stack_check.Result("api", "x", stack_check.FAIL, "starting")]
    healthy = [stack_check.Result("api", "x", stack_check.OK, "ok")]

    def fake_run(probes: object) -> list[object]:
        calls.append(1)
        return failing if len(calls) < 3 else healthy

    monkeypatch.setattr(stack_check, "run_probes", fake_run)
    monkeypatch.setattr(stack_check.time, "sleep", lambda seconds: None)
    assert stack_check.main(["--wait", "60", "--interval", "1"]) == 0
    assert len(calls) == 3
    assert capsys.readouterr().err.count("waiting for the stack: 0 ok, 0 warn, 1 fail") == 2

    calls.clear()
    monkeypatch.setattr(stack_check, "run_probes", lambda probes: failing)
    assert stack_check.main(["--wait", "0", "--interval", "1"]) == 1  # one pass, no retry
    assert "waiting" not in capsys.readouterr().err


def test_ports_come_from_environment_then_env_file_then_defaults(
    tmp_path: Path, stack_check: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nAPI_PORT=18000\nMLFLOW_PORT='15000'\nSTACK_BIND_ADDRESS=0.0.0.0\n"
    )
    monkeypatch.setenv("MLFLOW_PORT", "25000")
    settings = stack_check.stack_settings(env_file)
    assert settings["API_PORT"] == "18000"
    assert settings["MLFLOW_PORT"] == "25000"
    assert settings["GRAFANA_PORT"] == "3000"
    probes = stack_check.build_probes(settings, None, 1.0)
    # A wildcard bind address is probed on the loopback interface.
    assert any(p.check == "http://127.0.0.1:18000/health/live" for p in probes)


def test_defaults_match_the_compose_ports(
    stack_check: ModuleType, services: dict[str, Any]
) -> None:
    published = {}
    for spec in services.values():
        for port in spec.get("ports", []):
            match = re.search(r"\$\{(\w+_PORT):-(\d+)\}", port)
            assert match, port
            published[match[1]] = int(match[2])
    assert published == stack_check.DEFAULT_PORTS


def test_a_spark_master_without_workers_fails_its_row(
    stack: Path, stack_check: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    FakeServices.routes["/json/"] = (200, {"status": "ALIVE", "aliveworkers": 0, "cores": 0})
    code, out = run(stack_check, capsys, "--env-file", str(stack))
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("spark-master"))
    assert "FAIL" in row
    assert "no worker registered" in row
