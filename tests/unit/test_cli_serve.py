"""``fraudops serve`` as a real process on 127.0.0.1 (drain on SIGTERM, header timeout,
metrics port) and ``fraudops smoke`` against it, against the ASGI app and against a
wrong or unready API."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from fraudops.cli import app
from fraudops.config import Settings
from fraudops.serving.app import create_app
from fraudops.serving.model_loader import ModelHolder
from fraudops.serving.schemas import EXAMPLE_TRANSACTION
from fraudops.serving.smoke import run_smoke

if TYPE_CHECKING:
    from conftest import EmbeddedRegistry

runner = CliRunner()
FRAUDOPS = Path(sys.executable).parent / "fraudops"
KEY = "dev-api-key"


def said(result: Result) -> str:
    return " ".join(result.output.split())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServedApi:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    api_key: str

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def served_api(home: Path, workdir: Path, **settings: str) -> Iterator[ServedApi]:
    """``fraudops serve`` on a free loopback port with ``FRAUDOPS_<NAME>`` settings; returns
    once ``/health/ready`` answers 200 (the champion loaded)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")}
    env.update({f"FRAUDOPS_{k.upper()}": v for k, v in settings.items()})
    env["FRAUDOPS_HOME"] = str(home)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"api-{port}.log"
    command = [str(FRAUDOPS), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    api = ServedApi(
        f"http://127.0.0.1:{port}", port, process, log, env.get("FRAUDOPS_API_KEY", KEY)
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"fraudops serve exited ({process.returncode}):\n{api.log_text()}")
            try:
                if httpx.get(f"{api.url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"fraudops serve never became ready:\n{api.log_text()}")
            time.sleep(0.2)
        yield api
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.fixture(scope="module")
def champion_home(linear_registry: Callable[..., EmbeddedRegistry]) -> Path:
    return linear_registry(versions=1, champion=1).home


@pytest.fixture(scope="module")
def dev_api(champion_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    """A development API with short connection timeouts."""
    workdir = tmp_path_factory.mktemp("dev-api")
    with served_api(
        champion_home, workdir, header_timeout_seconds="1", keep_alive_seconds="1"
    ) as api:
        yield api


# ---- smoke ------------------------------------------------------------------------------


def test_smoke_passes_against_a_running_api(dev_api: ServedApi) -> None:
    result = runner.invoke(app, ["smoke", "--url", dev_api.url, "--api-key", KEY])
    assert result.exit_code == 0, result.output
    assert said(result).count(" ok ") == 4, result.output
    assert "FAILED" not in result.output
    assert "serving v1, prediction by v1" in said(result)


def test_smoke_fails_clearly_against_a_wrong_url_or_key(dev_api: ServedApi) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["smoke", "--url", closed, "--api-key", KEY, "--timeout", "1"])
    assert result.exit_code == 1
    assert "connection" in said(result)
    assert "FAILED" in said(result)
    assert "smoke test failed: connection" in said(result)
    assert result.exception is None or isinstance(result.exception, SystemExit)

    wrong_key = runner.invoke(app, ["smoke", "--url", dev_api.url, "--api-key", "nope"])
    assert wrong_key.exit_code == 1
    assert "smoke test failed: predict, model version" in said(wrong_key)

    scheme = runner.invoke(app, ["smoke", "--url", "localhost:8000"])
    assert scheme.exit_code == 2
    assert "--url must start with http(s)://" in said(scheme)


@pytest.fixture
def asgi_api(isolated_home: Path) -> Iterator[tuple[TestClient, ModelHolder]]:
    """The API in process (no model yet), with the smoke client's key."""
    settings = Settings(home=isolated_home, reload_interval_seconds=0)
    holder = ModelHolder(settings)
    with TestClient(create_app(settings, holder=holder, poll_registry=False)) as client:
        client.headers["X-API-Key"] = KEY
        yield client, holder


def test_smoke_checks_run_against_the_asgi_app(
    asgi_api: tuple[TestClient, ModelHolder], linear_model: Any
) -> None:
    client, holder = asgi_api
    unready = {c.name: c for c in run_smoke(client, ready_timeout=0)}
    assert unready["live"].ok
    assert not unready["ready"].ok
    assert "no model loaded" in unready["ready"].detail
    assert not unready["predict"].ok
    assert unready["predict"].detail.startswith("503")
    assert not unready["model version"].ok

    holder.install(linear_model, version=4)
    ready = run_smoke(client, ready_timeout=0)
    assert [(c.name, c.ok) for c in ready] == [
        ("live", True),
        ("ready", True),
        ("predict", True),
        ("model version", True),
    ]
    assert ready[-1].detail == "serving v4, prediction by v4"


def test_smoke_command_exits_non_zero_for_an_unready_api(
    asgi_api: tuple[TestClient, ModelHolder], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = asgi_api
    monkeypatch.setattr("fraudops.serving.smoke.smoke_client", lambda url, key: client)
    started = time.monotonic()
    result = runner.invoke(app, ["smoke", "--url", "http://api.test", "--timeout", "1"])
    assert result.exit_code == 1
    assert "smoke test failed: ready, predict, model version" in said(result)
    assert 1 <= time.monotonic() - started < 10  # it waited for readiness, then gave up


# ---- connection timeouts ------------------------------------------------------------


def closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (fails after ``limit``)."""
    sock.settimeout(limit)
    started = time.monotonic()
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {limit} s")
    return time.monotonic() - started


def test_several_workers_are_refused_with_the_in_memory_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDOPS_HOME", str(tmp_path))
    monkeypatch.setenv("FRAUDOPS_ONLINE_STORE_URI", "memory://")
    result = runner.invoke(app, ["serve", "--workers", "2", "--port", str(free_port())])
    assert result.exit_code != 0
    assert "needs a shared online store" in said(result)
    assert "FRAUDOPS_ONLINE_STORE_URI=redis://" in said(result)
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_connections_with_unfinished_headers_are_closed(dev_api: ServedApi) -> None:
    address = ("127.0.0.1", dev_api.port)
    with (
        socket.create_connection(address) as silent,
        socket.create_connection(address) as partial,
        socket.create_connection(address) as idle,
    ):
        partial.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        idle.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"200 OK" in idle.recv(4096)  # a full request is answered, then idles
        # header timeout 1 s: closed after about a second, not held open
        assert closed_after(silent, 5) < 4
        assert closed_after(partial, 5) < 4
        assert closed_after(idle, 5) < 4  # keep-alive timeout 1 s
    # a keep-alive connection that starts a new request and stalls is closed too
    with socket.create_connection(address) as stalled:
        stalled.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"200 OK" in stalled.recv(4096)
        stalled.sendall(b"GET /health/live HTTP/1.1\r\nHo")
        assert closed_after(stalled, 5) < 4
    assert httpx.get(f"{dev_api.url}/health/live").status_code == 200


def test_metrics_stay_on_the_api_port_in_development(dev_api: ServedApi) -> None:
    metrics = httpx.get(f"{dev_api.url}/metrics")
    assert metrics.status_code == 200
    assert "fraudops_http_requests_total" in metrics.text


# ---- draining -------------------------------------------------------------------------


@dataclass
class Outcome:
    started: float
    status: int | None = None
    error: str | None = None
    connection_close: bool = False


@dataclass
class Load:
    """Keep-alive clients posting predictions until the server stops listening."""

    url: str
    api_key: str
    clients: int = 4
    outcomes: list[Outcome] = field(default_factory=list)
    readiness: list[tuple[float, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def client_loop(self, worker: int) -> None:
        headers = {"X-API-Key": self.api_key}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                tx = {**EXAMPLE_TRANSACTION, "transaction_id": f"drain-{worker}-{n}"}
                outcome = Outcome(time.monotonic())
                try:
                    response = client.post("/v1/predict", json=tx)
                    outcome.status = response.status_code
                    outcome.connection_close = response.headers.get("connection") == "close"
                except httpx.ConnectError:  # nothing listens any more: the drain is over
                    outcome.error = "refused"
                    self.outcomes.append(outcome)
                    return
                except httpx.HTTPError as exc:  # a reset or a dropped response
                    outcome.error = f"{type(exc).__name__}: {exc}"
                self.outcomes.append(outcome)
                time.sleep(0.02)

    def readiness_loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self.stop.is_set():
                try:
                    status = client.get("/health/ready").status_code
                    self.readiness.append((time.monotonic(), status))
                except httpx.ConnectError:
                    return
                time.sleep(0.1)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.client_loop, args=(worker,))
            for worker in range(self.clients)
        ]
        threads.append(threading.Thread(target=self.readiness_loop))
        for thread in threads:
            thread.start()
        return threads


def test_sigterm_drains_without_resetting_a_connection(champion_home: Path, tmp_path: Path) -> None:
    drain = 2.0
    metrics_port = free_port()
    settings = {
        "env": "production",
        "api_key": secrets.token_urlsafe(24),
        "admin_api_key": secrets.token_urlsafe(24),
        "console_secret": secrets.token_urlsafe(24),
        "drain_seconds": str(drain),
        "metrics_port": str(metrics_port),
    }
    with served_api(champion_home, tmp_path, **settings) as api:
        # production: /metrics only on its own port
        assert httpx.get(f"{api.url}/metrics").status_code == 404
        private = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert private.status_code == 200
        assert "fraudops_model_loaded 1.0" in private.text

        load = Load(api.url, api.api_key)
        threads = load.start()
        time.sleep(1.0)  # keep-alive connections in use
        sigterm = time.monotonic()
        api.process.send_signal(signal.SIGTERM)
        try:
            returncode = api.process.wait(timeout=drain + 15)
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(15)

    before = [o for o in load.outcomes if o.started < sigterm]
    during = [o for o in load.outcomes if sigterm + 0.3 < o.started < sigterm + drain - 0.3]
    resets = [o for o in load.outcomes if o.error and o.error != "refused"]
    # A client that ignores readiness and connects while the listener closes can have its
    # fresh connection reset (accepted by the kernel, never read by the server): at most
    # one per client, and only at the end of the drain. Nothing served before is cut.
    listener_closing = sigterm + drain - 0.5
    assert [o.error for o in resets if o.started < listener_closing] == []
    assert len(resets) <= load.clients, [o.error for o in resets]
    assert len(before) > 10
    assert all(o.status == 200 for o in before)
    # still serving during the drain, each answer telling the client to reconnect
    assert len(during) > 10, len(during)
    assert all(o.status == 200 and o.connection_close for o in during)
    ready_before = [s for t, s in load.readiness if t < sigterm]
    ready_during = [s for t, s in load.readiness if sigterm + 0.3 < t < sigterm + drain - 0.3]
    assert ready_before
    assert set(ready_before) == {200}
    assert ready_during
    assert set(ready_during) == {503}
    last_answer = max(o.started for o in load.outcomes if o.status == 200)
    assert last_answer > sigterm + drain - 0.5  # served until the end of the drain
    assert returncode == 0, api.log_text()  # a drained stop is a clean exit
    assert "draining for 2.0 s" in api.log_text()
