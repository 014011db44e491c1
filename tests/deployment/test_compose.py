"""deployment/docker-compose.yml, checked without a Docker engine.

Schema (the vendored Compose Specification), the service contract, healthchecks and
start order, volumes and mounts, image pins, every variable documented in .env.example,
no secret in the repository, and every FRAUDOPS_* variable a real Settings field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from fraudops.config import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT = REPO / "deployment"
COMPOSE_FILE = DEPLOYMENT / "docker-compose.yml"
ENV_EXAMPLE = DEPLOYMENT / ".env.example"
SCHEMA = DEPLOYMENT / "schemas" / "compose-spec.json"

CONTRACT_SERVICES = {
    "postgres", "minio", "mlflow", "airflow-apiserver", "airflow-scheduler", "api", "redis",
    "prometheus", "grafana",
}  # fmt: skip
# Container port each service publishes (the README's defaults) and the variable for it.
PUBLISHED_PORTS = {
    "api": {8000: "API_PORT"},
    "mlflow": {5000: "MLFLOW_PORT"},
    "airflow-apiserver": {8080: "AIRFLOW_PORT"},
    "minio": {9000: "MINIO_PORT", 9001: "MINIO_CONSOLE_PORT"},
    "prometheus": {9090: "PROMETHEUS_PORT"},
    "grafana": {3000: "GRAFANA_PORT"},
    "postgres": {5432: "POSTGRES_PORT"},
    "redis": {6379: "REDIS_PORT"},
    "spark-master": {8090: "SPARK_MASTER_UI_PORT"},
}
BUILT_IMAGES = {
    "api": "deployment/docker/api.Dockerfile",
    "mlflow": "deployment/docker/mlflow.Dockerfile",
    "airflow-init": "deployment/docker/airflow.Dockerfile",
    "airflow-apiserver": "deployment/docker/airflow.Dockerfile",
    "airflow-scheduler": "deployment/docker/airflow.Dockerfile",
    "airflow-dag-processor": "deployment/docker/airflow.Dockerfile",
    "spark-worker": "deployment/docker/airflow.Dockerfile",
}
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; not $${...}.
INTERPOLATION = re.compile(
    r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
)
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|_API_KEY|FERNET_KEY|SECRET_KEY)")


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's interpolation, for the forms this file uses."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = values.get(name)
        if op in (":-", "-"):
            return value if value else arg
        if op in (":?", "?"):
            if not value:
                raise ValueError(f"{name} required: {arg}")
            return value
        return value or ""

    return INTERPOLATION.sub(replace, text).replace("$$", "$")


def one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "use the mapping form of environment"
    return {key: str(value) for key, value in env.items()}


# ---------------------------------------------------------------------- schema


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["title"] == "Compose Specification"
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_schema_validation_catches_a_typo(compose: dict[str, Any]) -> None:
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["api"]["healthchek"] = broken["services"]["api"].pop("healthcheck")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    assert any("healthchek" in e.message for e in validator.iter_errors(broken))


# ---------------------------------------------------------------------- services


def test_contract_services_exist(services: dict[str, Any]) -> None:
    missing = CONTRACT_SERVICES - services.keys()
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"
    assert {"airflow-dag-processor", "airflow-init", "minio-init"} <= services.keys()


def test_long_running_services_have_a_healthcheck(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if one_shot(service):
            continue
        check = service.get("healthcheck") or {}
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        assert check.get("test"), f"{name}: no healthcheck"
        assert service.get("restart") == "unless-stopped", f"{name}: restart policy"


def test_depends_on_always_states_a_condition(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must use conditions"
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition")
            if one_shot(services[target]):
                assert condition == "service_completed_successfully", (name, target)
            elif condition == "service_healthy":
                assert services[target].get("healthcheck"), (name, target)
            else:
                # Only Prometheus starts before the API is healthy (it should see it down).
                assert (name, target, condition) == ("prometheus", "api", "service_started")


def test_one_shot_jobs_are_awaited_by_a_long_running_service(services: dict[str, Any]) -> None:
    """`docker compose up --wait` only accepts an exited job that something waits for."""
    for name, service in services.items():
        if not one_shot(service):
            continue
        assert "healthcheck" not in service or service["healthcheck"].get("disable")
        waiters = [
            other
            for other, spec in services.items()
            if not one_shot(spec)
            and spec.get("depends_on", {}).get(name, {}).get("condition")
            == "service_completed_successfully"
        ]
        assert waiters, f"nothing waits for the one-shot job {name}"


def test_start_order_follows_the_data_flow(services: dict[str, Any]) -> None:
    def needs(service: str) -> set[str]:
        return set(services[service].get("depends_on", {}))

    assert {"postgres", "minio-init"} <= needs("mlflow")
    assert needs("minio-init") == {"minio"}
    assert {"redis", "mlflow", "minio-init"} <= needs("api")
    assert needs("airflow-init") == {"postgres"}
    for airflow in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"):
        assert {"postgres", "airflow-init", "mlflow", "redis", "minio-init"} <= needs(airflow)
    assert "api" in needs("prometheus")
    assert "prometheus" in needs("grafana")


def test_airflow_roles_share_one_configuration(services: dict[str, Any]) -> None:
    roles = ["airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"]
    reference = environment(services["airflow-apiserver"])
    for role in roles:
        env = environment(services[role])
        shared = {k: v for k, v in env.items() if not k.startswith("AIRFLOW_ADMIN")}
        assert shared == reference, f"{role} environment differs from airflow-apiserver"
        assert services[role]["image"] == services["airflow-apiserver"]["image"]
    assert reference["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
        "http://airflow-apiserver:8080/"
    )
    assert reference["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"
    assert reference["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    commands = {role: services[role].get("command") for role in roles}
    assert commands["airflow-apiserver"] == ["api-server"]
    assert commands["airflow-scheduler"] == ["scheduler", "--skip-serve-logs"]
    # small-host defaults: task slots bounded, one API worker
    assert reference["AIRFLOW__CORE__PARALLELISM"] == "${AIRFLOW_PARALLELISM:-2}"
    assert reference["AIRFLOW__API__WORKERS"] == "${AIRFLOW_API_WORKERS:-1}"
    assert commands["airflow-dag-processor"] == ["dag-processor"]
    assert "airflow db migrate" in commands["airflow-init"][0]


def test_services_running_fraudops_code_share_one_configuration(
    services: dict[str, Any],
) -> None:
    api = environment(services["api"])
    airflow = environment(services["airflow-scheduler"])
    assert {k: airflow[k] for k in api} == api
    assert api["FRAUDOPS_ENV"] == "production"
    assert api["FRAUDOPS_ONLINE_STORE_URI"].startswith("redis://redis:6379/")
    assert api["FRAUDOPS_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert api["FRAUDOPS_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert api["FRAUDOPS_DATA_URI"].startswith("s3://")


# ---------------------------------------------------------------------- settings


def test_every_fraudops_variable_is_a_settings_field(services: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    used = {
        (service, key)
        for service, spec in services.items()
        for key in environment(spec)
        if key.startswith("FRAUDOPS_")
    }
    used |= {(".env.example", key) for key in env_example() if key.startswith("FRAUDOPS_")}
    assert used, "no FRAUDOPS_* variable found"
    unknown = sorted((where, key) for where, key in used if key[9:].lower() not in fields)
    assert not unknown, f"not fields of fraudops.config.Settings: {unknown}"


def test_api_environment_is_accepted_by_settings(
    services: dict[str, Any], stack_env: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment the API container gets, once interpolated, validates in production."""
    values = stack_env.parse_env(stack_env.render_env(ENV_EXAMPLE.read_text()))
    for key, raw in environment(services["api"]).items():
        if key.startswith("FRAUDOPS_"):
            monkeypatch.setenv(key, interpolate(raw, values))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.env == "production"
    assert settings.online_store_uri == "redis://redis:6379/0"
    assert settings.mlflow_artifact_uri == "mlflow-artifacts:/fraudops"
    assert settings.drift_share_threshold == Settings.model_fields["drift_share_threshold"].default
    assert settings.live_ap_floor == Settings.model_fields["live_ap_floor"].default


