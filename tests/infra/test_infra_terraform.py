"""Static checks of deployment/aws/terraform: layout, interfaces, profiles, formatting.

Terraform's own validation needs the AWS provider plugin, which the package registries
do not carry: test_terraform_validate runs it where a provider mirror or the network is
available, and the other tests check what can be checked from the files alone.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import hcl2
import pytest
from infra_support import (
    MODULE_META_ARGUMENTS,
    MODULES_DIR,
    PROFILES,
    REQUIRED_MODULES,
    TERRAFORM_DIR,
    TerraformCli,
    TerraformDirectory,
    loads_tfvars,
    profile_sections,
    profile_tfvars,
    terraform_directories,
    unquote,
)

from skip_policy import require

DIRECTORY_IDS = ["root" if path == TERRAFORM_DIR else path.name for path in terraform_directories()]


# ---- Layout ----------------------------------------------------------------------


def test_root_files_exist() -> None:
    for name in (
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
        "backend.hcl.example",
        "terraform.tfvars.example",
    ):
        assert (TERRAFORM_DIR / name).is_file(), f"missing deployment/aws/terraform/{name}"


@pytest.mark.parametrize("module", REQUIRED_MODULES)
def test_required_module_exists(module: str) -> None:
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (MODULES_DIR / module / name).is_file(), f"modules/{module}/{name} is missing"


@pytest.mark.parametrize(
    "path",
    sorted(TERRAFORM_DIR.rglob("*.tf")),
    ids=lambda p: p.relative_to(TERRAFORM_DIR).as_posix(),
)
def test_file_parses(path: Path) -> None:
    with path.open(encoding="utf-8") as handle:
        assert isinstance(hcl2.load(handle), dict)


# ---- Variables and outputs -------------------------------------------------------


@pytest.mark.parametrize("directory", terraform_directories(), ids=DIRECTORY_IDS)
def test_every_variable_has_type_and_description(directory: Path) -> None:
    variables = TerraformDirectory.load(directory).variables
    assert variables, f"{directory} declares no variable"
    problems = [
        name
        for name, body in variables.items()
        if "type" not in body or not unquote(body.get("description", "")).strip()
    ]
    assert not problems, f"variables without a type or a description: {problems}"


@pytest.mark.parametrize("directory", terraform_directories(), ids=DIRECTORY_IDS)
def test_every_validation_has_a_condition_and_a_message(directory: Path) -> None:
    for name, body in TerraformDirectory.load(directory).variables.items():
        for validation in body.get("validation", []):
            assert validation.get("condition"), f"{name}: validation without condition"
            assert unquote(validation.get("error_message", "")).strip(), (
                f"{name}: validation without error_message"
            )


@pytest.mark.parametrize("directory", terraform_directories(), ids=DIRECTORY_IDS)
def test_every_output_has_a_description(directory: Path) -> None:
    outputs = TerraformDirectory.load(directory).outputs
    assert outputs, f"{directory} declares no output"
    missing = [name for name, body in outputs.items() if not unquote(body.get("description", ""))]
    assert not missing, f"outputs without a description: {missing}"


@pytest.mark.parametrize("directory", terraform_directories(), ids=DIRECTORY_IDS)
def test_every_variable_is_used_and_every_reference_is_declared(directory: Path) -> None:
    tf = TerraformDirectory.load(directory)
    referenced = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)", tf.text()))
    declared = set(tf.variables)
    assert referenced <= declared, f"undeclared variables referenced: {referenced - declared}"
    assert declared <= referenced, f"variables declared but never used: {declared - referenced}"


def test_root_has_at_least_45_variables(root_module: TerraformDirectory) -> None:
    assert len(root_module.variables) >= 45


def test_root_variables_validate_what_aws_would_reject(root_module: TerraformDirectory) -> None:
    """Variables that are enumerations, sizes or identifiers carry a validation block."""
    must_validate = {
        "environment",
        "project_name",
        "aws_region",
        "vpc_cidr",
        "availability_zone_count",
        "log_retention_days",
        "api_cpu",
        "api_min_count",
        "db_backup_retention_days",
        "db_engine_version",
        "redis_num_cache_nodes",
        "alert_email_addresses",
        "admin_cidr_blocks",
        "certificate_arn",
        "github_repository",
    }
    variables = root_module.variables
    unvalidated = sorted(name for name in must_validate if not variables[name].get("validation"))
    assert not unvalidated, f"variables without validation: {unvalidated}"


# ---- Versions and backend --------------------------------------------------------


@pytest.mark.parametrize("directory", terraform_directories(), ids=DIRECTORY_IDS)
def test_versions_are_pinned(directory: Path) -> None:
    terraform_blocks = TerraformDirectory.load(directory).documents["versions.tf"]["terraform"]
    settings = terraform_blocks[0]
    assert unquote(settings["required_version"]).startswith(">= 1.6")
    if "required_providers" not in settings:  # arithmetic only (modules/api-sizing)
        documents = TerraformDirectory.load(directory).documents.values()
        assert not any("resource" in doc or "data" in doc for doc in documents)
        return
    providers = settings["required_providers"][0]
    aws = providers["aws"]
    assert unquote(aws["source"]) == "hashicorp/aws"
    assert re.fullmatch(r"~> 5\.\d+", unquote(aws["version"])), aws["version"]
    for name, provider in providers.items():
        if name.startswith("__"):
            continue  # python-hcl2 bookkeeping
        assert unquote(provider.get("version", "")).startswith("~>"), f"{name} is not pinned"


def test_remote_state_backend(root_module: TerraformDirectory) -> None:
    settings = root_module.documents["versions.tf"]["terraform"][0]
    assert "s3" in {unquote(key) for entry in settings["backend"] for key in entry}
    example = loads_tfvars((TERRAFORM_DIR / "backend.hcl.example").read_text(encoding="utf-8"))
    assert {"bucket", "region", "encrypt"} <= set(example)
    assert example["encrypt"] is True
    assert "dynamodb_table" in example or example.get("use_lockfile") is True


# ---- Module calls ----------------------------------------------------------------


def _module_call_ids() -> list[str]:
    return sorted(TerraformDirectory.load(TERRAFORM_DIR).module_calls)


@pytest.mark.parametrize("call", _module_call_ids())
def test_module_call_matches_module_interface(
    call: str, root_module: TerraformDirectory, modules: dict[str, TerraformDirectory]
) -> None:
    body = root_module.module_calls[call]
    source = unquote(body["source"])
    assert source.startswith("./modules/"), f"{call}: only local modules are used ({source})"
    module = modules[source.removeprefix("./modules/")]
    passed = set(body) - MODULE_META_ARGUMENTS
    missing = module.required_variables() - passed
    unknown = passed - set(module.variables)
    assert not missing, f"module {call} does not pass required variables {sorted(missing)}"
    assert not unknown, f"module {call} passes variables the module lacks: {sorted(unknown)}"


def test_every_module_is_used(root_module: TerraformDirectory) -> None:
    called = {
        unquote(body["source"]).removeprefix("./modules/")
        for body in root_module.module_calls.values()
    }
    present = {path.name for path in MODULES_DIR.iterdir() if path.is_dir()}
    assert present <= called, f"modules nobody calls: {sorted(present - called)}"


def test_module_output_references_exist(
    root_module: TerraformDirectory, modules: dict[str, TerraformDirectory]
) -> None:
    sources = {
        name: unquote(body["source"]).removeprefix("./modules/")
        for name, body in root_module.module_calls.items()
    }
    problems = []
    for call, output in set(
        re.findall(r"\bmodule\.([a-z0-9_]+)\.([a-z0-9_]+)", root_module.text())
    ):
        if call not in sources:
            problems.append(f"module.{call} is not declared")
        elif output not in modules[sources[call]].outputs:
            problems.append(f"module.{call}.{output}: modules/{sources[call]} has no such output")
    assert not problems, problems


def test_file_function_targets_exist() -> None:
    for tf in TERRAFORM_DIR.rglob("*.tf"):
        for relative in re.findall(
            r'file\("\$\{path\.module\}/([^"]+)"\)', tf.read_text(encoding="utf-8")
        ):
            assert (tf.parent / relative).is_file(), f"{tf}: file({relative}) does not exist"


def test_contract_names(root_module: TerraformDirectory) -> None:
    """Names other parts of the project rely on (ECR repositories, ports, health paths)."""
    text = root_module.text()
    locals_ = root_module.locals()
    repositories = {key: unquote(value) for key, value in locals_["repositories"].items()}
    assert {key: value.split("-", 1)[1] for key, value in repositories.items()} == {
        "api": "api",
        "mlflow": "mlflow",
        "airflow": "airflow",
    }
    assert root_module.variables["ecr_repository_prefix"]["default"] == '"fraudops"'
    for fragment in (
        "port              = 8000",
        '"/health"',
        '"/api/v2/monitor/health"',
        "FRAUDOPS_ONLINE_STORE_URI",
        "FRAUDOPS_MLFLOW_TRACKING_URI",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        'AIRFLOW__CORE__EXECUTOR                           = "LocalExecutor"',
    ):
        assert fragment in text, fragment
    health = root_module.variables["api_health_check_path"]
    assert unquote(health["default"]) == "/health/ready"


def test_services_have_circuit_breaker_rollback_and_autoscaling(
    modules: dict[str, TerraformDirectory],
) -> None:
    service = modules["ecs-service"]
    text = service.text()
    # The circuit breaker guards every rolling (ECS controller) service; blue-green ones
    # are rolled back by CodeDeploy instead (modules/codedeploy-blue-green).
    assert re.search(
        r'dynamic "deployment_circuit_breaker"\s*{\s*for_each\s*=\s*var\.deployment_controller'
        r'\s*==\s*"ECS"\s*\?\s*\[1\]\s*:\s*\[\]\s*content\s*{\s*enable\s*=\s*true\s*rollback\s*=\s*true',
        text,
    )
    assert unquote(service.variables["deployment_controller"]["default"]) == "ECS"
    assert "ECSServiceAverageCPUUtilization" in text
    assert "ECSServiceAverageMemoryUtilization" in text
    assert service.variables["cpu_target_percent"]["default"] == 70
    assert service.variables["memory_target_percent"]["default"] == 80


def test_every_redis_node_has_an_engine_cpu_alarm(
    root_module: TerraformDirectory, modules: dict[str, TerraformDirectory]
) -> None:
    """The online store's scripts run on Redis's one engine thread, the tier's ceiling: the
    alarms watch the replication group the store writes to, node by node."""
    calls = root_module.module_calls
    group = unquote(root_module.locals()["redis_group_id"])
    assert unquote(calls["elasticache"]["name"]) == "${local.redis_group_id}"
    assert unquote(calls["cloudwatch"]["redis_replication_group_id"]) == "${local.redis_group_id}"
    assert group.endswith("-features")
    assert unquote(calls["cloudwatch"]["redis_nodes"]) == unquote(
        calls["elasticache"]["num_cache_clusters"]
    )
    text = modules["cloudwatch"].text()
    assert re.search(
        r'resource "aws_cloudwatch_metric_alarm" "redis_engine_cpu" {\s*count\s*=\s*var\.'
        r"redis_replication_group_id == null \? 0 : var\.redis_nodes",
        text,
    )
    assert 'metric_name         = "EngineCPUUtilization"' in text
    assert (
        'CacheClusterId = format("%s-%03d", var.redis_replication_group_id, count.index + 1)'
        in text
    )
    assert modules["cloudwatch"].variables["redis_engine_cpu_threshold_percent"]["default"] == 70


# ---- Profiles (terraform.tfvars.example) -----------------------------------------


def test_example_has_the_three_profiles_with_costs() -> None:
    sections = profile_sections()
    assert set(sections) == set(PROFILES)
    for name, body in sections.items():
        assert re.search(r"About \$[\d,]+/month", body), (
            f"profile {name} has no monthly cost estimate"
        )


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_sets_only_declared_variables(
    profile: str, root_module: TerraformDirectory
) -> None:
    values = loads_tfvars(profile_tfvars(profile))
    unknown = set(values) - set(root_module.variables)
    assert not unknown, f"{profile}: unknown variables {sorted(unknown)}"
    assert root_module.required_variables() <= set(values)
    assert unquote(values["environment"]) == profile


def test_profiles_set_the_same_variables() -> None:
    keys = {name: set(loads_tfvars(profile_tfvars(name))) for name in PROFILES}
    assert keys["dev"] == keys["staging"] == keys["production"]


def test_example_as_shipped_is_the_dev_profile() -> None:
    shipped = loads_tfvars((TERRAFORM_DIR / "terraform.tfvars.example").read_text(encoding="utf-8"))
    assert shipped == loads_tfvars(profile_tfvars("dev"))


def _variables_only_config(tmp_path: Path) -> Path:
    """A configuration with only the root variables: no provider, so `plan` runs offline
    and evaluates every validation rule against the values given."""
    shutil.copy(TERRAFORM_DIR / "variables.tf", tmp_path / "variables.tf")
    return tmp_path


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_passes_every_variable_validation(
    profile: str, terraform: TerraformCli, tmp_path: Path
) -> None:
    config = _variables_only_config(tmp_path)
    (config / f"{profile}.tfvars").write_text(profile_tfvars(profile), encoding="utf-8")
    init = terraform.run("init", "-backend=false", "-no-color", cwd=config)
    assert init.returncode == 0, init.stderr + init.stdout
    plan = terraform.run(
        "plan", "-no-color", "-lock=false", f"-var-file={profile}.tfvars", cwd=config
    )
    assert plan.returncode == 0, plan.stderr + plan.stdout
    assert "undeclared variable" not in plan.stderr + plan.stdout


def test_defaults_pass_every_variable_validation(terraform: TerraformCli, tmp_path: Path) -> None:
    config = _variables_only_config(tmp_path)
    assert terraform.run("init", "-backend=false", "-no-color", cwd=config).returncode == 0
    plan = terraform.run(
        "plan", "-no-color", "-lock=false", "-var", "environment=staging", cwd=config
    )
    assert plan.returncode == 0, plan.stderr + plan.stdout


def test_validation_rejects_bad_values(terraform: TerraformCli, tmp_path: Path) -> None:
    config = _variables_only_config(tmp_path)
    assert terraform.run("init", "-backend=false", "-no-color", cwd=config).returncode == 0
    for assignment, message in (
        ("environment=qa", "environment must be dev, staging or production"),
        ('admin_cidr_blocks=["0.0.0.0/0"]', "must not be 0.0.0.0/0"),
        ("api_cpu=300", "api_cpu must be"),
    ):
        args = ["-var", "environment=dev"] if not assignment.startswith("environment") else []
        plan = terraform.run(
            "plan", "-no-color", "-lock=false", *args, "-var", assignment, cwd=config
        )
        assert plan.returncode != 0, assignment
        assert message in " ".join((plan.stderr + plan.stdout).split()), plan.stderr


# ---- Terraform itself ------------------------------------------------------------


def test_terraform_fmt(terraform: TerraformCli, tmp_path: Path) -> None:
    result = terraform.run(
        "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR), cwd=tmp_path
    )
    assert result.returncode == 0, (
        "run `.tools/bin/terraform fmt -recursive deployment/aws/terraform`\n"
        f"{result.stdout}{result.stderr}"
    )
    # fmt only looks at *.tfvars; check the example under that name.
    for name in ("terraform.tfvars.example", "backend.hcl.example"):
        copy = tmp_path / name.replace(".example", "").replace(".hcl", ".tfvars")
        copy.write_text((TERRAFORM_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
        result = terraform.run("fmt", "-check", "-diff", "-no-color", copy.name, cwd=tmp_path)
        assert result.returncode == 0, f"{name} is not formatted:\n{result.stdout}{result.stderr}"


def _provider_mirror() -> Path | None:
    configured = os.environ.get("FRAUDOPS_TF_PROVIDER_MIRROR")
    candidates = [Path(configured)] if configured else [Path("/opt/tf-plugins")]
    for candidate in candidates:
        if (candidate / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return candidate
    return None


def _stub_random_provider(config: Path) -> None:
    """Swap random_* resources for terraform_data when the mirror lacks hashicorp/random:
    the rest of the configuration still validates against the real AWS schema."""
    main = config / "main.tf"
    text = re.sub(
        r'resource "random_(?:password|id)" "(\w+)" \{[^}]*\}',
        r'resource "terraform_data" "\1" {\n  input = "stub"\n}',
        main.read_text(encoding="utf-8"),
    )
    text = re.sub(r"random_password\.(\w+)\.result", r"terraform_data.\1.output", text)
    text = re.sub(r"random_id\.(\w+)\.b64_url", r"terraform_data.\1.output", text)
    main.write_text(text, encoding="utf-8")
    _drop_provider(config / "versions.tf", "random")


def _stub_archive_provider(config: Path) -> None:
    """Swap archive_file data sources (Lambda packages) for terraform_data when the mirror
    lacks hashicorp/archive; the functions still validate against the AWS schema."""
    for tf in config.rglob("*.tf"):
        text = tf.read_text(encoding="utf-8")
        if "archive" not in text:
            continue
        text = re.sub(
            r'data "archive_file" "(\w+)" \{.*?\n\}',
            r'resource "terraform_data" "\1" {\n  input = "stub"\n}',
            text,
            flags=re.DOTALL,
        )
        text = re.sub(r"data\.archive_file\.(\w+)\.\w+", r"terraform_data.\1.output", text)
        tf.write_text(text, encoding="utf-8")
        if tf.name == "versions.tf":
            _drop_provider(tf, "archive")


def _drop_provider(versions: Path, name: str) -> None:
    versions.write_text(
        re.sub(rf"\n\s*{name} = \{{[^}}]*\}}", "", versions.read_text(encoding="utf-8")),
        encoding="utf-8",
    )


def test_terraform_validate(terraform: TerraformCli, tmp_path: Path) -> None:
    mirror = _provider_mirror()
    online = os.environ.get("FRAUDOPS_TF_ONLINE") == "1"
    # The AWS provider binary comes from registry.terraform.io or a provider mirror, never
    # from a package registry, so `make tools` cannot install it: a machine with neither
    # may skip this even under FRAUDOPS_REQUIRE_SERVICES=1. (CI's machine image carries
    # a mirror at /opt/tf-plugins, so there it runs.)
    require(
        mirror is not None or online,
        "terraform validate needs the AWS provider plugin, which no package registry "
        "carries: set FRAUDOPS_TF_PROVIDER_MIRROR to a provider mirror or "
        "FRAUDOPS_TF_ONLINE=1 where registry.terraform.io is reachable (GitHub CI does)",
        expected_here=False,
    )
    config = tmp_path / "terraform"
    shutil.copytree(
        TERRAFORM_DIR, config, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
    )
    env: dict[str, str] = {}
    if mirror is not None and not online:
        rc = tmp_path / "mirror.tfrc"
        # The mirror doubles as the plugin cache, so providers are linked, not copied.
        rc.write_text(
            f'plugin_cache_dir = "{mirror}"\n'
            "plugin_cache_may_break_dependency_lock_file = true\n"
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n',
            encoding="utf-8",
        )
        env["TF_CLI_CONFIG_FILE"] = str(rc)
        if not (mirror / "registry.terraform.io" / "hashicorp" / "random").is_dir():
            _stub_random_provider(config)
        if not (mirror / "registry.terraform.io" / "hashicorp" / "archive").is_dir():
            _stub_archive_provider(config)
    init = terraform.run("init", "-backend=false", "-no-color", cwd=config, timeout=600, **env)
    assert init.returncode == 0, init.stdout + init.stderr
    result = terraform.run("validate", "-no-color", cwd=config, timeout=600, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr


# Fargate's task sizes: CPU units -> allowed memory (MiB).
FARGATE_MEMORY = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4097, 1024)),
    1024: set(range(2048, 8193, 1024)),
    2048: set(range(4096, 16385, 1024)),
    4096: set(range(8192, 30721, 1024)),
    8192: set(range(16384, 61441, 4096)),
    16384: set(range(32768, 122881, 8192)),
}
TASK_SIZES = ("api", "mlflow", "airflow_api_server", "airflow_scheduler", "airflow_dag_processor")


@pytest.mark.parametrize("profile", ["defaults", *PROFILES])
def test_task_sizes_are_valid_fargate_pairs(profile: str, root_module: TerraformDirectory) -> None:
    values = {
        name: body["default"] for name, body in root_module.variables.items() if "default" in body
    }
    if profile != "defaults":
        values.update(loads_tfvars(profile_tfvars(profile)))
    for task in TASK_SIZES:
        cpu, memory = values[f"{task}_cpu"], values[f"{task}_memory"]
        assert memory in FARGATE_MEMORY[cpu], f"{profile}: {task} {cpu} CPU / {memory} MiB"
