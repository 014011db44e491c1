"""Blue-green delivery of the API: the AppSpec, its smoke hooks, the rollback alarms and the
production deploy role's trust, checked against the Terraform and the CLI they name."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from infra_support import (
    MODULES_DIR,
    REPO_ROOT,
    TERRAFORM_DIR,
    TerraformCli,
    TerraformDirectory,
    load_module,
    unquote,
)
from typer.testing import CliRunner

APPSPEC = REPO_ROOT / "deployment" / "aws" / "codedeploy" / "appspec.yaml"
BLUE_GREEN = MODULES_DIR / "codedeploy-blue-green"
HOOK_SOURCE = BLUE_GREEN / "hooks" / "smoke_hook.py"


@pytest.fixture(scope="module")
def appspec() -> dict[str, Any]:
    document = yaml.safe_load(APPSPEC.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    return load_module(HOOK_SOURCE)


@pytest.fixture(scope="module")
def blue_green() -> TerraformDirectory:
    return TerraformDirectory.load(BLUE_GREEN)


# ---- The AppSpec and the hook functions Terraform creates -------------------------


def test_appspec_targets_the_api_container(
    appspec: dict[str, Any], root_module: TerraformDirectory
) -> None:
    (resource,) = appspec["Resources"]
    properties = resource["TargetService"]["Properties"]
    assert resource["TargetService"]["Type"] == "AWS::ECS::Service"
    assert properties["TaskDefinition"] == "<TASK_DEFINITION>"  # the deploy step fills it
    api = root_module.module_calls["api_service"]
    assert properties["LoadBalancerInfo"]["ContainerName"] == unquote(api["container_name"])
    assert properties["LoadBalancerInfo"]["ContainerPort"] == api["container_port"]


def test_appspec_hooks_are_the_functions_terraform_creates(
    appspec: dict[str, Any], blue_green: TerraformDirectory
) -> None:
    hooks = {event: name for entry in appspec["Hooks"] for event, name in entry.items()}
    # Test traffic first (green only), then production traffic: both are smoke-tested.
    assert list(hooks) == ["AfterAllowTestTraffic", "AfterAllowTraffic"]
    locals_ = blue_green.locals()
    events = {unquote(key): unquote(value["event"]) for key, value in locals_["hooks"].items()}
    template = blue_green.text()
    match = re.search(
        r'hook_names = \{ for key, hook in local\.hooks : key => "(.+?)" \}', template
    )
    assert match, "hook_names in modules/codedeploy-blue-green"
    for key, event in events.items():
        expected = match.group(1).replace("${var.name}", "<NAME>").replace("${key}", key)
        assert hooks[event] == expected, event


def test_workflow_renders_every_appspec_placeholder() -> None:
    placeholders = set(re.findall(r"<[A-Z_]+>", APPSPEC.read_text(encoding="utf-8")))
    assert placeholders == {"<NAME>", "<TASK_DEFINITION>"}
    workflow = (REPO_ROOT / ".github" / "workflows" / "cd.yml").read_text(encoding="utf-8")
    assert "s|<NAME>|${PROJECT_NAME}-${DEPLOY_ENV}-${SERVICE}|g" in workflow
    assert "s|<TASK_DEFINITION>|${PREVIOUS}|g" in workflow


def test_every_hook_function_runs_the_smoke_hook(blue_green: TerraformDirectory) -> None:
    # whitespace-insensitive: `terraform fmt` realigns the `=` when a block changes
    text = " ".join(blue_green.text().split())
    assert 'handler = "smoke_hook.handler"' in text
    assert 'source_file = "${path.module}/hooks/smoke_hook.py"' in text
    assert "SMOKE_URL = each.value.url" in text


# ---- The hook's pure pieces, and the smoke command it runs ---------------------------

HOOK_ENV = {
    "CLUSTER": "fraudops-production",
    "TASK_DEFINITION_FAMILY": "fraudops-production-api",
    "CONTAINER_NAME": "api",
    "SUBNET_IDS": "subnet-a, subnet-b",
    "SECURITY_GROUP_IDS": "sg-smoke",
    "SMOKE_URL": "https://fraud.example.com:8443",
    "SMOKE_TIMEOUT_SECONDS": "90",
}


def test_run_task_request_overrides_the_container_with_fraudops_smoke(hook: ModuleType) -> None:
    request = hook.run_task_request(HOOK_ENV, "d-ABC123")
    assert request["taskDefinition"] == "fraudops-production-api"  # latest revision: green
    assert request["cluster"] == "fraudops-production"
    network = request["networkConfiguration"]["awsvpcConfiguration"]
    assert network == {
        "subnets": ["subnet-a", "subnet-b"],
        "securityGroups": ["sg-smoke"],
        "assignPublicIp": "DISABLED",
    }
    (override,) = request["overrides"]["containerOverrides"]
    assert override == {
        "name": "api",
        "command": ["smoke", "--url", "https://fraud.example.com:8443", "--timeout", "90"],
    }
    assert request["startedBy"] == "codedeploy-d-ABC123"


def test_run_task_request_names_what_is_missing(hook: ModuleType) -> None:
    env = {key: value for key, value in HOOK_ENV.items() if key != "SMOKE_URL"}
    with pytest.raises(ValueError, match="SMOKE_URL not set"):
        hook.run_task_request(env, "d-1")


@pytest.mark.parametrize(
    ("task", "status", "reason"),
    [
        (
            {"lastStatus": "STOPPED", "containers": [{"name": "api", "exitCode": 0}]},
            "Succeeded",
            "passed",
        ),
        (
            {"lastStatus": "STOPPED", "containers": [{"name": "api", "exitCode": 1}]},
            "Failed",
            "exited 1",
        ),
        (
            {
                "lastStatus": "STOPPED",
                "stoppedReason": "CannotPullContainerError",
                "containers": [{"name": "api"}],
            },
            "Failed",
            "CannotPullContainerError",
        ),
        ({"lastStatus": "RUNNING", "containers": [{"name": "api"}]}, "Failed", "still RUNNING"),
        (
            {"lastStatus": "STOPPED", "containers": [{"name": "other", "exitCode": 0}]},
            "Failed",
            "no container",
        ),
        ({}, "Failed", "still unknown"),
    ],
)
def test_task_outcome(hook: ModuleType, task: dict[str, Any], status: str, reason: str) -> None:
    outcome, detail = hook.task_outcome(task, "api")
    assert outcome == status
    assert reason in detail


def test_the_hook_command_is_the_cli_smoke_command(hook: ModuleType) -> None:
    """The exact arguments the hook gives the container's `fraudops` entry point parse and
    run: against a closed port the smoke check fails (exit 1), it is no usage error (2)."""
    from fraudops.cli import app

    args = hook.smoke_command("http://127.0.0.1:9", 1)
    result = CliRunner().invoke(app, args, env={"FRAUDOPS_API_KEY": "k" * 24})
    assert result.exit_code == 1, result.output
    assert "smoke test failed" in result.output


def test_image_entry_point_is_fraudops() -> None:
    dockerfile = (REPO_ROOT / "deployment" / "docker" / "api.Dockerfile").read_text()
    assert 'ENTRYPOINT ["fraudops"]' in dockerfile


# ---- Rollback alarms -----------------------------------------------------------------


def test_every_rollback_alarm_exists_in_terraform(blue_green: TerraformDirectory) -> None:
    text = blue_green.text()
    group = re.search(r"alarm_configuration \{(.*?)\n  \}", text, re.DOTALL)
    assert group, "the deployment group has no alarm_configuration"
    assert "enabled = true" in group.group(1)
    assert "alarms  = local.rollback_alarm_names" in group.group(1)
    names = re.search(r"rollback_alarm_names = concat\((.*?)\n  \)", text, re.DOTALL)
    assert names
    referenced = set(re.findall(r"aws_cloudwatch_metric_alarm\.(\w+)", names.group(1)))
    declared = set(re.findall(r'resource "aws_cloudwatch_metric_alarm" "(\w+)"', text))
    assert referenced == declared == {"http_5xx_rate", "task_set"}
    task_set = re.search(
        r'"aws_cloudwatch_metric_alarm" "task_set" \{\n  for_each = \{(.*?)\n  \}', text, re.DOTALL
    )
    assert task_set
    assert re.findall(r"^    ([\w-]+) = \{", task_set.group(1), re.MULTILINE) == [
        "latency-p99",
        "unready-targets",
    ]
    # The alarms watch the readiness health check the target groups run.
    assert 'metric      = "UnHealthyHostCount"' in task_set.group(1)
    rollback = re.search(r"auto_rollback_configuration \{(.*?)\n  \}", text, re.DOTALL)
    assert rollback
    assert '"DEPLOYMENT_STOP_ON_ALARM"' in rollback.group(1)
    assert '"DEPLOYMENT_FAILURE"' in rollback.group(1)


def test_deployment_events_reach_the_team(blue_green: TerraformDirectory) -> None:
    text = blue_green.text()
    for event in (
        "DeploymentStart",
        "DeploymentSuccess",
        "DeploymentFailure",
        "DeploymentRollback",
    ):
        assert f'"{event}"' in text, event
    assert "trigger_target_arn = var.notification_topic_arn" in text


# ---- The production deploy role trusts only the production environment ---------------


def _plan_outputs(terraform: TerraformCli, config: Path, *variables: str) -> dict[str, Any]:
    init = terraform.run("init", "-backend=false", "-no-color", cwd=config)
    assert init.returncode == 0, init.stderr + init.stdout
    args = [arg for variable in variables for arg in ("-var", variable)]
    plan = terraform.run("plan", "-no-color", "-lock=false", "-out=plan.out", *args, cwd=config)
    assert plan.returncode == 0, plan.stderr + plan.stdout
    shown = terraform.run("show", "-json", "plan.out", cwd=config)
    assert shown.returncode == 0, shown.stderr
    outputs = json.loads(shown.stdout)["planned_values"]["outputs"]
    return {name: output["value"] for name, output in outputs.items()}


@pytest.fixture
def subjects_config(tmp_path: Path) -> Path:
    """The root's own call of modules/github-oidc-subjects, copied verbatim, with nothing
    else: no provider, so Terraform evaluates it offline."""
    module = tmp_path / "modules" / "github-oidc-subjects"
    module.mkdir(parents=True)
    for name in ("main.tf", "variables.tf", "outputs.tf"):
        shutil.copy(MODULES_DIR / "github-oidc-subjects" / name, module / name)
    root = (TERRAFORM_DIR / "main.tf").read_text(encoding="utf-8")
    call = re.search(r'^module "github_oidc_subjects" \{.*?^\}', root, re.DOTALL | re.MULTILINE)
    assert call, 'module "github_oidc_subjects" in main.tf'
    (tmp_path / "main.tf").write_text(
        'variable "environment" {\n  type = string\n}\n\n'
        'variable "github_repository" {\n  type    = string\n  default = null\n}\n\n'
        f"{call.group(0)}\n\n"
        'output "subjects" {\n  value = module.github_oidc_subjects.subjects\n}\n',
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("production", ["repo:acme/fraudops:environment:production"]),
        (
            "staging",
            ["repo:acme/fraudops:environment:staging", "repo:acme/fraudops:ref:refs/heads/main"],
        ),
    ],
)
def test_deploy_role_subjects(
    environment: str, expected: list[str], terraform: TerraformCli, subjects_config: Path
) -> None:
    outputs = _plan_outputs(
        terraform, subjects_config, f"environment={environment}", "github_repository=acme/fraudops"
    )
    assert outputs["subjects"] == expected


def test_no_repository_trusts_nobody(terraform: TerraformCli, subjects_config: Path) -> None:
    assert _plan_outputs(terraform, subjects_config, "environment=production")["subjects"] == []


def test_the_deploy_role_trusts_exactly_those_subjects(
    root_module: TerraformDirectory, modules: dict[str, TerraformDirectory]
) -> None:
    iam = modules["iam"].text()
    assert "refs/heads" not in iam  # no branch subject of its own
    condition = re.search(r'variable = "\$\{local\.github_url\}:sub"\s*values\s*=\s*(\S+)', iam)
    assert condition
    assert condition.group(1) == "var.github_subjects"
    call = root_module.module_calls["iam"]
    assert call["github_subjects"] == "${module.github_oidc_subjects.subjects}"


# ---- Dashboard ---------------------------------------------------------------------------


def test_dashboard_shows_traffic_decisions_drift_tasks_and_stores(
    modules: dict[str, TerraformDirectory],
) -> None:
    text = modules["dashboard"].text()
    for needle in (
        "RequestCount",
        "TargetResponseTime",
        "HTTPCode_Target_5XX_Count",
        "fraudops_policy_decisions_total",
        "fraudops_drift_share",
        "RunningTaskCount",
        "AWS/RDS",
        "AWS/ElastiCache",
    ):
        assert needle in text, needle


def test_published_metrics_are_api_metrics_with_their_labels(
    root_module: TerraformDirectory,
) -> None:
    """The series the metrics agent selects exist in the API's registry, and the dimensions
    kept are their labels (plus the scrape job)."""
    from fraudops.serving.metrics import ServiceMetrics

    labels = {
        name: set(collector._labelnames)
        for name, collector in ServiceMetrics().registry._names_to_collectors.items()
    }
    call = root_module.module_calls["api_metrics"]
    for selection in call["metrics"]:
        name = unquote(selection["name"])
        assert name in labels, f"{name} is not an API metric"
        assert {unquote(d) for d in selection["dimensions"]} - {"job"} <= labels[name], name
