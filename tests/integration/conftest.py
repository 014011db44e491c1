"""Real services for the integration tier, each started from its binary.

A fixture starts a service on a free 127.0.0.1 port in a temporary folder and always stops
it. When the binary is not on PATH the test is skipped with the reason, unless
``FRAUDOPS_REQUIRE_SERVICES=1`` (set by CI after installing the binaries): then it fails.

The services are wired as ``deployment/docker-compose.yml`` wires them: PostgreSQL as
MLflow's backend store (databases made by ``deployment/postgres/init-databases.sh``), an
S3-compatible server (moto's) in place of MinIO for data and MLflow artifacts, the MLflow
server configured by the compose service's own environment, Redis as the online store,
and the API started with the compose ``api`` service's environment (``compose_environment``
reads it from the compose file, so the tests follow it when it changes).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from linear_models import linear_fraud_model
from skip_policy import require, require_executable

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # started with start_new_session: group id == pid


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM to the process group (the service and the workers it forked), SIGKILL after
    ``timeout`` seconds; then sweep whatever of the group outlived its leader."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=10)
    _signal_group(process, signal.SIGKILL)


@contextmanager
def running_service(
    name: str,
    command: list[str],
    workdir: Path,
    ready: Callable[[], bool],
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    stop_timeout: float = 10.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in ``workdir`` until the block ends; wait until ``ready()``.

    Output goes to ``<workdir>/<name>.log``, quoted in the failure message if the service
    dies or never becomes ready. The service runs in its own process group, stopped as a
    whole (``stop_process``), so forked workers never outlive the test.
    """
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"{name} did not start ({' '.join(command)}):\n{output}")
            time.sleep(0.05)
        yield process
    finally:
        stop_process(process, stop_timeout)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away Redis (no persistence); yields ``redis://127.0.0.1:PORT/0``."""
    binary = require_executable("redis-server", "apt-get install redis-server")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    command = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
    ]  # fmt: skip
    with running_service("redis", command, workdir, lambda: port_open(port)):
        yield f"redis://127.0.0.1:{port}/0"


# ---------------------------------------------------------------------------------------
# Shared helpers

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT = REPO / "deployment"
COMPOSE_FILE = DEPLOYMENT / "docker-compose.yml"
# seconds a service may take to start (MLflow's server needs ~1 min on a busy 2-core box)
SERVICE_TIMEOUT = float(os.environ.get("FRAUDOPS_SERVICE_TIMEOUT", "240"))

# What deployment/.env would hold (`make stack-env` writes random ones; these are fixed).
COMPOSE_VARIABLES = {
    "FRAUDOPS_API_KEY": "integration-api-key-0123456789",
    "FRAUDOPS_ADMIN_API_KEY": "integration-admin-key-0123456789",
    "FRAUDOPS_CONSOLE_SECRET": "integration-console-secret-0123456789",
    "MINIO_APP_SECRET_KEY": "integration-minio-secret",
    "MLFLOW_DB_PASSWORD": "integration-mlflow-db-pw",
    "AIRFLOW_DB_PASSWORD": "integration-airflow-db-pw",
    "CASES_DB_PASSWORD": "integration-cases-db-pw",
}


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def log_tail(path: Path, size: int = 3000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else "(no log)"


def base_environment() -> dict[str, str]:
    """This process's environment without anything that could point a service elsewhere
    (no AWS profile, MLflow, PostgreSQL or fraudops setting leaks into a subprocess)."""
    prefixes = ("FRAUDOPS_", "AWS_", "MLFLOW_", "PG", "BOTO")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONUNBUFFERED="1",
    )
    return env


_COMPOSE_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def compose_environment(
    service: str, variables: Mapping[str, str], hosts: Mapping[str, str]
) -> dict[str, str]:
    """A compose service's environment as ``docker compose`` resolves it.

    ``variables`` plays the part of ``deployment/.env`` (``${X:-default}`` falls back to the
    default, ``${X:?message}`` must be given); ``hosts`` maps the compose network's
    ``host:port`` (``minio:9000``, ``redis:6379/0``…) to where the test runs that service.
    """

    def interpolate(match: re.Match[str]) -> str:
        name, op, arg = match.group("name", "op", "arg")
        value = variables.get(name)
        if value:
            return value
        if op == ":?":
            pytest.fail(f"docker-compose.yml requires {name} ({arg}); give it to the test")
        return arg if op == ":-" else ""

    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    environment = compose["services"][service]["environment"]
    resolved = {}
    for name, value in environment.items():
        text = _COMPOSE_VARIABLE.sub(interpolate, str(value)).replace("$$", "$")
        for compose_host, local in hosts.items():
            text = text.replace(compose_host, local)
        resolved[name] = text
    return resolved


