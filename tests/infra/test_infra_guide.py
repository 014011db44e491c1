"""deployment/DEPLOYMENT_GUIDE.md against the files it describes: sections, Terraform
variables and outputs, make targets, paths, GitHub settings, resource names and costs."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from infra_support import (
    GUIDE,
    PROFILES,
    REPO_ROOT,
    TerraformDirectory,
    load_module,
    load_workflow,
    make_targets,
    profile_sections,
    unquote,
)

# Identifiers in backticks that are neither variables nor outputs, on purpose.
# names of Terraform settings and resource types the guide mentions
OTHER_IDENTIFIERS = {
    "aws_wafv2_web_acl_association",
    "max_connections",
    "random_password",
    "use_lockfile",
}


def api_identifiers() -> set[str]:
    """Names the guide may quote from the API: its Prometheus metrics (as exported, counters
    with ``_total``) and the fields of a prediction."""
    from fraudops.serving.metrics import ServiceMetrics
    from fraudops.serving.schemas import PredictionOut

    names = {
        sample.name for family in ServiceMetrics().registry.collect() for sample in family.samples
    }
    return names | set(PredictionOut.model_fields)


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def prose(guide: str) -> str:
    """The guide without its generated reference tables."""
    return guide[: guide.index("<!-- BEGIN variables")]


@pytest.fixture(scope="module")
def renderer() -> ModuleType:
    return load_module(REPO_ROOT / "deployment" / "aws" / "tools" / "render_reference.py")


def test_sections(guide: str) -> None:
    headings = set(re.findall(r"^#{2,3} (.+)$", guide, re.MULTILINE))
    for heading in (
        "Prerequisites",
        "Local setup",
        "AWS account setup",
        "IAM and the CLI",
        "State bucket",
        "Certificate",
        "Terraform step by step",
        "Building and pushing images",
        "GitHub Actions: secrets, variables and branch protection",
        "Branch protection",
        "Verification",
        "Monitoring and operations",
        "Troubleshooting",
        "A service won't start",
        "Latency",
        "Database connections",
        "Terraform state problems",
        "Cost and how to lower it",
        "Rollback",
        "Application (ECS)",
        "Infrastructure (Terraform)",
        "Database restore",
        "Teardown",
        "Variables",
        "Outputs",
    ):
        assert heading in headings, f"missing section: {heading}"


def test_reference_tables_are_current(guide: str, renderer: ModuleType) -> None:
    for name, table in renderer.rendered().items():
        match = renderer.section_pattern(name).search(guide)
        assert match, f"no generated {name} block"
        assert match.group(2).strip() == table, (
            f"the {name} table is stale: run "
            "`.venv/bin/python deployment/aws/tools/render_reference.py --write`"
        )


def test_outputs_used_exist(prose: str, root_module: TerraformDirectory) -> None:
    used = set(re.findall(r"terraform(?: -chdir=\S+)? output (?:-raw |-json )?([a-z_0-9]+)", prose))
    assert used, "the guide reads no output"
    assert used <= set(root_module.outputs), sorted(used - set(root_module.outputs))


def test_variables_used_exist(prose: str, root_module: TerraformDirectory) -> None:
    variables = set(root_module.variables)
    set_on_command_line = set(re.findall(r"-var '?([a-z_0-9]+)=", prose))
    set_on_command_line |= set(re.findall(r"TF_VAR_([a-z_0-9]+)", prose))
    assert set_on_command_line <= variables, sorted(set_on_command_line - variables)
    mentioned = set(re.findall(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`", prose))
    mentioned |= set(re.findall(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+) = ", prose))
    unknown = mentioned - variables - set(root_module.outputs) - OTHER_IDENTIFIERS
    unknown -= api_identifiers()
    assert not unknown, f"identifiers that are no variable or output: {sorted(unknown)}"


def test_targets_and_replacements_exist(prose: str, root_module: TerraformDirectory) -> None:
    resources = {
        f"{unquote(kind)}.{unquote(name)}"
        for document in root_module.documents.values()
        for entry in document.get("resource", [])
        for kind, named in entry.items()
        for name in named
    }
    for address in re.findall(r"-(?:target|replace)=([\w.\[\]\"-]+)", prose):
        if address.startswith("module."):
            assert address.split(".")[1] in root_module.module_calls, address
        else:
            assert address in resources, f"{address} is not a resource of the root module"


def test_make_targets_exist(prose: str) -> None:
    available = make_targets()
    used = set(re.findall(r"`make ([a-z][\w-]*)", prose))
    used |= set(re.findall(r"^make ([a-z][\w-]*)", prose, re.MULTILINE))
    assert used, "the guide names no make target"
    assert used <= available, sorted(used - available)


def test_paths_exist(prose: str) -> None:
    pattern = (
        r"(?<![\w/.-])((?:src|tests|dags|deployment|benchmarks|docs|\.github|\.ci)/[\w./-]*\w)"
    )
    for path in set(re.findall(pattern, prose)):
        assert (REPO_ROOT / path).exists(), f"{path} does not exist"


def test_github_settings_are_documented(prose: str) -> None:
    for name in ("ci.yml", "cd.yml"):
        text = (REPO_ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8")
        for kind, setting in re.findall(r"\b(secrets|vars)\.([A-Z][A-Z0-9_]+)", text):
            assert f"`{setting}`" in prose, f"{kind}.{setting} ({name}) is not documented"


def test_required_checks_match_ci_job_names(prose: str) -> None:
    ci = load_workflow("ci.yml")
    for job in ci["jobs"].values():
        name = job["name"]
        matrix = job.get("strategy", {}).get("matrix", {})
        expression = re.search(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", name)
        names = (
            [name.replace(expression.group(0), str(value)) for value in matrix[expression.group(1)]]
            if expression
            else [name]
        )
        for check in names:
            assert f"`{check}`" in prose, f"required check {check!r} is not listed"


def test_costs_match_the_profiles(prose: str) -> None:
    sections = profile_sections()
    for profile in PROFILES:
        cost = re.search(r"About (\$[\d,]+/month)", sections[profile])
        assert cost, profile
        assert re.search(rf"^\| {profile} \| {re.escape(cost.group(1))} \|", prose, re.MULTILINE), (
            f"{profile}: the guide's cost table does not say {cost.group(1)}"
        )


def test_resource_names_follow_the_terraform(prose: str, root_module: TerraformDirectory) -> None:
    locals_ = root_module.locals()
    services = {unquote(key) for key in locals_["service_keys"]}
    secrets = {unquote(key) for key in locals_["secret_descriptions"]}
    environments = "|".join(PROFILES)
    not_services = {"final", "old", "restored"}  # snapshot and database restore names
    for name in re.findall(rf"\bfraudops-(?:{environments})-([a-z][a-z-]*[a-z])\b", prose):
        assert name in services | not_services, f"fraudops-<env>-{name} is no ECS service"
    for name in re.findall(rf"/ecs/fraudops-(?:{environments})/([a-z-]+)", prose):
        assert name in services | {"db-init"}, f"/ecs/fraudops-<env>/{name} is no log group"
    for name in re.findall(rf"--secret-id fraudops-(?:{environments})/([a-z-]+)", prose):
        assert name in secrets, f"secret {name} does not exist"


def test_smoke_command_is_documented(prose: str) -> None:
    assert "fraudops smoke --url" in prose
