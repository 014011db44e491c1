"""`fraudops score --engine spark` writes what the polars engine writes, row for row.

One real local[2] Spark session for the module, a real LightGBM champion in an embedded
registry, a real feature table from `features build`: the Spark job's output is compared
with the polars engine's on the same input (ids, probabilities, scores, decisions,
reasons, layout and manifest).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from fraudops.cli import app
from fraudops.config import Settings, get_settings
from fraudops.data import store
from fraudops.models.bundle import BundleIntegrityError
from fraudops.pipelines.features import build_features
from fraudops.pipelines.scoring import score_dataset
from registry_support import open_registry, register

runner = CliRunner()


@pytest.fixture(scope="module")
def home(
    tmp_path_factory: pytest.TempPathFactory, model_history: pl.DataFrame, trained_model: Any
) -> Path:
    """An embedded home: three days of transactions, their feature table, a LightGBM champion."""
    home = tmp_path_factory.mktemp("spark-scoring") / "home"
    days = model_history["timestamp"].dt.date().unique().sort()[-3:]
    recent = model_history.filter(pl.col("timestamp").dt.date().is_in(days.implode()))
    store.write_dataset(str(home / "raw"), recent)
    build_features(str(home / "raw"), str(home / "features"))
    settings = Settings(home=home, _env_file=None)  # type: ignore[call-arg]
    registry = open_registry(settings)
    version = register(registry, trained_model, home / "bundles")
    registry.set_champion(version, "test fixture")
    return home


def settings_of(home: Path) -> Settings:
    return Settings(home=home, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def use_home(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    def use(home: Path) -> None:
        monkeypatch.setenv("FRAUDOPS_HOME", str(home))
        monkeypatch.setenv("FRAUDOPS_SPARK_MASTER", "local[2]")
        get_settings.cache_clear()

    return use


def test_spark_scores_like_the_polars_engine_row_for_row(
    spark: Any, home: Path, tmp_path: Path
) -> None:
    from fraudops.pipelines.spark_scoring import score_dataset_spark

    settings = settings_of(home)
    features = str(home / "features")
    on_spark = score_dataset_spark(settings, features, str(tmp_path / "spark"), spark=spark)
    # the polars engine from the transactions themselves (features computed in process)
    local = score_dataset(settings, str(home / "raw"), str(tmp_path / "local"), compiled=False)
    assert on_spark["rows"] == local["rows"] > 5_000
    assert on_spark["decisions"] == local["decisions"]
    assert on_spark["decisions"].get("review", 0) + on_spark["decisions"].get("decline", 0) > 0
    # same layout: one part-0.parquet per day, and a manifest of the same days and rows
    spark_manifest = store.read_manifest(str(tmp_path / "spark"))
    local_manifest = store.read_manifest(str(tmp_path / "local"))
    assert spark_manifest["partitions"].keys() == local_manifest["partitions"].keys()
    for day, record in spark_manifest["partitions"].items():
        assert record["rows"] == local_manifest["partitions"][day]["rows"]
        assert (tmp_path / "spark" / record["path"]).is_file()
    got = store.read_dataset(str(tmp_path / "spark"))
    want = store.read_dataset(str(tmp_path / "local"))
    assert got.schema == want.schema
    assert got["transaction_id"].to_list() == want["transaction_id"].to_list()  # same order
    exact = [c for c in want.columns if c not in ("fraud_probability", "reasons")]
    assert got.select(exact).equals(want.select(exact))
    assert (got["fraud_probability"] - want["fraud_probability"]).abs().max() <= 1e-6
    got_reasons = got.select(
        pl.col("reasons").list.eval(pl.element().struct.field("feature")).alias("features"),
        pl.col("reasons").list.eval(pl.element().struct.field("text")).alias("texts"),
    )
    want_reasons = want.select(
        pl.col("reasons").list.eval(pl.element().struct.field("feature")).alias("features"),
        pl.col("reasons").list.eval(pl.element().struct.field("text")).alias("texts"),
    )
    assert got_reasons.equals(want_reasons)
    assert got["reasons"].null_count() == (got["decision"] == "approve").sum()


def test_the_cli_scores_on_spark_and_refuses_bad_input(
    spark: Any, home: Path, tmp_path: Path, use_home: Callable[[Path], None]
) -> None:
    use_home(home)
    out = tmp_path / "scored"
    args = ["score", "--engine", "spark", "--reasons", "none", "--out", str(out)]
    result = runner.invoke(app, [*args, "--input", str(home / "features")])
    assert result.exit_code == 0, result.output
    assert "spark" in result.output
    scored = store.read_dataset(str(out))
    assert scored.height == store.read_manifest(str(home / "features"))["rows"]
    assert scored["reasons"].null_count() == scored.height

    # transactions are not a feature table: the message says what to build first
    result = runner.invoke(app, [*args, "--input", str(home / "raw")])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "not a feature table" in said
    assert "`fraudops features build`" in said
    assert result.exception is None or isinstance(result.exception, SystemExit)

    # a feature table without the model's columns
    thin = tmp_path / "thin"
    table = store.read_dataset(str(home / "features")).drop("card_tx_count_1h", "tx_hour")
    store.write_dataset(str(thin), table)
    (thin / "feature_list.json").write_text("{}")
    result = runner.invoke(app, [*args, "--input", str(thin)])
    assert result.exit_code == 1
    assert "lacks columns the model needs: card_tx_count_1h, tx_hour" in " ".join(
        result.output.split()
    )


def test_no_champion_is_a_clear_error(
    spark: Any, home: Path, tmp_path: Path, use_home: Callable[[Path], None]
) -> None:
    empty = tmp_path / "empty-home"
    open_registry(settings_of(empty))
    use_home(empty)
    args = ["score", "--engine", "spark", "--input", str(home / "features")]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "scored")])
    assert result.exit_code == 1
    assert "no 'champion' model registered yet" in " ".join(result.output.split())
    assert not (tmp_path / "scored").exists()


def test_a_modified_bundle_is_refused_before_it_is_loaded(home: Path, trained_model: Any) -> None:
    from dataclasses import replace

    from fraudops.models.bundle import save_bundle
    from fraudops.pipelines.spark_scoring import bundle_model, pack_bundle

    # a bundle no other test has loaded (its own digest), so nothing is cached yet
    model = replace(trained_model, metadata={**trained_model.metadata, "note": "integrity"})
    digest = save_bundle(model, home / "check-bundle")
    files = pack_bundle(home / "check-bundle")
    tampered = {**files, "bundle.json": files["bundle.json"].replace(b"integrity", b"tampered")}
    with pytest.raises(BundleIntegrityError, match="refusing to load a modified model"):
        bundle_model(tampered, digest)
    loaded = bundle_model(files, digest)
    assert loaded.feature_names == trained_model.feature_names
    assert bundle_model(files, digest) is loaded  # once per process, then reused
