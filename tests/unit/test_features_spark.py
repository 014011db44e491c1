"""The Spark feature engine: its spec check and ``fraudops features build --engine spark``.

Parity on generated streams is in test_features_parity.py; here the whole command runs on
simulated data and must write the very table and manifest the polars engine writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from fraudops.cli import app
from fraudops.data import store
from fraudops.features.definition import ContextKind, FeatureDef, WindowedKind
from fraudops.features.spark.engine import (
    CONTEXT_SPARK_KINDS,
    SparkFeatureError,
    check_spark_features,
    spark_offline_features,
)
from fraudops.features.spark.windows import WINDOWED_SPARK_KINDS
from fraudops.features.spec import FEATURES

runner = CliRunner()


def test_every_declared_kind_has_a_spark_interpretation() -> None:
    """A kind added to definition.py fails here until Spark computes it (or refuses it)."""
    assert set(get_args(WindowedKind)) == set(WINDOWED_SPARK_KINDS)
    assert set(get_args(ContextKind)) == CONTEXT_SPARK_KINDS
    check_spark_features(FEATURES)


def test_a_kind_spark_cannot_compute_is_refused_before_any_work() -> None:
    median = FeatureDef(
        "tx_amount_median",
        "median",  # type: ignore[arg-type]  # a kind no engine of this spec defines
        "Median amount.",
        column="amount",
    )
    with pytest.raises(SparkFeatureError, match="'tx_amount_median' \\(kind 'median'\\)"):
        check_spark_features([*FEATURES, median])
    # refused before touching the (here absent) data or starting Spark
    with pytest.raises(SparkFeatureError):
        spark_offline_features(None, None, [median])  # type: ignore[arg-type]


def test_engine_option_errors_are_plain(tmp_path: Path) -> None:
    args = ["features", "build", "--input", str(tmp_path), "--out", str(tmp_path / "f")]
    result = runner.invoke(app, [*args, "--engine", "dask"])
    assert result.exit_code == 1
    assert "--engine must be polars or spark" in result.output
    result = runner.invoke(app, [*args, "--engine", "spark", "--chunk-days", "3"])
    assert result.exit_code == 1
    assert "--chunk-days is for the polars engine" in result.output


def test_cli_spark_build_writes_the_polars_table(spark: Any, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate = ["data", "generate", "--customers", "60", "--days", "12", "--seed", "5"]
    assert runner.invoke(app, [*generate, "--out", str(raw)]).exit_code == 0
    outputs = {}
    for engine in ("polars", "spark"):
        out = tmp_path / f"{engine}[1]"  # glob characters in a path are plain characters
        result = runner.invoke(
            app,
            ["features", "build", "--input", str(raw), "--out", str(out), "--engine", engine],
        )
        assert result.exit_code == 0, result.output
        outputs[engine] = out
    polars_manifest = store.read_manifest(str(outputs["polars"]))
    spark_manifest = store.read_manifest(str(outputs["spark"]))
    assert polars_manifest["rows"] > 500
    # same content hash for every day: the same bytes, not only close values
    assert spark_manifest == polars_manifest
    lists = [json.loads((outputs[e] / "feature_list.json").read_text()) for e in outputs]
    assert lists[0] == lists[1]
    tables = [  # partition by partition: read_dataset would glob the "[1]" in the path
        pl.concat([part for _, part in store.iter_partitions(str(outputs[e]))]) for e in outputs
    ]
    assert_frame_equal(tables[1], tables[0], check_exact=True)
    assert not [p.name for p in outputs["spark"].iterdir() if p.name.startswith("_spark")]
    assert spark.sparkContext._jsc is not None  # the shared session outlived the command


def test_spark_build_reads_a_label_feed(spark: Any, tmp_path: Path) -> None:
    """--labels: a separate feed (here the reports of the rows, one later than the data)."""
    raw = tmp_path / "raw"
    generate = ["data", "generate", "--customers", "40", "--days", "9", "--seed", "2"]
    assert runner.invoke(app, [*generate, "--out", str(raw)]).exit_code == 0
    rows = store.read_dataset(str(raw))
    feed = tmp_path / "labels.parquet"
    rows.filter(pl.col("is_fraud") == 1).select(
        "transaction_id", "is_fraud", pl.col("timestamp").alias("reported_at")
    ).write_parquet(feed)
    hashes = []
    for engine in ("polars", "spark"):
        out = tmp_path / engine
        command = ["features", "build", "--input", str(raw), "--out", str(out)]
        result = runner.invoke(app, [*command, "--labels", str(feed), "--engine", engine])
        assert result.exit_code == 0, result.output
        hashes.append(store.read_manifest(str(out))["dataset_hash"])
    assert hashes[0] == hashes[1]
