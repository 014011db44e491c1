"""The GitHub workflows: valid against the workflow schema, least privilege, and every
command, file, image and service they name exists in the repository and the Terraform."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
from infra_support import (
    REPO_ROOT,
    WORKFLOWS_DIR,
    TerraformDirectory,
    load_workflow,
    make_targets,
    unquote,
    venv_tool,
    workflow_steps,
)

from skip_policy import require

WORKFLOWS = ("ci.yml", "cd.yml")
DOCKERFILES = sorted(p.name for p in (REPO_ROOT / "deployment" / "docker").glob("*.Dockerfile"))


@pytest.fixture(scope="module", params=WORKFLOWS)
def workflow(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, load_workflow(request.param)


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return load_workflow("ci.yml")


@pytest.fixture(scope="module")
def cd() -> dict[str, Any]:
    return load_workflow("cd.yml")


def _all_text(document: Any) -> list[str]:
    """Every string in a workflow (commands, inputs, names)."""
    if isinstance(document, str):
        return [document]
    if isinstance(document, dict):
        return [text for value in document.values() for text in _all_text(value)]
    if isinstance(document, list):
        return [text for value in document for text in _all_text(value)]
    return []


def _matrix_values(job: dict[str, Any], key: str) -> list[str]:
    matrix = job.get("strategy", {}).get("matrix", {})
    if key in matrix:
        return list(matrix[key])
    return [entry[key] for entry in matrix.get("include", []) if key in entry]


# ---- Schema and structure ---------------------------------------------------------


def test_workflows_match_the_github_schema() -> None:
    tool = require(
        venv_tool("check-jsonschema"),
        "check-jsonschema not found (it is a dev dependency: make install)",
    )
    result = subprocess.run(
        [
            str(tool),
            "--builtin-schema",
            "vendor.github-workflows",
            *(str(WORKFLOWS_DIR / name) for name in WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_triggers(ci: dict[str, Any], cd: dict[str, Any]) -> None:
    assert {"push", "pull_request"} <= set(ci["on"])
    # CD follows a completed CI run of main, never a push of its own.
    assert "push" not in cd["on"]
    assert "pull_request" not in cd["on"]
    run = cd["on"]["workflow_run"]
    assert run["workflows"] == [ci["name"]]
    assert run["types"] == ["completed"]
    assert run["branches"] == ["main"]


def test_cd_runs_only_after_ci_passed_for_the_same_commit(cd: dict[str, Any]) -> None:
    gate = cd["jobs"]["gate"]
    condition = " ".join(gate["if"].split())
    assert "github.event.workflow_run.conclusion == 'success'" in condition
    assert "github.event.workflow_run.event == 'push'" in condition
    text = _job_text(gate)
    assert "actions/workflows/ci.yml/runs?head_sha=${DEPLOY_SHA}&status=success" in text
    assert cd["env"]["DEPLOY_SHA"] == "${{ github.event.workflow_run.head_sha || github.sha }}"
    # Every job builds, deploys or tags that commit: all depend on the gate.
    for job_id, job in cd["jobs"].items():
        if job_id == "gate":
            continue
        assert job_id in _reachable_from_gate(cd), f"{job_id} does not wait for the gate"
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["ref"] == "${{ needs.gate.outputs.sha }}", job_id


def _needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def _reachable_from_gate(workflow: dict[str, Any]) -> set[str]:
    jobs = workflow["jobs"]
    reached = {"gate"}
    changed = True
    while changed:
        changed = False
        for job_id, job in jobs.items():
            if job_id not in reached and set(_needs(job)) & reached:
                reached.add(job_id)
                changed = True
    return reached


def test_least_privilege_permissions(workflow: tuple[str, dict[str, Any]]) -> None:
    name, document = workflow
    assert document["permissions"] == {"contents": "read"}, f"{name}: top-level permissions"
    allowed_writes = {"security-events", "id-token", "contents"}
    for job_id, job in document["jobs"].items():
        permissions = job.get("permissions", {})
        assert permissions != "write-all", f"{name}:{job_id}"
        writes = {scope for scope, level in permissions.items() if level == "write"}
        assert writes <= allowed_writes, f"{name}:{job_id} writes {writes - allowed_writes}"
        if "contents" in writes:
            assert job_id == "release", f"{name}:{job_id}: only the release job pushes a tag"


def test_concurrency(ci: dict[str, Any], cd: dict[str, Any]) -> None:
    assert ci["concurrency"]["cancel-in-progress"] is True
    # A deployment is never cancelled half-way by a newer one, and one CD run at a time.
    assert cd["concurrency"]["cancel-in-progress"] is False
    assert "${{" not in cd["concurrency"]["group"]
    # The production API is changed by one job at a time (deploy or rollback).
    for job_id in ("deploy-production-api", "rollback-production-api"):
        assert cd["jobs"][job_id]["concurrency"] == {
            "group": "production-api",
            "cancel-in-progress": False,
        }


def test_actions_are_pinned(workflow: tuple[str, dict[str, Any]]) -> None:
    name, document = workflow
    for job_id, step in workflow_steps(document):
        uses = step.get("uses")
        if uses is None:
            continue
        action, _, ref = uses.partition("@")
        assert ref, f"{name}:{job_id}: {action} has no version"
        assert ref not in {"main", "master", "latest", "HEAD"}, f"{name}:{job_id}: {uses}"
        assert re.fullmatch(r"v?\d+(\.\d+)*|[0-9a-f]{40}", ref), f"{name}:{job_id}: {uses}"


def test_no_credentials_in_workflows(workflow: tuple[str, dict[str, Any]]) -> None:
    name, document = workflow
    text = (WORKFLOWS_DIR / name).read_text(encoding="utf-8")
    assert not re.search(r"AKIA[0-9A-Z]{16}", text)
    assert "aws-access-key-id" not in text
    assert "aws-secret-access-key" not in text
    for job_id, step in workflow_steps(document):
        if "configure-aws-credentials" in step.get("uses", ""):
            assert step["with"]["role-to-assume"].startswith("${{ secrets."), f"{name}:{job_id}"


EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def _expressions(document: Any) -> list[str]:
    return [match for text in _all_text(document) for match in EXPRESSION.findall(text)]


def test_expression_references_resolve(workflow: tuple[str, dict[str, Any]]) -> None:
    """What actionlint checks of references: `needs` names jobs, `needs.<job>.outputs.<x>`
    is a declared output of a job the job needs, `steps.<id>` is an earlier step of the
    same job, and `matrix.<key>` is a key of the job's matrix."""
    name, document = workflow
    jobs = document["jobs"]
    for job_id, job in jobs.items():
        needs = _needs(job)
        assert set(needs) <= set(jobs), f"{name}:{job_id} needs unknown jobs"
        for expression in _expressions(job):
            for needed, kind, key in re.findall(r"\bneeds\.([\w-]+)\.(\w+)\.?([\w-]*)", expression):
                assert needed in needs, f"{name}:{job_id} reads needs.{needed} without needing it"
                if kind == "outputs":
                    assert key in jobs[needed].get("outputs", {}), (
                        f"{name}:{job_id}: {needed} has no output {key}"
                    )
            for key in re.findall(r"\bmatrix\.(\w+)", expression):
                assert _matrix_values(job, key), f"{name}:{job_id}: no matrix key {key}"
        step_ids: list[str] = []
        for step in job.get("steps", []):
            for expression in _expressions(step):
                for step_id in re.findall(r"\bsteps\.([\w-]+)\.", expression):
                    assert step_id in step_ids, f"{name}:{job_id}: steps.{step_id} is not earlier"
            if "id" in step:
                step_ids.append(step["id"])
        for output in job.get("outputs", {}).values():
            for step_id in re.findall(r"\bsteps\.([\w-]+)\.", output):
                assert step_id in step_ids, f"{name}:{job_id}: output reads unknown step {step_id}"