# ---------------------------------------------------------------------- variables and secrets


def test_every_interpolated_variable_is_documented() -> None:
    used = {m["name"] for m in INTERPOLATION.finditer(COMPOSE_FILE.read_text())}
    documented = set(env_example())
    assert used - documented == set(), "used in compose, missing from .env.example"
    assert documented - used == set(), "in .env.example, unused by compose"


def test_env_example_explains_every_variable() -> None:
    """Each assignment sits in a block of lines that carries at least one comment."""
    blocks = ENV_EXAMPLE.read_text().split("\n\n")
    for block in blocks:
        lines = [line for line in block.splitlines() if line.strip()]
        assignments = [line for line in lines if not line.startswith("#")]
        if assignments:
            assert any(line.startswith("#") for line in lines), f"undocumented: {assignments}"


def test_env_example_holds_no_secret(stack_env: ModuleType) -> None:
    values = env_example()
    secrets = {name: value for name, value in values.items() if stack_env.is_secret(name)}
    assert len(secrets) >= 10
    assert all(value == "" for value in secrets.values()), "secrets must be empty placeholders"
    for name, value in values.items():
        looks_random = re.fullmatch(r"[A-Za-z0-9+/=_-]{20,}", value) and not re.search(
            r"[:./]", value
        )
        assert not looks_random, f"{name} looks like a real secret"


