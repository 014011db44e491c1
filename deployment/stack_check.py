#!/usr/bin/env python3
"""Health of every service of the docker-compose stack, as a table (``make stack-check``).

    python3 deployment/stack_check.py                  # one pass
    python3 deployment/stack_check.py --wait 180       # retry until healthy or 180 s passed
    python3 deployment/stack_check.py --json           # machine-readable

Standard library only. Ports and the bind address are read from deployment/.env (the
same file compose uses), then from the environment, then the defaults. Each service is
probed on its own protocol: PostgreSQL answers an SSLRequest, Redis a PING, the others an
HTTP health endpoint. The Airflow scheduler and DAG processor publish no port; their
heartbeats are read from the API server's /api/v2/monitor/health.

Exit status 0 when nothing failed. ``warn`` rows (e.g. the API is up but no model is
registered yet, so /health/ready answers 503) do not fail the check unless --strict.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OK, WARN, FAIL = "ok", "warn", "fail"
DEFAULT_PORTS = {
    "API_PORT": 8000,
    "MLFLOW_PORT": 5000,
    "AIRFLOW_PORT": 8080,
    "MINIO_PORT": 9000,
    "MINIO_CONSOLE_PORT": 9001,
    "PROMETHEUS_PORT": 9090,
    "GRAFANA_PORT": 3000,
    "POSTGRES_PORT": 5432,
    "REDIS_PORT": 6379,
    "SPARK_MASTER_UI_PORT": 8090,
}
POSTGRES_SSL_REQUEST = struct.pack("!ii", 8, 80877103)


@dataclass
class Result:
    service: str
    check: str
    status: str
    detail: str
    seconds: float = 0.0


@dataclass
class Probe:
    service: str
    check: str
    run: Callable[[], list[Result]]


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file (comments and blanks skipped)."""
    if not path.exists():
        return {}
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


def stack_settings(env_file: Path) -> dict[str, str]:
    """Ports and bind address: the environment wins over deployment/.env over defaults."""
    settings = {key: str(port) for key, port in DEFAULT_PORTS.items()}
    settings["STACK_BIND_ADDRESS"] = "127.0.0.1"
    file_values = read_dotenv(env_file)
    for key in settings:
        value = os.environ.get(key) or file_values.get(key)
        if value:
            settings[key] = value
    return settings


def http_get(url: str, timeout: float) -> tuple[int, bytes]:
    """Status and body of a GET; HTTP errors are answers, not exceptions."""
    # The URL is built from a host and a port of our own stack, never from user input.
    if not url.startswith("http://"):
        raise ValueError(f"not an http:// URL: {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "fraudops-stack-check"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def describe(error: BaseException) -> str:
    """A short reason: 'connection refused', 'timed out', not a nested exception repr."""
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, urllib.error.URLError):
        return f"unreachable: {error.reason}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the service running and its port published?)"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return f"{type(error).__name__}: {error}"


def timed(service: str, check: str, probe: Callable[[], tuple[str, str]]) -> Result:
    started = time.perf_counter()
    try:
        status, detail = probe()
    except (OSError, ValueError) as error:  # refused, timeout, DNS, bad JSON
        status, detail = FAIL, describe(error)
    return Result(service, check, status, detail, time.perf_counter() - started)


def http_probe(
    service: str, url: str, timeout: float, accept: Callable[[int, bytes], tuple[str, str]]
) -> Probe:
    def run() -> list[Result]:
        return [timed(service, url, lambda: accept(*http_get(url, timeout)))]

    return Probe(service, url, run)


def expect_200(status: int, body: bytes) -> tuple[str, str]:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")[:60]
    return (OK, f"HTTP 200 {text}".strip()) if status == 200 else (FAIL, f"HTTP {status} {text}")


def api_ready(status: int, body: bytes) -> tuple[str, str]:
    if status == 200:
        return OK, "model loaded"
    if status == 503:
        return WARN, "HTTP 503: no model loaded yet (train and promote a champion)"
    return FAIL, f"HTTP {status}"


def grafana_health(status: int, body: bytes) -> tuple[str, str]:
    if status != 200:
        return FAIL, f"HTTP {status}"
    payload = json.loads(body)
    database = payload.get("database")
    detail = f"database {database}, version {payload.get('version', '?')}"
    return (OK if database == "ok" else FAIL), detail


def prometheus_targets(status: int, body: bytes) -> tuple[str, str]:
    if status != 200:
        return FAIL, f"HTTP {status}"
    targets = json.loads(body)["data"]["activeTargets"]
    api = [t for t in targets if t.get("labels", {}).get("job") == "fraudops-api"]
    if not api:
        return FAIL, "no fraudops-api scrape target"
    down = [t for t in api if t.get("health") != "up"]
    if down:
        errors = "; ".join(t.get("lastError") or t.get("health", "?") for t in down)
        return FAIL, f"fraudops-api target not up: {errors}"[:120]
    return OK, f"fraudops-api scraped ({len(api)} target{'s' * (len(api) > 1)} up)"


def spark_workers(status: int, body: bytes) -> tuple[str, str]:
    """The Spark master's /json/: alive, with at least one worker to run executors."""
    if status != 200:
        return FAIL, f"HTTP {status}"
    state = json.loads(body)
    workers = int(state.get("aliveworkers", 0))
    if state.get("status") != "ALIVE":
        return FAIL, f"master {state.get('status')}"
    if workers == 0:
        return FAIL, "no worker registered: engine=spark jobs would wait forever"
    return OK, f"{workers} worker{'s' * (workers > 1)} alive, {state.get('cores', '?')} cores"