# ---- CI content ----------------------------------------------------------------------


def _job_text(job: dict[str, Any]) -> str:
    return "\n".join(_all_text(job))


def test_ci_jobs(ci: dict[str, Any]) -> None:
    jobs = ci["jobs"]
    lint = _job_text(jobs["lint"])
    assert "make lint" in lint
    security = _job_text(jobs["security"])
    assert "bandit" in security
    assert "pip-audit" in security
    unit = _job_text(jobs["unit"])
    assert "--cov=fraudops" in unit
    assert "--cov-fail-under=80" in unit
    # The integration fixtures start their own servers from the binaries the job installs:
    # no service containers, and no URL of one that no test reads.
    assert "services" not in jobs["integration"]
    assert not any("FRAUDOPS_TEST_" in text for text in _all_text(jobs["integration"]))
    integration = _job_text(jobs["integration"])
    assert "apt-get install" in integration
    for binary in ("postgresql", "redis-server", "prometheus"):
        assert binary in integration
    assert "pytest tests/integration" in integration
    assert "pytest tests/airflow" in _job_text(jobs["airflow"])
    infra = _job_text(jobs["infrastructure"])
    assert "make tools" in infra
    assert "tests/infra" in infra


def test_ci_runs_the_compose_stack_end_to_end(ci: dict[str, Any]) -> None:
    steps = ci["jobs"]["stack"]["steps"]
    runs = [step.get("run", "") for step in steps]
    order = ["make stack-build", "make stack-up", "make stack-check", "make stack-e2e-run"]
    positions = [next(i for i, run in enumerate(runs) if run.startswith(cmd)) for cmd in order]
    assert positions == sorted(positions)
    dump = next(step for step in steps if step.get("run") == "make stack-logs-dump")
    assert dump["if"] == "failure()"
    upload = next(step for step in steps if "upload-artifact" in step.get("uses", ""))
    assert upload["if"] == "failure()"
    assert upload["with"]["path"] == "stack-logs/"
    teardown = steps[-1]
    assert teardown["if"] == "always()"
    assert teardown["run"].startswith("make stack-down")
    # The same steps as `make stack-e2e`, which anyone with Docker runs locally.
    stack_mk = (REPO_ROOT / "deployment" / "stack.mk").read_text(encoding="utf-8")
    assert "stack-build stack-up stack-check stack-e2e-run" in stack_mk