def test_secrets_have_no_default_in_compose() -> None:
    """Secrets come only from deployment/.env: ${NAME:?message}, never ${NAME:-default}."""
    for match in INTERPOLATION.finditer(COMPOSE_FILE.read_text()):
        if SECRET_NAME.search(match["name"]):
            assert match["op"] == ":?", f"{match['name']} must be required (:?)"


def test_generated_env_satisfies_every_required_variable(stack_env: ModuleType) -> None:
    """`make stack-env` then `make stack-up` works: nothing required is left empty."""
    values = stack_env.parse_env(stack_env.render_env(ENV_EXAMPLE.read_text()))
    interpolate(COMPOSE_FILE.read_text(), values)  # raises on an empty required variable
    required = {
        m["name"] for m in INTERPOLATION.finditer(COMPOSE_FILE.read_text()) if m["op"] == ":?"
    }
    assert required <= {name for name in values if stack_env.is_secret(name)}


def test_defaults_in_compose_agree_with_env_example() -> None:
    values = env_example()
    for match in INTERPOLATION.finditer(COMPOSE_FILE.read_text()):
        if match["op"] == ":-":
            assert values[match["name"]] == match["arg"], match["name"]


# ---------------------------------------------------------------------- images, builds, hardening


def test_images_are_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = interpolate(service["image"], {})
        if name in BUILT_IMAGES:
            assert image == f"fraudops-{BUILT_IMAGES[name].split('/')[-1].split('.')[0]}:local"
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: image {image} has no tag"
        assert tag != "latest"
        assert re.search(r"\d+\.\d+|RELEASE\.\d{4}-", tag), f"{name}: tag {tag} is not a version"


def test_builds_use_the_repository_dockerfiles(services: dict[str, Any]) -> None:
    for name, dockerfile in BUILT_IMAGES.items():
        build = services[name]["build"]
        context = (COMPOSE_FILE.parent / build["context"]).resolve()
        assert context == REPO
        assert build["dockerfile"] == dockerfile
        assert (context / dockerfile).is_file()


def test_services_running_our_images_drop_privileges(services: dict[str, Any]) -> None:
    for name in BUILT_IMAGES:
        service = services[name]
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name


def test_logs_are_rotated(services: dict[str, Any]) -> None:
    for name, service in services.items():
        options = service.get("logging", {}).get("options", {})
        assert options.get("max-size"), f"{name}: unbounded json-file logs"


