"""The shadow report (monitoring/shadow.py, ``fraudops shadow report``): champion and
challenger judged on the same matured transactions with the labels known at the report
time, the decisions that would change, per challenger version."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from shadow_support import T0, shadow_traffic, write_logs
from typer.testing import CliRunner

from fraudops.cli import app
from fraudops.config import Settings, get_settings
from fraudops.models.evaluate import CostModel, average_precision, decision_savings
from fraudops.monitoring.shadow import SHADOW_SCHEMA, build_report, compare_version

runner = CliRunner()
AS_OF = T0 + timedelta(days=40)


def frames(**kwargs: object) -> tuple[pl.DataFrame, pl.DataFrame]:
    shadow, labels = shadow_traffic(**kwargs)  # type: ignore[arg-type]
    return pl.DataFrame(shadow, schema=SHADOW_SCHEMA), pl.DataFrame(labels)


def test_both_models_are_judged_on_the_same_matured_rows_by_hand() -> None:
    shadow, labels = frames(rows=500, fraud_every=25)
    as_of = T0 + timedelta(days=15)  # rows up to day 8 have matured (7 days)
    v = compare_version(shadow, labels, as_of, maturity_days=7, k=10)

    matured = shadow.filter(pl.col("timestamp") <= as_of - timedelta(days=7))
    frauds = labels.filter((pl.col("is_fraud") == 1) & (pl.col("reported_at") <= as_of))
    y = matured["transaction_id"].is_in(frauds["transaction_id"].implode()).to_numpy()
    assert 0 < matured.height < shadow.height
    assert (v.matured, v.frauds, v.transactions) == (matured.height, int(y.sum()), 500)
    assert v.shadow_days == pytest.approx(10.0)
    for side, outcome in (("champion", v.champion), ("challenger", v.challenger)):
        assert outcome is not None
        score = matured[f"{side}_probability"].to_numpy()
        assert outcome.average_precision == pytest.approx(average_precision(y, score))
        decision = matured[f"{side}_decision"].to_numpy()
        savings = decision_savings(
            y.astype(int),
            matured["amount"].to_numpy(),
            decision == "review",
            decision == "decline",
            CostModel(),
        )
        assert outcome.savings == pytest.approx(savings)
    assert v.challenger is not None
    assert v.champion is not None
    assert v.challenger.average_precision == pytest.approx(1.0)
    assert v.champion.average_precision < 0.5
    # transitions count every row, matured or not
    assert sum(n for row in v.transitions.values() for n in row.values()) == 500
    changed = (shadow["champion_decision"] != shadow["challenger_decision"]).sum()
    assert v.changed == changed > 0


def test_labels_reported_after_the_report_time_do_not_count_and_the_latest_label_wins() -> None:
    shadow, labels = frames(rows=200, fraud_every=20)
    fraud_ids = labels.filter(pl.col("is_fraud") == 1)["transaction_id"].to_list()
    late = labels.filter(pl.col("transaction_id") == fraud_ids[0]).with_columns(
        pl.col("reported_at") + timedelta(days=100)
    )
    retracted = labels.filter(pl.col("transaction_id") == fraud_ids[1]).with_columns(
        pl.col("reported_at") + timedelta(days=1), pl.lit(0, pl.Int64).alias("is_fraud")
    )
    edited = pl.concat([labels.filter(pl.col("transaction_id") != fraud_ids[0]), late, retracted])
    before = compare_version(shadow, labels, AS_OF, maturity_days=7)
    after = compare_version(shadow, edited, AS_OF, maturity_days=7)
    assert before.frauds == len(fraud_ids)
    assert after.frauds == len(fraud_ids) - 2
    assert after.labelled == before.labelled - 1  # the late one is not known yet


def test_each_challenger_version_is_compared_on_its_own_rows() -> None:
    v2, l2 = shadow_traffic(challenger_version=2, rows=300, challenger_better=True)
    v3, l3 = shadow_traffic(
        challenger_version=3, rows=200, challenger_better=False, start=T0 + timedelta(days=11)
    )
    shadow = pl.DataFrame(v2 + v3, schema=SHADOW_SCHEMA)
    report = build_report(shadow, pl.DataFrame(l2 + l3), AS_OF, maturity_days=7)
    by_version = {v.challenger_version: v for v in report.versions}
    assert sorted(by_version) == [2, 3]
    assert (by_version[2].transactions, by_version[3].transactions) == (300, 200)
    better, worse = by_version[2].challenger, by_version[3].challenger
    assert better is not None
    assert worse is not None
    assert better.average_precision > 0.99 > worse.average_precision
    # a period bound keeps only version 3's rows
    later = build_report(shadow, pl.DataFrame(l2 + l3), AS_OF, 7, since=T0 + timedelta(days=11))
    assert [v.challenger_version for v in later.versions] == [3]


@pytest.fixture
def home_with_logs(isolated_home: Path) -> Settings:
    settings = Settings(home=isolated_home, label_maturity_days=7, _env_file=None)  # type: ignore[call-arg]
    shadow, labels = shadow_traffic(rows=600, fraud_every=30)
    write_logs(settings, shadow, labels)
    return settings


def test_cli_report_as_json_tables_and_html(home_with_logs: Settings, tmp_path: Path) -> None:
    env = {"FRAUDOPS_LABEL_MATURITY_DAYS": "7"}
    get_settings.cache_clear()
    as_of = ["--as-of", AS_OF.isoformat()]
    result = runner.invoke(app, ["shadow", "report", *as_of, "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (version,) = report["versions"]
    assert version["challenger_version"] == 2
    assert version["transactions"] == version["matured"] == 600
    assert version["frauds"] == 20
    assert version["challenger"]["average_precision"] == pytest.approx(1.0)
    assert report["maturity_days"] == 7

    page = tmp_path / "out" / "shadow.html"
    period = ["--since", "2026-03-01", "--until", "2026-03-11"]
    get_settings.cache_clear()
    tables = runner.invoke(
        app,
        ["shadow", "report", *as_of, *period, "--html", str(page)],
        env=env,
    )
    assert tables.exit_code == 0, tables.output
    text = " ".join(tables.output.split())
    assert "challenger v2 vs champion v1" in text
    assert "average precision" in text
    assert "decisions that would change" in text
    html = page.read_text()
    assert "<h2>Challenger v2 against champion v1</h2>" in html
    assert f"{version['changed']:,} of 600 decisions would change" in html
    assert "from 2026-03-01 to 2026-03-11, as of" in " ".join(html.split())

    get_settings.cache_clear()
    empty = runner.invoke(app, ["shadow", "report", *as_of, "--since", "2026-05-01"], env=env)
    assert empty.exit_code == 0, empty.output
    assert "no challenger was shadow-scored in this period" in empty.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "March"], "--since must be a date as YYYY-MM-DD"),
        (["--since", "2026-03-05", "--until", "2026-03-01"], "is before --since"),
        (["--as-of", "yesterday"], "--as-of must be an ISO date or time"),
    ],
)
def test_cli_refuses_bad_dates_clearly(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["shadow", "report", *args])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_report_without_a_shadow_log_is_empty_not_an_error() -> None:
    result = runner.invoke(app, ["shadow", "report", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["versions"] == []