def airflow_probe(base: str, timeout: float) -> Probe:
    """One request, three rows: the API server and the heartbeats it reports."""
    url = f"{base}/api/v2/monitor/health"
    components = {
        "airflow-apiserver": "metadatabase",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag_processor",
    }

    def run() -> list[Result]:
        started = time.perf_counter()
        try:
            status, body = http_get(url, timeout)
            payload = json.loads(body) if status == 200 else None
        except (OSError, ValueError) as error:
            status, payload = 0, None
            failure = describe(error)
        else:
            failure = f"HTTP {status}"
        elapsed = time.perf_counter() - started
        results = []
        for service, component in components.items():
            check = url if service == "airflow-apiserver" else f"{component} heartbeat"
            if payload is None:
                results.append(Result(service, check, FAIL, failure, elapsed))
                continue
            state = (payload.get(component) or {}).get("status")
            detail = f"{component} {state}"
            heartbeat = (payload.get(component) or {}).get("latest_" + component + "_heartbeat")
            if heartbeat:
                detail += f", heartbeat {heartbeat}"
            results.append(
                Result(service, check, OK if state == "healthy" else FAIL, detail, elapsed)
            )
        return results

    return Probe("airflow", url, run)


def postgres_probe(host: str, port: int, timeout: float) -> Probe:
    def probe() -> tuple[str, str]:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(POSTGRES_SSL_REQUEST)
            answer = sock.recv(1)
        if answer in (b"S", b"N"):
            return OK, "accepts connections (SSLRequest answered)"
        return FAIL, f"unexpected answer {answer!r}"

    check = f"tcp://{host}:{port}"
    return Probe("postgres", check, lambda: [timed("postgres", check, probe)])


def redis_probe(host: str, port: int, timeout: float) -> Probe:
    def probe() -> tuple[str, str]:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
        if answer.startswith(b"+PONG"):
            return OK, "PONG"
        return FAIL, f"unexpected answer {answer[:40]!r}"

    check = f"redis://{host}:{port}"
    return Probe("redis", check, lambda: [timed("redis", check, probe)])


def build_probes(settings: dict[str, str], host: str | None, timeout: float) -> list[Probe]:
    bind = settings["STACK_BIND_ADDRESS"]
    host = host or ("127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind)  # noqa: S104

    def url(port_key: str, path: str) -> str:
        return f"http://{host}:{settings[port_key]}{path}"

    return [
        postgres_probe(host, int(settings["POSTGRES_PORT"]), timeout),
        redis_probe(host, int(settings["REDIS_PORT"]), timeout),
        http_probe("minio", url("MINIO_PORT", "/minio/health/live"), timeout, expect_200),
        http_probe("mlflow", url("MLFLOW_PORT", "/health"), timeout, expect_200),
        airflow_probe(f"http://{host}:{settings['AIRFLOW_PORT']}", timeout),
        http_probe("api", url("API_PORT", "/health/live"), timeout, expect_200),
        http_probe("api", url("API_PORT", "/health/ready"), timeout, api_ready),
        http_probe("prometheus", url("PROMETHEUS_PORT", "/-/ready"), timeout, expect_200),
        http_probe(
            "prometheus", url("PROMETHEUS_PORT", "/api/v1/targets"), timeout, prometheus_targets
        ),
        http_probe("grafana", url("GRAFANA_PORT", "/api/health"), timeout, grafana_health),
        http_probe("spark-master", url("SPARK_MASTER_UI_PORT", "/json/"), timeout, spark_workers),
    ]


def run_probes(probes: list[Probe]) -> list[Result]:
    with ThreadPoolExecutor(max_workers=len(probes) or 1) as pool:
        batches = list(pool.map(lambda probe: probe.run(), probes))
    return [result for batch in batches for result in batch]


def render_table(results: list[Result]) -> str:
    headers = ("SERVICE", "STATUS", "TIME", "CHECK", "DETAIL")
    rows = [
        (r.service, r.status.upper(), f"{r.seconds * 1000:.0f} ms", r.check, r.detail)
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        lines.append(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        )
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def summary(results: list[Result]) -> str:
    counts = {status: sum(r.status == status for r in results) for status in (OK, WARN, FAIL)}
    return f"{counts[OK]} ok, {counts[WARN]} warn, {counts[FAIL]} fail"


def failed(results: list[Result], strict: bool) -> bool:
    bad = {FAIL, WARN} if strict else {FAIL}
    return any(r.status in bad for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Health of every fraudops stack service.")
    parser.add_argument("--env-file", type=Path, default=HERE / ".env")
    parser.add_argument("--host", help="host to probe (default: STACK_BIND_ADDRESS)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per probe")
    parser.add_argument("--wait", type=float, default=0.0, help="retry for up to this many seconds")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between tries")
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    probes = build_probes(stack_settings(args.env_file), args.host, args.timeout)
    deadline = time.monotonic() + args.wait
    while True:
        results = run_probes(probes)
        if not failed(results, args.strict) or time.monotonic() + args.interval > deadline:
            break
        print(f"waiting for the stack: {summary(results)}", file=sys.stderr)
        time.sleep(args.interval)

    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print(render_table(results))
        print(f"\n{summary(results)}")
    return 1 if failed(results, args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