def test_ci_builds_and_scans_every_image(ci: dict[str, Any]) -> None:
    job = ci["jobs"]["images"]
    images = _matrix_values(job, "image")
    assert sorted(f"{image}.Dockerfile" for image in images) == DOCKERFILES
    text = _job_text(job)
    assert "docker/setup-buildx-action" in text
    assert "type=gha" in text  # BuildKit layer cache
    assert "aquasecurity/trivy-action" in text
    assert "format: sarif" in (WORKFLOWS_DIR / "ci.yml").read_text(encoding="utf-8")
    assert "github/codeql-action/upload-sarif" in text
    assert job["permissions"]["security-events"] == "write"


# ---- Commands and files the workflows use ---------------------------------------------


def test_make_targets_exist(workflow: tuple[str, dict[str, Any]]) -> None:
    name, document = workflow
    available = make_targets()
    for job_id, step in workflow_steps(document):
        for target in re.findall(r"(?:^|[;&|]\s*|\n\s*)make\s+([a-z][\w-]*)", step.get("run", "")):
            assert target in available, f"{name}:{job_id}: `make {target}` is not a target"


PATH_PATTERN = re.compile(
    r"(?<![\w/.-])((?:src|tests|dags|deployment|benchmarks|docs|\.github)/[\w./${}\-*]*[\w*}]"
    r"|constraints\.txt|pyproject\.toml)"
)


def _compact_expressions(text: str) -> str:
    """`${{ matrix.image }}` -> `${{matrix.image}}`, so a path stays one token."""
    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: "${{" + m.group(1) + "}}", text)


def _expand(path: str, job: dict[str, Any]) -> list[str]:
    match = re.search(r"\$\{\{matrix\.(\w+)\}\}", path)
    if not match:
        return [path]
    return [
        expanded
        for value in _matrix_values(job, match.group(1))
        for expanded in _expand(path.replace(match.group(0), str(value)), job)
    ]


def test_referenced_files_exist(workflow: tuple[str, dict[str, Any]]) -> None:
    name, document = workflow
    for job_id, job in document["jobs"].items():
        for text in _all_text(job):
            for raw in PATH_PATTERN.findall(_compact_expressions(text)):
                for path in _expand(raw.strip(), job):
                    if "${{" in path:
                        continue
                    assert list(REPO_ROOT.glob(path)), f"{name}:{job_id}: {path} does not exist"


# ---- CD flow and its agreement with Terraform --------------------------------------------


def test_cd_pipeline_order(cd: dict[str, Any]) -> None:
    jobs = cd["jobs"]

    def needs(job_id: str) -> set[str]:
        return set(_needs(jobs[job_id]))

    assert "gate" in needs("meta")
    assert "meta" in needs("images")
    assert "images" in needs("deploy-staging")
    assert "deploy-staging" in needs("smoke-staging")
    assert "smoke-staging" in needs("deploy-production")
    assert "smoke-staging" in needs("deploy-production-api")
    assert {"deploy-production", "deploy-production-api"} <= needs("smoke-production")
    assert "smoke-production" in needs("release")
    assert jobs["deploy-staging"]["environment"] == "staging"
    # The manual approval gate: required reviewers on the production environment, and
    # the only jobs production's deploy role trusts.
    for job_id in (
        "deploy-production",
        "deploy-production-api",
        "smoke-production",
        "rollback-production-api",
    ):
        assert jobs[job_id]["environment"] == "production", job_id
    for job_id, job in jobs.items():
        if "AWS_DEPLOY_ROLE_ARN" in _job_text(job) and job.get("environment") != "staging":
            assert job.get("environment") == "production", f"{job_id} assumes a deploy role"


