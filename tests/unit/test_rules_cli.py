"""``fraudops rules check`` and ``fraudops rules backtest`` against a real embedded registry
and stored transactions: their output, exit codes and messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner, Result

from fraudops.cli import app
from fraudops.config import get_settings
from fraudops.decisions import EXAMPLE_RULES

if TYPE_CHECKING:
    from conftest import EmbeddedRegistry

runner = CliRunner()
EXAMPLE = EXAMPLE_RULES


def said(result: Result) -> str:
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def embedded(linear_registry: Callable[..., EmbeddedRegistry]) -> EmbeddedRegistry:
    return linear_registry(versions=1, champion=1)


@pytest.fixture
def home(embedded: EmbeddedRegistry, monkeypatch: pytest.MonkeyPatch) -> EmbeddedRegistry:
    monkeypatch.setenv("FRAUDOPS_HOME", str(embedded.home))
    get_settings.cache_clear()
    return embedded


def test_check_accepts_the_example_file() -> None:
    result = runner.invoke(app, ["rules", "check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "version example-2" in said(result)
    assert "(5 active, 3 shadow)" in said(result)


def test_check_refuses_a_bad_file_with_the_rule_and_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: v\nrules:\n  - {name: typo, condition: amout > 1, outcome: review}\n")
    result = runner.invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert "rule 'typo': unknown field 'amout' (did you mean amount" in said(result)
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["rules", "check", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 1
    assert "no rules file" in said(missing)


def test_backtest_reports_every_rule_as_json_and_html(
    home: EmbeddedRegistry, tmp_path: Path
) -> None:
    page = tmp_path / "out" / "backtest.html"
    args = ["rules", "backtest", "--rules", str(EXAMPLE), "--data", home.raw]
    window = ["--from", "2026-03-06", "--to", "2026-03-10"]
    result = runner.invoke(app, [*args, *window, "--json", "--html", str(page)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["start"] == "2026-03-06T00:00:00+00:00"
    assert report["label_cutoff"] == "2026-03-11T00:00:00+00:00"
    assert report["days"] == [f"2026-03-{d:02d}" for d in range(6, 11)]
    assert next(r["name"] for r in report["rules"]) == "watch_list_card"  # priority order
    assert report["transactions"] == sum(report["policy"]["decisions"].values())
    assert sum(report["policy"]["stages"].values()) == report["transactions"]
    assert page.read_text().startswith("<!doctype html>")

    text = runner.invoke(app, [*args, *window])
    assert text.exit_code == 0, text.output
    assert "policy against model alone" in text.stdout
    assert "keyed_ecom_big_new_merchant" in text.stdout


def test_backtest_errors_exit_1_with_a_message(home: EmbeddedRegistry, tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: v\nrules:\n  - {name: m, condition: country > 3, outcome: review}\n")
    base = ["rules", "backtest", "--data", home.raw]
    cases = [
        ([*base, "--rules", str(bad)], "rule 'm': type mismatch: a string > a number"),
        ([*base, "--rules", str(EXAMPLE), "--from", "2026-03-09", "--to", "2026-03-02"], "--from"),
        ([*base, "--rules", str(EXAMPLE), "--from", "March"], "--from must be a date"),
        ([*base, "--rules", str(EXAMPLE), "--model-version", "9"], "version 9"),
        (
            ["rules", "backtest", "--rules", str(EXAMPLE), "--data", str(tmp_path / "nothing")],
            "no transactions found",
        ),
        ([*base, "--rules", str(EXAMPLE), "--from", "2027-01-01"], "no transactions"),
    ]
    for args, expected in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert expected in said(result), (args, result.output)
        assert "Traceback" not in result.output


def test_backtest_takes_probabilities_already_in_the_data_and_a_list_snapshot(
    home: EmbeddedRegistry, tmp_path: Path
) -> None:
    import polars as pl

    from fraudops.data import store

    raw = store.read_dataset(home.raw)
    scored = tmp_path / "scored.parquet"
    raw.with_columns(pl.lit(0.5).alias("fraud_probability")).write_parquet(scored)
    window = raw.filter(pl.col("timestamp") >= pl.datetime(2026, 3, 8, time_zone="UTC"))
    card = window["card_id"][0]
    blocked_rows = window.filter(pl.col("card_id") == card).height
    snapshot = tmp_path / "lists.json"
    snapshot.write_text(
        json.dumps(
            {"entries": [{"list": "block", "kind": "card", "value": card, "expires_at": None}]}
        )
    )
    empty = tmp_path / "rules.yaml"
    empty.write_text("version: none\nrules: []\n")
    result = runner.invoke(
        app,
        [
            "rules", "backtest", "--rules", str(empty), "--data", str(scored),
            "--from", "2026-03-08", "--lists", str(snapshot), "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["transactions"] == window.height
    # every probability is 0.5: the model (thresholds 0.3 / 0.8) reviews everything
    assert report["model"]["decisions"] == {"approve": 0, "review": window.height, "decline": 0}
    assert report["policy"]["stages"]["block_list"] == blocked_rows
    assert report["changed_decisions"] == blocked_rows
