"""``fraudops demo`` through the CLI: the smallest real closed loop (21 days of history, one
live day, one model) leaves a champion, a summary and a report; bad options are refused
before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fraudops.cli import app

pytestmark = pytest.mark.e2e
runner = CliRunner()


def said(result: Result) -> str:
    return " ".join(result.output.split())


def test_the_smallest_demo_runs_the_loop_and_writes_its_report(isolated_home: Path) -> None:
    args = ["demo", "--days", "22", "--warmup-days", "21", "--customers", "100"]
    result = runner.invoke(app, [*args, "--no-drift", "--models", "lr", "--seed", "42"])
    assert result.exit_code == 0, result.output
    summary = json.loads((isolated_home / "demo-summary.json").read_text())
    assert summary["days"] == 22
    assert summary["warmup_days"] == 21
    assert summary["drift_day"] is None
    assert summary["initial_champion"] == 1
    assert list(summary["initial_comparison"]) == ["lr"]
    assert summary["transactions_scored"] > 0
    assert len(summary["timeline"]) == 1  # one live day
    assert summary["timeline"][0]["champion_version"] == 1
    report = (isolated_home / "report.html").read_text()
    assert "<html" in report.lower()
    assert "Closed loop summary" in result.output
    assert "summary:" in result.output
    assert "report:" in result.output

    from fraudops.config import get_settings
    from fraudops.models.registry import Registry

    settings = get_settings()
    registry = Registry.from_settings(settings)
    assert registry.version_by_alias("champion") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "22", "--warmup-days", "21"], "drift_day must fall in the live part"),
        (["--days", "30", "--warmup-days", "30"], "must be larger than warmup_days"),
        (["--models", "lr,gbm"], "--models takes a comma list of lr, rf, xgb, lgbm"),
    ],
)
def test_demo_refuses_bad_options_before_any_work(
    isolated_home: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["demo", *args])
    assert result.exit_code == 1, result.output
    assert message in said(result)
    assert not (isolated_home / "demo-summary.json").exists()
    assert not (isolated_home / "mlflow").exists()
