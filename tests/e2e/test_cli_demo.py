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


def test_the_demo_compares_an_analyst_team_with_chargebacks_alone(isolated_home: Path) -> None:
    """A small drifted world, run twice: with the simulated team working the real queue
    and with chargebacks as the only labels. Both arms start from the same champion."""
    args = ["demo", "--days", "26", "--warmup-days", "21", "--drift-day", "22"]
    result = runner.invoke(
        app,
        [*args, "--customers", "400", "--models", "lr", "--seed", "42", "--analyst-capacity", "15"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((isolated_home / "demo-summary.json").read_text())
    assert {"recovery_days_with_analysts", "recovery_days_chargebacks_only"} <= set(summary)
    assert "recovery_days_with_analysts" in result.output  # in the summary table
    # the same world and the same first champion in both arms
    first_ap = summary["first_champion_ap_both_arms"]
    assert first_ap[0] is not None
    assert first_ap[0] == first_ap[1]
    live_days = 26 - 21
    assert len(summary["caught_share_with_analysts"]) == live_days
    assert len(summary["caught_share_chargebacks_only"]) == live_days
    # the team worked at most its capacity, every day, through the case store
    assert 0 < summary["analyst_verdicts"] <= 15 * live_days
    assert all(0 <= d["analyst_verdicts"] <= 15 for d in summary["timeline"])
    from fraudops.cases.store import open_store
    from fraudops.data import store

    cases = open_store(f"sqlite:///{isolated_home / 'cases.db'}")
    try:
        closed = [c for g in cases.queue(limit=10_000) for c in g.cases]  # still open
        assert all(c.state in ("open", "in_review") for c in closed)
        feed = store.read_chunks(str(isolated_home / "data" / "label_feed"))
        analyst = feed.filter(feed["source"] == "analyst")
        assert analyst.height == summary["analyst_verdicts"]
        worked = cases.get(cases.by_transaction(analyst["transaction_id"][0]).id)  # type: ignore[union-attr]
        assert worked.state in ("fraud", "genuine")
        assert any(e.actor == "analyst-team" and e.action == "verdict" for e in worked.events)
    finally:
        cases.close()
    # the comparison arm heard no analyst
    arm_feed = store.read_chunks(
        str(isolated_home / "arms" / "chargebacks_only" / "data" / "label_feed")
    )
    assert arm_feed.filter(arm_feed["source"] == "analyst").height == 0
    assert "recovery" in (isolated_home / "report.html").read_text()
