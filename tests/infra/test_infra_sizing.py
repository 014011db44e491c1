"""The API's autoscaling maximum comes from the sizing rule of DEPLOYMENT_GUIDE.md:
modules/api-sizing evaluated by Terraform itself (no provider, so it runs offline)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from infra_support import MODULES_DIR, TerraformCli


def _sizing(terraform: TerraformCli, tmp_path: Path, **values: float) -> dict[str, float]:
    config = tmp_path / "api-sizing"
    if not config.exists():
        shutil.copytree(MODULES_DIR / "api-sizing", config)
        init = terraform.run("init", "-backend=false", "-no-color", cwd=config)
        assert init.returncode == 0, init.stderr + init.stdout
    args = [arg for name, value in values.items() for arg in ("-var", f"{name}={value}")]
    apply = terraform.run("apply", "-auto-approve", "-no-color", "-lock=false", *args, cwd=config)
    assert apply.returncode == 0, apply.stderr + apply.stdout
    output = terraform.run("output", "-json", "-no-color", cwd=config)
    return {name: item["value"] for name, item in json.loads(output.stdout).items()}


BASE = {"requests_per_vcpu": 500, "task_cpu": 1024, "cpu_target_percent": 70, "min_count": 2}


@pytest.mark.parametrize(
    ("peak", "task_cpu", "configured", "needed", "maximum"),
    [
        (3000, 1024, 6, 9, 9),  # the guide's example: 3,000 / (0.7 x 500 x 1) = 8.6 -> 9
        (3000, 2048, 6, 5, 6),  # two workers a task: 5 needed, the configured 6 stands
        (0, 1024, 6, 0, 6),  # no peak given: the configured maximum
        (100, 1024, 1, 1, 2),  # never below the minimum
    ],
)
def test_the_maximum_follows_the_sizing_rule(
    terraform: TerraformCli,
    tmp_path: Path,
    peak: int,
    task_cpu: int,
    configured: int,
    needed: int,
    maximum: int,
) -> None:
    sized = _sizing(
        terraform,
        tmp_path,
        **{**BASE, "task_cpu": task_cpu},
        peak_requests_per_second=peak,
        max_count=configured,
    )
    assert sized["tasks_for_peak"] == needed
    assert sized["max_count"] == maximum
    assert sized["requests_per_task"] == pytest.approx(0.7 * 500 * task_cpu / 1024)


def test_the_root_module_takes_its_maximum_from_the_rule() -> None:
    main = (MODULES_DIR.parent / "main.tf").read_text(encoding="utf-8")
    assert "max_capacity                   = module.api_sizing.max_count" in main