def run_cli(
    env: Mapping[str, str], *args: str, cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``fraudops ARGS`` as the deployment runs it; fails the test with its output."""
    fraudops = require_executable("fraudops", "pip install -e .")
    result = subprocess.run(
        [fraudops, *args],
        env={**env, "COLUMNS": "200"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"fraudops {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


@pytest.fixture(scope="session")
def fraudops_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``fraudops_cli(env, *args, cwd=path)``: ``run_cli`` for test modules."""
    return run_cli


# ---------------------------------------------------------------------------------------
# PostgreSQL (MLflow's backend store)


def postgres_bin_dir() -> Path:
    """Debian/Ubuntu keep the server binaries in /usr/lib/postgresql/<major>/bin, off PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
        reverse=True,
    )
    if candidates:
        return candidates[0].parent
    initdb = require(
        shutil.which("initdb"), "PostgreSQL's initdb is not installed (apt-get install postgresql)"
    )
    return Path(initdb).resolve().parent


def as_postgres(command: list[str]) -> list[str]:
    """initdb and the server refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass(frozen=True)
class PostgresServer:
    port: int
    socket_dir: Path
    bin_dir: Path
    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throw-away cluster on a free port; compose's init script creates the databases."""
    bin_dir = postgres_bin_dir()
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            require(None, "no 'postgres' system user to run PostgreSQL as (apt-get install)")
    # not under pytest's tmp folder: that one is private to root, the server runs as postgres
    root = Path(tempfile.mkdtemp(prefix="fraudops-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    server = PostgresServer(port=port, socket_dir=sockets, bin_dir=bin_dir)
    pg_ctl = str(bin_dir / "pg_ctl")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    steps = [
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
         "--auth-local=trust", "--auth-host=scram-sha-256"],
        [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w",
         "-t", "60", "start"],
    ]  # fmt: skip
    try:
        for command in steps:
            result = subprocess.run(
                as_postgres(command), capture_output=True, text=True, timeout=120, check=False
            )
            if result.returncode != 0:
                pytest.fail(
                    f"{Path(command[0]).name} failed: {result.stdout}{result.stderr}\n"
                    f"{log_tail(root / 'server.log')}"
                )
        # the databases and their owners, as the compose stack makes them on first start
        init = subprocess.run(
            ["sh", str(DEPLOYMENT / "postgres" / "init-databases.sh")],
            env={
                **base_environment(),
                "PATH": f"{bin_dir}:{os.environ['PATH']}",
                "PGHOST": str(sockets),
                "PGPORT": str(port),
                "POSTGRES_USER": "postgres",
                "MLFLOW_DB_USER": "mlflow",
                "MLFLOW_DB_PASSWORD": COMPOSE_VARIABLES["MLFLOW_DB_PASSWORD"],
                "AIRFLOW_DB_USER": "airflow",
                "AIRFLOW_DB_PASSWORD": COMPOSE_VARIABLES["AIRFLOW_DB_PASSWORD"],
                "CASES_DB_USER": "cases",
                "CASES_DB_PASSWORD": COMPOSE_VARIABLES["CASES_DB_PASSWORD"],
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if init.returncode != 0:
            pytest.fail(f"init-databases.sh failed: {init.stdout}{init.stderr}")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            stopped = subprocess.run(
                as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )
            if stopped.returncode != 0 and (data / "postmaster.pid").exists():
                pid = int((data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# S3-compatible server (moto's, in place of MinIO)


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    # compose's application user (MINIO_APP_ACCESS_KEY default) and the test's secret
    access_key: str = "fraudops-app"
    secret_key: str = COMPOSE_VARIABLES["MINIO_APP_SECRET_KEY"]
    region: str = "us-east-1"

    @property
    def address(self) -> str:
        return self.endpoint_url.removeprefix("http://")

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def create_bucket(self, name: str) -> str:
        client = self.client()
        with suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def storage_options(self) -> dict[str, Any]:
        """fsspec options for in-process reads: fresh listings, never a cached instance."""
        return {
            "key": self.access_key,
            "secret": self.secret_key,
            "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": self.region},
            "skip_instance_cache": True,
            "use_listings_cache": False,
        }

    def environment(self) -> dict[str, str]:
        """A fraudops subprocess's environment with this server as its S3 (the variables
        compose gives the api for MinIO)."""
        return {
            **base_environment(),
            "FRAUDOPS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server with compose's two buckets (``mlflow`` and ``fraudops``)."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        require(None, "moto's server is not installed (pip install 'moto[server]')")
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    command = [binary] if binary else [sys.executable, "-m", "moto.server"]
    port = free_port()
    workdir = tmp_path_factory.mktemp("s3")
    url = f"http://127.0.0.1:{port}"
    with running_service(
        "moto",
        [*command, "-H", "127.0.0.1", "-p", str(port)],
        workdir,
        lambda: http_ok(f"{url}/moto-api/"),
        timeout=SERVICE_TIMEOUT,
        env=base_environment(),
    ):
        server = S3Server(url)
        for bucket in ("mlflow", "fraudops"):
            server.create_bucket(bucket)
        yield server


# ---------------------------------------------------------------------------------------
# MLflow tracking server + registry (PostgreSQL backend, artifacts proxied to S3)


def sqlalchemy_driver_available(uri: str) -> bool:
    """Whether SQLAlchemy can load the DBAPI driver ``uri``'s scheme names (or implies)."""
    from sqlalchemy.engine import make_url

    try:
        make_url(uri).get_dialect().import_dbapi()
    except ImportError:
        return False
    return True


def installed_backend_uri(uri: str) -> str:
    """``uri`` with a PostgreSQL driver this environment has, when its own is missing."""
    if sqlalchemy_driver_available(uri):
        return uri
    rest = uri.split("://", 1)[1]
    for scheme in ("postgresql+psycopg", "postgresql+psycopg2"):
        if sqlalchemy_driver_available(f"{scheme}://{rest}"):
            return f"{scheme}://{rest}"
    return require(
        None, "no PostgreSQL driver for SQLAlchemy (install psycopg[binary] or psycopg2-binary)"
    )


@dataclass(frozen=True)
class MlflowServer:
    url: str
    backend_store_uri: str
    compose_backend_store_uri: str
    artifacts_destination: str
    log: Path

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)


def mlflow_environment(postgres: PostgresServer, s3: S3Server) -> dict[str, str]:
    """The compose ``mlflow`` service's environment, pointed at the test's services."""
    return compose_environment(
        "mlflow",
        COMPOSE_VARIABLES,
        {"postgres:5432": postgres.address, "minio:9000": s3.address},
    )


@pytest.fixture(scope="session")
def mlflow_server(
    postgres_server: PostgresServer, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    """``mlflow server`` as the image runs it: configured by the compose environment
    (MLFLOW_BACKEND_STORE_URI on PostgreSQL, MLFLOW_ARTIFACTS_DESTINATION on S3)."""
    mlflow = require_executable("mlflow", "pip install mlflow")
    environment = mlflow_environment(postgres_server, s3_server)
    compose_uri = environment["MLFLOW_BACKEND_STORE_URI"]
    # test_stack_path checks compose's URI itself; here any installed driver will do
    environment["MLFLOW_BACKEND_STORE_URI"] = installed_backend_uri(compose_uri)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    workdir = tmp_path_factory.mktemp("mlflow")
    env = {
        **base_environment(),
        **environment,
        # one worker and no job runner: two shared cores
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with running_service(
        "mlflow",
        [*command, "--serve-artifacts"],
        workdir,
        lambda: http_ok(f"{url}/health"),
        timeout=SERVICE_TIMEOUT,
        env=env,
        stop_timeout=15,
    ):
        yield MlflowServer(
            url=url,
            backend_store_uri=environment["MLFLOW_BACKEND_STORE_URI"],
            compose_backend_store_uri=compose_uri,
            artifacts_destination=environment["MLFLOW_ARTIFACTS_DESTINATION"],
            log=workdir / "mlflow.log",
        )


# ---------------------------------------------------------------------------------------
# The API as compose runs it


def redis_address(redis_url: str, db: int) -> str:
    """``host:port/db`` of the test Redis (compose's is ``redis:6379/0``)."""
    host_port = redis_url.removeprefix("redis://").rsplit("/", 1)[0]
    return f"{host_port}/{db}"


@pytest.fixture(scope="session")
def compose_api_env(
    redis_server: str,  # the cheap services first: a missing one skips before MLflow starts
    s3_server: S3Server,
    mlflow_server: MlflowServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., dict[str, str]]:
    """Builds the compose ``api`` service's environment on the test's services.

    ``data_bucket`` (compose's MINIO_DATA_BUCKET) and ``redis_db`` keep tests apart;
    other keyword arguments are compose variables (e.g. ``FRAUDOPS_MODEL_NAME``).
    """

    def build(*, data_bucket: str, redis_db: int, **variables: str) -> dict[str, str]:
        s3_server.create_bucket(data_bucket)
        environment = compose_environment(
            "api",
            {**COMPOSE_VARIABLES, "MINIO_DATA_BUCKET": data_bucket, **variables},
            {
                "minio:9000": s3_server.address,
                "mlflow:5000": mlflow_server.address,
                "redis:6379/0": redis_address(redis_server, redis_db),
            },
        )
        # the image's /var/lib/fraudops
        environment["FRAUDOPS_HOME"] = str(tmp_path_factory.mktemp("fraudops-home"))
        return {**base_environment(), **environment}

    return build


@dataclass
class ApiProcess:
    """``fraudops serve`` in its own process group."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    api_key: str
    admin_key: str
    metrics_port: int  # the compose environment is production: /metrics has its own port

    @property
    def metrics_target(self) -> str:
        """What Prometheus scrapes (``host:port``)."""
        return f"127.0.0.1:{self.metrics_port}"

    def metrics_text(self) -> str:
        response = httpx.get(f"http://{self.metrics_target}/metrics", timeout=10, trust_env=False)
        response.raise_for_status()
        return response.text

    def client(self, admin: bool = False) -> httpx.Client:
        key = self.admin_key if admin else self.api_key
        return httpx.Client(
            base_url=self.url, headers={"X-API-Key": key}, timeout=60, trust_env=False
        )

    def wait_live(self, timeout: float = SERVICE_TIMEOUT) -> None:
        """Wait until ``/health/live`` answers (the server is up, a model or not)."""
        deadline = time.monotonic() + timeout
        while not http_ok(f"{self.url}/health/live"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"fraudops serve did not start:\n{log_tail(self.log)}")
            time.sleep(0.1)

    def wait_ready(self, timeout: float = SERVICE_TIMEOUT) -> dict[str, Any]:
        """Wait until ``/health/ready`` answers 200 (a model loaded from the registry)."""
        deadline = time.monotonic() + timeout
        body = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the API exited ({self.process.returncode}):\n{log_tail(self.log)}")
            try:
                response = httpx.get(f"{self.url}/health/ready", timeout=5, trust_env=False)
            except httpx.HTTPError as exc:
                body = str(exc)
            else:
                if response.status_code == 200:
                    ready: dict[str, Any] = response.json()
                    return ready
                body = response.text
            time.sleep(0.25)
        pytest.fail(f"the API never became ready: {body}\n{log_tail(self.log)}")

    def stop(self) -> None:
        """SIGTERM (graceful: buffered prediction logs are flushed), SIGKILL after 30 s."""
        stop_process(self.process, timeout=30)


@contextmanager
def serving_api(
    env: Mapping[str, str], workdir: Path, port: int | None = None, *args: str, wait: bool = True
) -> Iterator[ApiProcess]:
    """Run ``fraudops serve --host 127.0.0.1 --port P`` (the image's CMD) until the block
    ends; returns once ``/health/live`` answers (at once with ``wait=False``)."""
    fraudops = require_executable("fraudops", "pip install -e .")
    port = port or free_port()
    # every replica its own metrics port (the image's 9464 would clash on one host)
    env = {**env, "FRAUDOPS_METRICS_PORT": env.get("FRAUDOPS_METRICS_PORT") or str(free_port())}
    # SIGTERM drains 20 s by default (for a load balancer); no test here waits on that
    env.setdefault("FRAUDOPS_DRAIN_SECONDS", "1")
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"api-{port}.log"
    command = [fraudops, "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,  # no stray .env file is read from the repository
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api = ApiProcess(
        url=f"http://127.0.0.1:{port}",
        port=port,
        process=process,
        log=log_path,
        api_key=env.get("FRAUDOPS_API_KEY", "dev-api-key"),
        admin_key=env.get("FRAUDOPS_ADMIN_API_KEY", "dev-admin-key"),
        metrics_port=int(env["FRAUDOPS_METRICS_PORT"]),
    )
    try:
        if wait:
            api.wait_live()
        yield api
    finally:
        api.stop()


@pytest.fixture
def api_process(tmp_path: Path) -> Iterator[Callable[..., ApiProcess]]:
    """Factory: ``api_process(env, port=None, *args, wait=True)`` starts ``fraudops serve``
    with ``env``, waits for ``/health/live`` (``wait=False``: call ``wait_live()`` later)
    and stops it (SIGTERM, then SIGKILL) at teardown."""
    with ExitStack() as stack:

        def start(
            env: Mapping[str, str], port: int | None = None, *args: str, wait: bool = True
        ) -> ApiProcess:
            return stack.enter_context(serving_api(env, tmp_path / "api", port, *args, wait=wait))

        yield start


# ---------------------------------------------------------------------------------------
# Prometheus with the shipped configuration and alert rules


@dataclass
class PrometheusServer:
    url: str
    log: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=10, trust_env=False)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query through Prometheus's HTTP API: the result vector."""
        response = self.client.get("/api/v1/query", params={"query": promql})
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(
        self,
        promql: str,
        predicate: Callable[[list[dict[str, Any]]], bool] = bool,
        timeout: float = 30.0,
    ) -> list[dict[str, Any]]:
        """Poll ``promql`` until ``predicate(result)`` holds (scrapes run every second)."""
        deadline = time.monotonic() + timeout
        result = self.query(promql)
        while not predicate(result):
            if time.monotonic() > deadline:
                pytest.fail(f"Prometheus: {promql} never matched; last result {result}")
            time.sleep(0.5)
            result = self.query(promql)
        return result

    def rules(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/rules")
        response.raise_for_status()
        groups: list[dict[str, Any]] = response.json()["data"]["groups"]
        return groups


def prometheus_config(api_targets: list[str], own_address: str) -> dict[str, Any]:
    """deployment/prometheus/prometheus.yml with the compose targets replaced by the test's,
    its alert rules by absolute path, and one-second scrapes and rule evaluations."""
    shipped_dir = DEPLOYMENT / "prometheus"
    config: dict[str, Any] = yaml.safe_load((shipped_dir / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(shipped_dir / name) for name in config.get("rule_files", [])]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "fraudops-api" in jobs, "prometheus.yml no longer scrapes a 'fraudops-api' job"
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            if job["job_name"] == "fraudops-api":
                static["targets"] = list(api_targets)
            elif job["job_name"] == "prometheus":
                static["targets"] = [own_address]
    return config


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return require_executable("prometheus", "apt-get install prometheus")


@contextmanager
def running_prometheus(
    binary: str, api_targets: list[str], workdir: Path
) -> Iterator[PrometheusServer]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"127.0.0.1:{port}"
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(prometheus_config(api_targets, address)))
    command = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address={address}",
    ]
    with running_service(
        "prometheus",
        command,
        workdir,
        lambda: http_ok(f"http://{address}/-/ready"),
        timeout=SERVICE_TIMEOUT,
    ):
        server = PrometheusServer(f"http://{address}", workdir / "prometheus.log")
        try:
            yield server
        finally:
            server.client.close()


@pytest.fixture
def start_prometheus(
    prometheus_binary: str, tmp_path: Path
) -> Iterator[Callable[[list[str]], PrometheusServer]]:
    """Factory: ``start_prometheus(["127.0.0.1:PORT"])`` scrapes those APIs as the stack's
    Prometheus does (its own config and alert rules); stopped at teardown."""
    with ExitStack() as stack:

        def start(api_targets: list[str]) -> PrometheusServer:
            workdir = Path(tempfile.mkdtemp(prefix="prometheus-", dir=tmp_path))
            return stack.enter_context(running_prometheus(prometheus_binary, api_targets, workdir))

        yield start


# ---------------------------------------------------------------------------------------
# A registered champion that needs no training


LINEAR_MODEL_NAME = "fraud-detector-linear"


@pytest.fixture(scope="session")
def linear_champion(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Registers ``linear_fraud_model`` (with a scored reference sample, which monitoring
    needs) as version 1 and champion of ``fraud-detector-linear`` on the MLflow server,
    through the same client calls training uses; returns the model name."""
    import polars as pl

    from fraudops.data.generate import SimulationConfig, generate
    from fraudops.features.offline import build_offline_features
    from fraudops.models.bundle import save_bundle
    from fraudops.models.registry import Registry
    from fraudops.pipelines.tracking import REFERENCE_FILE

    model = linear_fraud_model()
    history = build_offline_features(generate(SimulationConfig(customers=150, days=8, seed=21)))
    sample = history.tail(1500)
    x = sample.select(model.feature_names).cast(pl.Float64).to_numpy()
    folder = tmp_path_factory.mktemp("linear-bundle")
    sample.select("timestamp", *model.feature_names).with_columns(
        pl.Series("fraud_probability", model.predict_proba(x))
    ).write_parquet(folder / REFERENCE_FILE)
    digest = save_bundle(model, folder)

    client = mlflow_server.client()
    artifact_root = compose_environment("api", COMPOSE_VARIABLES, {})[
        "FRAUDOPS_MLFLOW_ARTIFACT_URI"
    ]
    experiment = client.get_experiment_by_name("fraudops-linear")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment("fraudops-linear", artifact_location=artifact_root)
    )
    run = client.create_run(experiment_id, run_name="linear-champion")
    client.log_artifacts(run.info.run_id, str(folder), "bundle")
    client.set_terminated(run.info.run_id)
    registry = Registry(mlflow_server.url, mlflow_server.url, LINEAR_MODEL_NAME)
    version = registry.register(run.info.run_id, digest, {"algorithm": "lr"})
    registry.set_champion(version, "integration fixture")
    return LINEAR_MODEL_NAME


@dataclass(frozen=True)
class Replicas:
    """Two API processes behind one environment (what a load balancer spreads over)."""

    env: dict[str, str]
    apis: tuple[ApiProcess, ApiProcess]


@pytest.fixture(scope="session")
def linear_replicas(
    compose_api_env: Callable[..., dict[str, str]],
    linear_champion: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Replicas]:
    """Two ``fraudops serve`` processes with the compose ``api`` environment, serving the
    linear champion; one Redis database, one data bucket. Tests keep apart through their
    own card, terminal and transaction ids (and time ranges)."""
    env = compose_api_env(
        data_bucket="fraudops-replicas",
        redis_db=1,
        FRAUDOPS_MODEL_NAME=linear_champion,
        FRAUDOPS_MLFLOW_EXPERIMENT="fraudops-replicas",
        # registry polls every 2 s instead of 30 s: the tests do not wait for a poll
        FRAUDOPS_RELOAD_INTERVAL_SECONDS="2",
    )
    workdir = tmp_path_factory.mktemp("replicas")
    with (
        serving_api(env, workdir, wait=False) as first,
        serving_api(env, workdir, wait=False) as second,
    ):
        for api in (first, second):  # both boot at once
            api.wait_live()
            assert api.wait_ready()["model_version"] == 1
        yield Replicas(env, (first, second))


@pytest.fixture(scope="session")
def replicas_prometheus(
    prometheus_binary: str, linear_replicas: Replicas, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """Prometheus scraping both linear replicas with the shipped config and alert rules."""
    targets = [api.metrics_target for api in linear_replicas.apis]
    workdir = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(prometheus_binary, targets, workdir) as server:
        yield server