# ---------------------------------------------------------------------- volumes and ports


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                path = (COMPOSE_FILE.parent / source).resolve()
                assert path.exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} not declared"
                used.add(source)
    assert used == declared, f"declared but unused: {declared - used}"
    for stateful in ("postgres", "minio", "redis", "prometheus", "grafana"):
        assert any(
            not v.startswith((".", "/")) for v in compose["services"][stateful]["volumes"]
        ), f"{stateful} keeps its data in no named volume"


def test_ports_bind_to_the_configurable_address(services: dict[str, Any]) -> None:
    for name, service in services.items():
        published = {}
        for port in service.get("ports", []):
            match = re.fullmatch(
                r"\$\{STACK_BIND_ADDRESS:-127\.0\.0\.1\}:\$\{(\w+):-(\d+)\}:(\d+)", port
            )
            assert match, f"{name}: port {port} must be ${{STACK_BIND_ADDRESS}}:${{X_PORT}}:N"
            variable, host_port, container_port = match.groups()
            assert host_port == container_port
            published[int(container_port)] = variable
        assert published == PUBLISHED_PORTS.get(name, {}), name


def test_postgres_init_script_is_mounted(services: dict[str, Any]) -> None:
    mounts = services["postgres"]["volumes"]
    assert any(
        m.startswith("./postgres/init-databases.sh:/docker-entrypoint-initdb.d/") for m in mounts
    )
    env = environment(services["postgres"])
    for variable in (
        "MLFLOW_DB_USER",
        "MLFLOW_DB_PASSWORD",
        "AIRFLOW_DB_USER",
        "AIRFLOW_DB_PASSWORD",
        "CASES_DB_USER",
        "CASES_DB_PASSWORD",
    ):
        assert variable in env


def test_the_api_keeps_its_review_queue_in_postgres(services: dict[str, Any]) -> None:
    env = environment(services["api"])
    assert env["FRAUDOPS_CASES_URL"].startswith("postgresql+psycopg2://")
    assert env["FRAUDOPS_CASES_URL"].endswith("@postgres:5432/cases")
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_mlflow_uses_postgres_and_minio(services: dict[str, Any]) -> None:
    env = environment(services["mlflow"])
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")
    assert env["MLFLOW_BACKEND_STORE_URI"].endswith("@postgres:5432/mlflow")
    assert env["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://")
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    # The API and Airflow reach MLflow as http://mlflow:5000: that Host header must pass.
    hosts = interpolate(env["MLFLOW_SERVER_ALLOWED_HOSTS"], {}).split(",")
    assert "mlflow:5000" in hosts


def test_spark_cluster_serves_the_engine_spark_steps(services: dict[str, Any]) -> None:
    master, worker = services["spark-master"], services["spark-worker"]
    assert master["image"].startswith("apache/spark:4.0.")  # pyspark 4.0 drives it
    assert master["user"] == "185:185"  # the image's spark user, never root
    assert worker["image"] == services["airflow-scheduler"]["image"]  # the drivers' Python
    assert "spark://spark-master:7077" in worker["command"]
    assert worker["depends_on"] == {"spark-master": {"condition": "service_healthy"}}
    assert environment(worker)["PYSPARK_PYTHON"] == "/opt/venv/bin/python"
    for name in ("spark-master", "spark-worker"):
        assert services[name].get("healthcheck"), name
        assert services[name].get("cap_drop") == ["ALL"], name
    # only the master's page is published (for make stack-check); 7077 stays inside
    assert master["ports"] == [
        "${STACK_BIND_ADDRESS:-127.0.0.1}:${SPARK_MASTER_UI_PORT:-8090}:8090"
    ]
    assert not worker.get("ports")
    for submitter in ("airflow-scheduler", "api"):
        env = environment(services[submitter])
        assert env["FRAUDOPS_SPARK_MASTER"] == "spark://spark-master:7077", submitter
        assert Settings(spark_master=env["FRAUDOPS_SPARK_MASTER"]).spark_master
    submit = environment(services["airflow-scheduler"])["PYSPARK_SUBMIT_ARGS"]
    assert "hadoop-aws:3.4.1" in submit
    assert "spark.hadoop.fs.s3a.endpoint=http://minio:9000" in submit