def test_cd_deploys_safely(cd: dict[str, Any]) -> None:
    for job_id in ("deploy-staging", "deploy-production", "deploy-production-api"):
        steps = cd["jobs"][job_id]["steps"]
        uses = [step.get("uses", "") for step in steps]
        assert any("amazon-ecs-render-task-definition" in use for use in uses), job_id
        deploy = next(s for s in steps if "amazon-ecs-deploy-task-definition" in s.get("uses", ""))
        assert deploy["with"]["wait-for-service-stability"] is True
    for job_id in ("deploy-staging", "deploy-production"):
        steps = cd["jobs"][job_id]["steps"]
        assert any("rolloutState" in step.get("run", "") for step in steps), job_id
    for job_id in ("smoke-staging", "smoke-production"):
        text = _job_text(cd["jobs"][job_id])
        assert "fraudops smoke --url" in text
        assert "--api-key" in text


def test_cd_deploys_the_api_blue_green_in_production(cd: dict[str, Any]) -> None:
    job = cd["jobs"]["deploy-production-api"]
    deploy = next(
        s for s in job["steps"] if "amazon-ecs-deploy-task-definition" in s.get("uses", "")
    )
    assert deploy["with"]["codedeploy-appspec"] == "appspec.yaml"
    assert deploy["with"]["codedeploy-application"] == "${{ steps.current.outputs.family }}"
    assert deploy["with"]["codedeploy-deployment-group"] == "${{ steps.current.outputs.family }}"
    text = _job_text(job)
    assert "deployment/aws/codedeploy/appspec.yaml" in text
    assert "deploymentInfo.[status" in text
    assert '"Succeeded"' in text
    # The rolling production job no longer touches the API.
    assert "api" not in _matrix_values(cd["jobs"]["deploy-production"], "service")
    # A production smoke failure after the shift redeploys the revision that served before.
    rollback = cd["jobs"]["rollback-production-api"]
    assert "needs.smoke-production.result == 'failure'" in rollback["if"]
    rollback_text = _job_text(rollback)
    assert "<TASK_DEFINITION>|${PREVIOUS}" in rollback_text
    assert "aws deploy create-deployment" in rollback_text
    assert "aws deploy wait deployment-successful" in rollback_text


def test_cd_writes_a_summary(cd: dict[str, Any]) -> None:
    summary = cd["jobs"]["summary"]
    assert summary["if"].startswith("always()")
    assert set(_needs(summary)) == set(cd["jobs"]) - {"summary"}
    assert "GITHUB_STEP_SUMMARY" in _job_text(summary)


def test_cd_versions_releases_by_the_documented_rule(cd: dict[str, Any]) -> None:
    meta = _job_text(cd["jobs"]["meta"])
    assert "deployment/release_version.py" in meta
    assert "--bump" in meta
    assert "--labels" in meta
    options = cd["on"]["workflow_dispatch"]["inputs"]["bump"]["options"]
    assert options == ["auto", "patch", "minor", "major"]
    assert 'gh release create "v${VERSION}" --target "$SHA"' in _job_text(cd["jobs"]["release"])


def test_cd_images_are_tagged_with_sha_and_version(cd: dict[str, Any]) -> None:
    text = _job_text(cd["jobs"]["images"])
    assert "${{ env.IMAGE_TAG }}" in text
    assert "IMAGE_TAG: ${{ needs.meta.outputs.image_tag }}" in (WORKFLOWS_DIR / "cd.yml").read_text(
        encoding="utf-8"
    )
    assert '$VERSION"' in text
    assert sorted(
        f"{image}.Dockerfile" for image in _matrix_values(cd["jobs"]["images"], "image")
    ) == (DOCKERFILES)


def test_cd_matches_terraform(cd: dict[str, Any], root_module: TerraformDirectory) -> None:
    locals_ = root_module.locals()
    service_keys = {unquote(key) for key in locals_["service_keys"]}
    repositories = {unquote(key) for key in locals_["repositories"]}
    container_names = {
        unquote(body["container_name"])
        for body in root_module.module_calls.values()
        if unquote(body["source"]) == "./modules/ecs-service"
    }
    staging = cd["jobs"]["deploy-staging"]
    assert set(_matrix_values(staging, "service")) == service_keys == container_names
    assert set(_matrix_values(staging, "image")) == repositories
    production = set(_matrix_values(cd["jobs"]["deploy-production"], "service")) | {"api"}
    assert production == service_keys
    assert set(_matrix_values(cd["jobs"]["images"], "image")) == repositories
    # Names the workflow builds from PROJECT_NAME and the environment.
    text = (WORKFLOWS_DIR / "cd.yml").read_text(encoding="utf-8")
    assert "${PROJECT_NAME}-${DEPLOY_ENV}-${SERVICE}" in text  # task family = service name
    assert "${PROJECT_NAME}-${DEPLOY_ENV}/api-key" in text  # Secrets Manager name
    assert '"api-key"' in root_module.text()
    assert 'name       = "${var.project_name}-${var.environment}"' in root_module.text()
