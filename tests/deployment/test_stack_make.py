"""deployment/stack.mk: the make targets of the stack, dry-run (`make -n`)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE = "docker compose -f deployment/docker-compose.yml --env-file"


@pytest.fixture(scope="module")
def make(tool: Callable[[str, str], str]) -> Callable[..., str]:
    binary = tool("make", "apt-get install make")

    def dry_run(target: str, *variables: str, makefile: str = "deployment/stack.mk") -> str:
        result = subprocess.run(
            [binary, "--no-print-directory", "-n", "-f", makefile, target, *variables],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    return dry_run


@pytest.fixture
def env_file(tmp_path: Path) -> str:
    path = tmp_path / "stack.env"
    path.write_text("# exists, so make does not generate it\n")
    return f"STACK_ENV_FILE={path}"


def test_stack_up_builds_waits_and_checks(make: Callable[..., str], env_file: str) -> None:
    out = make("stack-up", env_file)
    assert f"{COMPOSE} " in out
    assert "up --detach --build --wait" in out
    assert "deployment/stack_check.py" in out


def test_missing_env_file_is_generated_first(make: Callable[..., str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.env"
    out = make("stack-up", f"STACK_ENV_FILE={missing}").splitlines()
    assert out[0] == f"python3 deployment/stack_env.py --output {missing}"
    assert "up --detach" in out[1]


def test_stack_down_keeps_volumes_unless_asked(make: Callable[..., str], env_file: str) -> None:
    assert make("stack-down", env_file).strip().endswith("down --remove-orphans")
    assert make("stack-down", env_file, "STACK_DOWN_FLAGS=-v").strip().endswith("-v")


def test_familiar_names_are_aliases(make: Callable[..., str], env_file: str) -> None:
    for alias, target in (
        ("docker-up", "stack-up"),
        ("docker-down", "stack-down"),
        ("health-check", "stack-check"),
    ):
        assert make(alias, env_file) == make(target, env_file)


def test_stack_check_runs_the_stdlib_script(make: Callable[..., str], env_file: str) -> None:
    out = make("stack-check", env_file, "STACK_CHECK_FLAGS=--strict")
    assert out.startswith("python3 deployment/stack_check.py --env-file ")
    assert out.strip().endswith("--strict")


def test_stack_lint_runs_every_static_check(make: Callable[..., str]) -> None:
    out = make("stack-lint")
    assert "check-jsonschema --schemafile deployment/schemas/compose-spec.json" in out
    for dockerfile in ("api", "mlflow", "airflow"):
        assert f"deployment/docker/{dockerfile}.Dockerfile" in out
    assert "promtool check config" in out
    assert "promtool test rules" in out


def test_top_level_makefile_includes_the_stack_targets(make: Callable[..., str]) -> None:
    assert (REPO / "Makefile").exists()
    for target in (
        "stack-up",
        "stack-down",
        "stack-check",
        "docker-up",
        "docker-down",
        "health-check",
    ):
        assert "deployment/" in make(target, makefile="Makefile")


def test_stack_e2e_run_passes_the_stack_compose_command(
    make: Callable[..., str], env_file: str
) -> None:
    out = make("stack-e2e-run", env_file, "STACK_E2E_FLAGS=--days 35")
    assert out.startswith("python3 deployment/stack_e2e.py --env-file ")
    assert f'--compose "{COMPOSE} ' in out
    assert out.strip().endswith("--days 35")


def test_stack_build_and_logs_dump(make: Callable[..., str], env_file: str) -> None:
    assert make("stack-build", env_file).strip().endswith(" build")
    dump = make("stack-logs-dump", env_file, "STACK_LOG_DIR=/tmp/logs")
    assert "mkdir -p /tmp/logs" in dump
    assert "logs --no-color --timestamps > /tmp/logs/compose.log" in dump


def test_stack_e2e_always_tears_down(make: Callable[..., str], env_file: str) -> None:
    recipe = (REPO / "deployment" / "stack.mk").read_text()
    body = recipe[recipe.index("stack-e2e: ") :]
    assert "stack-build stack-up stack-check stack-e2e-run || status=$$?" in body
    assert body.index("stack-logs-dump") < body.index("stack-down STACK_DOWN_FLAGS=-v")
    assert "exit $$status" in body
