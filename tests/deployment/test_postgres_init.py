"""deployment/postgres/init-databases.sh on a real, throwaway PostgreSQL server.

The compose stack runs this script once in the postgres container; here it runs against
a cluster started from the local binaries (skipped without them, failed under CI).
Also probes that server and a real Redis with stack_check's PostgreSQL and Redis checks.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from skip_policy import require_executable

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deployment" / "postgres" / "init-databases.sh"
# Quotes and a backslash: the script must pass passwords to SQL safely.
PASSWORDS = {
    "MLFLOW_DB_PASSWORD": "mlf'low\"pw\\1",
    "AIRFLOW_DB_PASSWORD": "air-flow_pw",
    "CASES_DB_PASSWORD": "cases-pw-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_postgres(command: list[str]) -> list[str]:
    """initdb refuses root: run the server as the postgres system user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    hint = "apt-get install postgresql"
    # Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<major>/bin.
    server_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    initdb, pg_ctl, psql = (
        require_executable(name, hint, also_in=server_dirs) for name in ("initdb", "pg_ctl", "psql")
    )
    # Not under pytest's tmp folder: that one is private to root, the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="fraudops-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = str(free_port())
    initdb_command = [
        initdb, "-D", str(data), "-U", "postgres", "-E", "UTF8",
        "--auth-local=trust", "--auth-host=scram-sha-256",
    ]  # fmt: skip
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
    try:
        for command in (initdb_command, start):
            result = subprocess.run(
                as_postgres(command), capture_output=True, text=True, timeout=120, check=False
            )
            assert result.returncode == 0, f"{command[0]} failed: {result.stdout}{result.stderr}"
        yield {"PGHOST": str(sockets), "PGPORT": port, "PSQL": psql}
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def sql(postgres: dict[str, str], query: str, database: str = "postgres") -> str:
    result = subprocess.run(
        [postgres["PSQL"], "-U", "postgres", "-d", database, "-tAc", query],
        env={**os.environ, "PGHOST": postgres["PGHOST"], "PGPORT": postgres["PGPORT"]},
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def run_script(postgres: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{Path(postgres['PSQL']).parent}:{os.environ['PATH']}",
        "PGHOST": postgres["PGHOST"],
        "PGPORT": postgres["PGPORT"],
        "POSTGRES_USER": "postgres",
        "MLFLOW_DB_USER": "mlflow_owner",
        "AIRFLOW_DB_USER": "airflow_owner",
        "CASES_DB_USER": "cases_owner",
        **PASSWORDS,
        **extra,
    }
    return subprocess.run(
        ["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_script_creates_each_database_with_its_owner(postgres: dict[str, str]) -> None:
    result = run_script(postgres)
    assert result.returncode == 0, result.stderr
    owners = sql(
        postgres,
        "SELECT datname || '=' || pg_get_userbyid(datdba) FROM pg_database "
        "WHERE datname IN ('mlflow', 'airflow', 'cases') ORDER BY datname",
    )
    assert owners.splitlines() == [
        "airflow=airflow_owner",
        "cases=cases_owner",
        "mlflow=mlflow_owner",
    ]
    logins = sql(
        postgres,
        "SELECT count(*) FROM pg_authid WHERE rolcanlogin AND rolpassword IS NOT NULL "
        "AND NOT rolsuper AND rolname IN ('mlflow_owner', 'airflow_owner', 'cases_owner')",
    )
    assert logins == "3"


def test_the_api_migrates_its_case_store_in_the_cases_database(postgres: dict[str, str]) -> None:
    """What the API does with the stack's FRAUDOPS_CASES_URL: open the case store as the
    cases owner over TCP, which creates its schema (Alembic), then open and use a case."""
    from cases_support import T0, new_case
    from fraudops.cases.store import open_store

    # the databases exist: the test above ran the script on this module's server
    password = PASSWORDS["CASES_DB_PASSWORD"]
    url = f"postgresql+psycopg2://cases_owner:{password}@127.0.0.1:{postgres['PGPORT']}/cases"
    store = open_store(url)
    try:
        assert store.create_cases([new_case(1)], T0) == 1
        assert [g.card_id for g in store.queue()] == ["card-1"]
    finally:
        store.close()
    tables = sql(
        postgres,
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
        "WHERE tableowner = 'cases_owner'",
        database="cases",
    )
    assert {"alembic_version", "case_events", "cases"} <= set(tables.split(","))


def test_owners_log_in_over_tcp_with_their_password(postgres: dict[str, str]) -> None:
    """What MLflow and Airflow do: a password login (SCRAM) over TCP, quotes included."""

    def login(user: str, database: str, password: str) -> int:
        return subprocess.run(
            [postgres["PSQL"], "-h", "127.0.0.1", "-p", postgres["PGPORT"], "-U", user,
             "-d", database, "-w", "-tAc", "SELECT current_user"],
            env={**os.environ, "PGPASSWORD": password},
            capture_output=True, text=True, timeout=30, check=False,
        ).returncode  # fmt: skip

    assert login("mlflow_owner", "mlflow", PASSWORDS["MLFLOW_DB_PASSWORD"]) == 0
    assert login("airflow_owner", "airflow", PASSWORDS["AIRFLOW_DB_PASSWORD"]) == 0
    assert login("cases_owner", "cases", PASSWORDS["CASES_DB_PASSWORD"]) == 0
    assert login("mlflow_owner", "mlflow", "wrong") != 0


def test_script_refuses_missing_passwords(postgres: dict[str, str]) -> None:
    result = run_script(postgres, AIRFLOW_DB_PASSWORD="")
    assert result.returncode != 0
    assert "AIRFLOW_DB_PASSWORD" in result.stderr


def test_stack_check_recognises_postgres(postgres: dict[str, str], stack_check: ModuleType) -> None:
    (result,) = stack_check.postgres_probe("127.0.0.1", int(postgres["PGPORT"]), 2.0).run()
    assert result.status == "ok", result.detail


def test_stack_check_recognises_redis(
    tool: Callable[[str, str], str], stack_check: ModuleType, tmp_path: Path
) -> None:
    redis_server = tool("redis-server", "apt-get install redis-server")
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            (result,) = stack_check.redis_probe("127.0.0.1", port, 1.0).run()
            if result.status == "ok" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert result.status == "ok", result.detail
        assert result.detail == "PONG"
    finally:
        process.terminate()
        process.wait(timeout=10)
