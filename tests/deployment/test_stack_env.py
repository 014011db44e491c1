"""deployment/stack_env.py (make stack-env): deployment/.env with generated secrets."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import SecretStr

from fraudops.config import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deployment" / ".env.example"


def test_every_empty_secret_is_generated(stack_env: ModuleType) -> None:
    example = stack_env.parse_env(EXAMPLE.read_text())
    rendered = stack_env.parse_env(stack_env.render_env(EXAMPLE.read_text()))
    assert rendered.keys() == example.keys()
    secrets = [name for name in example if stack_env.is_secret(name)]
    assert {"POSTGRES_PASSWORD", "FRAUDOPS_API_KEY", "AIRFLOW_FERNET_KEY"} <= set(secrets)
    for name, value in rendered.items():
        if name in secrets:
            assert len(value) >= 32, name
            assert re.fullmatch(r"[A-Za-z0-9_=-]+", value), f"{name} is not URL-safe"
        elif name == "AIRFLOW_PARALLELISM":  # a task slot per core of this host
            assert value == str(os.cpu_count() or 2)
        else:
            assert value == example[name], f"{name} changed"
    assert len({rendered[name] for name in secrets}) == len(secrets), "secrets are reused"


def test_fernet_key_has_the_fernet_format(stack_env: ModuleType) -> None:
    rendered = stack_env.parse_env(stack_env.render_env(EXAMPLE.read_text()))
    assert len(base64.urlsafe_b64decode(rendered["AIRFLOW_FERNET_KEY"])) == 32


def test_generated_api_keys_pass_the_production_check(stack_env: ModuleType) -> None:
    rendered = stack_env.parse_env(stack_env.render_env(EXAMPLE.read_text()))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        api_key=SecretStr(rendered["FRAUDOPS_API_KEY"]),
        admin_api_key=SecretStr(rendered["FRAUDOPS_ADMIN_API_KEY"]),
        console_secret=SecretStr(rendered["FRAUDOPS_CONSOLE_SECRET"]),
    )
    assert settings.env == "production"


def test_example_values_are_refused_in_production(stack_env: ModuleType) -> None:
    """The empty placeholders cannot reach production: Settings refuses them."""
    example = stack_env.parse_env(EXAMPLE.read_text())
    with pytest.raises(ValueError, match="FRAUDOPS_API_KEY"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="production",
            api_key=SecretStr(example["FRAUDOPS_API_KEY"]),
            admin_api_key=SecretStr(example["FRAUDOPS_ADMIN_API_KEY"]),
        )


def test_comments_are_kept(stack_env: ModuleType) -> None:
    rendered = stack_env.render_env(EXAMPLE.read_text())
    comments = [line for line in EXAMPLE.read_text().splitlines() if line.startswith("#")]
    assert [line for line in rendered.splitlines() if line.startswith("#")] == comments


def test_main_writes_a_private_file_once(
    stack_env: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / ".env"
    assert stack_env.main(["--example", str(EXAMPLE), "--output", str(output)]) == 0
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    first = output.read_text()
    assert stack_env.main(["--example", str(EXAMPLE), "--output", str(output)]) == 0
    assert output.read_text() == first, "an existing .env must never be overwritten"
    assert "kept as it is" in capsys.readouterr().out
    assert stack_env.main(["--example", str(EXAMPLE), "--output", str(output), "--force"]) == 0
    assert output.read_text() != first


def test_check_reports_missing_or_empty_secrets(stack_env: ModuleType, tmp_path: Path) -> None:
    output = tmp_path / ".env"
    assert stack_env.main(["--output", str(output), "--check"]) == 1
    output.write_text(EXAMPLE.read_text())
    assert stack_env.main(["--output", str(output), "--check"]) == 1
    stack_env.main(["--example", str(EXAMPLE), "--output", str(output), "--force"])
    assert stack_env.main(["--output", str(output), "--check"]) == 0
