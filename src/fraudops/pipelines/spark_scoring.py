"""Bulk scoring on Spark: a feature table -> the champion's scores, for data past one machine.

The same rows, columns and layout as ``fraudops score`` on polars
(:mod:`fraudops.pipelines.scoring`): ``<out>/date=YYYY-MM-DD/part-0.parquet`` and
``<out>/_manifest.json``. Spark only distributes; the scoring itself is
:func:`~fraudops.pipelines.scoring.score_frame` on each Arrow batch, and each day is
written by :func:`~fraudops.data.store.write_partition`, so the two engines cannot drift.

The model travels as its bundle's bytes (a broadcast) with the digest the registry
recorded: each Python worker checks the digest and loads the bundle once
(:func:`bundle_model`), then reuses it for every batch and task it runs.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from fraudops.config import Settings
from fraudops.data import store
from fraudops.models.bundle import BundleIntegrityError, FraudModel, load_bundle
from fraudops.pipelines.scoring import (
    check_reason_mode,
    is_feature_table,
    registered_version,
    score_frame,
)

if TYPE_CHECKING:  # pyspark is an optional extra
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

# what score_frame reads besides the model's features
SCORED_INPUT_COLUMNS = ("transaction_id", "timestamp", "card_id", "amount")
DAY_COLUMN = "__day"  # days since 1970-01-01 in UTC, whatever the session's time zone
EPOCH = date(1970, 1, 1)
_US_PER_DAY = 86_400_000_000
WRITTEN_SCHEMA = "day string, rows long, sha256 string, path string, decisions string"

# digest -> model, per Python worker: a worker runs many tasks, and loading a bundle
# (files, digest, native model) costs far more than scoring one batch
_MODELS: dict[str, FraudModel] = {}


def pack_bundle(folder: Path) -> dict[str, bytes]:
    """A bundle folder's files by relative path: what executors rebuild it from."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def bundle_model(files: dict[str, bytes], digest: str) -> FraudModel:
    """The model of a packed bundle, loaded once per process and only if its files hash to
    ``digest`` (:func:`~fraudops.models.bundle.load_bundle` refuses any other)."""
    cached = _MODELS.get(digest)
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(prefix="fraudops-bundle-") as scratch:
        folder = Path(scratch)
        for name, payload in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(payload)
        model = load_bundle(folder, digest)
    # Spark runs one task per core: a model thread per task, no oversubscription
    model.threads = 1
    _MODELS[digest] = model
    return model


def score_batches(
    batches: Iterable[pa.RecordBatch],
    load_model: Callable[[], FraudModel],
    version: int,
    name: str,
    alias: str,
    reasons: str,
    schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    """``score_frame`` over Arrow batches of features, each answered in ``schema``."""
    model = load_model()
    for batch in batches:
        if batch.num_rows == 0:
            continue
        features = pl.from_arrow(batch)
        assert isinstance(features, pl.DataFrame)
        scored = score_frame(model, features, version, name, alias, reasons)
        yield from scored.to_arrow().cast(schema).to_batches()


def write_days(
    batches: Iterable[pa.RecordBatch],
    out_uri: str,
    storage_options: dict[str, Any] | None,
    layout: pl.Schema,
) -> Iterator[pa.RecordBatch]:
    """Write a partition's scored rows (sorted by day) one day at a time, as the polars
    engine writes them; yields one record per day for the manifest."""
    import pyarrow as pa

    pending: list[pl.DataFrame] = []
    day: str | None = None

    def flush() -> pa.RecordBatch:
        frame = pl.concat(pending).drop(DAY_COLUMN).cast(layout)
        info = store.write_partition(out_uri, str(day), frame, storage_options, False)
        counts = frame["decision"].value_counts()
        decisions = dict(zip(counts["decision"], counts["count"], strict=True))
        return pa.RecordBatch.from_pydict(
            {
                "day": [info.day],
                "rows": [info.rows],
                "sha256": [info.sha256],
                "path": [info.path],
                "decisions": [json.dumps(decisions)],
            }
        )

    for batch in batches:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        for (epoch_day,), part in frame.partition_by(
            DAY_COLUMN, as_dict=True, maintain_order=True
        ).items():
            batch_day = str(EPOCH + timedelta(days=int(epoch_day)))
            if day is not None and batch_day != day:
                yield flush()
                pending = []
            day = batch_day
            pending.append(part)
    if pending:
        yield flush()


def spark_uri(uri: str) -> str:
    """``s3://`` as Hadoop's S3A connector names it (open-source Spark has no ``s3://``
    filesystem; EMR reads both)."""
    return "s3a://" + uri.removeprefix("s3://") if uri.startswith("s3://") else uri


def check_feature_table(input_uri: str, storage_options: dict[str, Any] | None) -> None:
    if not is_feature_table(input_uri, storage_options):
        raise ValueError(
            f"{input_uri} is not a feature table (no feature_list.json): engine=spark scores "
            "the output of `fraudops features build`; build it first, then score that"
        )


def read_feature_table(
    spark: SparkSession, input_uri: str, storage_options: dict[str, Any] | None
) -> DataFrame:
    """A feature table's day files (``date=*/part-0.parquet``) as one DataFrame."""
    check_feature_table(input_uri, storage_options)
    days = store.list_partitions(input_uri, storage_options)
    if not days:
        raise FileNotFoundError(f"no feature partitions (date=YYYY-MM-DD) under {input_uri}")
    paths = [spark_uri(store.partition_path(input_uri, day)) for day in days]
    return spark.read.parquet(*paths)


def check_columns(frame: DataFrame, model: FraudModel, input_uri: str) -> None:
    """Refuse, before any work, a table that lacks what the model or the output needs."""
    needed = [*SCORED_INPUT_COLUMNS, *model.feature_names]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        more = f" (+{len(missing) - 8} more)" if len(missing) > 8 else ""
        shown = ", ".join(missing[:8]) + more
        raise ValueError(
            f"{input_uri} lacks columns the model needs: {shown}; rebuild the feature table "
            "with this version of fraudops (`fraudops features build`)"
        )


def driver_master(configured: str) -> str:
    """The master this driver runs on: the launcher's when ``spark-submit`` started this
    Python process (EMR Serverless, a cluster's own submit: its master and resources
    rule), else ``configured`` (``settings.spark_master``)."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # set only by a launching JVM
        return configured
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # connect to the launcher's JVM to read its conf
    return str(SparkConf().get("spark.master", configured))


def scored_layout(
    model: FraudModel, sample: pl.DataFrame, version: int, name: str, alias: str
) -> pl.Schema:
    """The polars engine's output schema, from scoring a real row on the driver (which
    also proves the model loads and scores before any executor starts)."""
    return score_frame(model, sample, version, name, alias, "all").schema


def registered_bundle(settings: Settings, alias: str) -> tuple[int, str, dict[str, bytes]]:
    """The version behind ``alias``, its registered digest and its bundle's files."""
    registry, version = registered_version(settings, alias)
    with tempfile.TemporaryDirectory(prefix="fraudops-score-") as scratch:
        folder, digest = registry.download_bundle(version, Path(scratch))
        return version, digest, pack_bundle(folder)


def score_dataset_spark(
    settings: Settings,
    input_uri: str,
    out_uri: str,
    alias: str = "champion",
    reasons: str = "flagged",
    spark: SparkSession | None = None,
) -> dict[str, Any]:
    """``fraudops score --engine spark``: score a feature table with a registered model
    on ``settings.spark_master`` (or ``spark``) and write what the polars engine writes."""
    from fraudops.features.spark import SparkUnavailableError, spark_session

    try:
        from pyspark.sql.functions import floor, unix_micros
        from pyspark.sql.pandas.types import from_arrow_schema
    except ImportError as exc:  # a one-line error, as spark_session gives for Java
        raise SparkUnavailableError(
            "engine=spark needs pyspark: pip install 'fraudops[spark]'"
        ) from exc

    check_reason_mode(reasons)
    options = settings.storage_options()
    check_feature_table(input_uri, options)  # before the registry is opened
    version, digest, files = registered_bundle(settings, alias)
    try:  # on the driver first: a modified bundle fails here, before any executor starts
        model = bundle_model(files, digest)
    except BundleIntegrityError as exc:
        raise BundleIntegrityError(f"{settings.model_name} version {version}: {exc}") from exc
    if spark is None:
        spark = spark_session(driver_master(settings.spark_master), "fraudops-score")
    started = time.perf_counter()
    features = read_feature_table(spark, input_uri, options)
    check_columns(features, model, input_uri)
    features = features.select(*SCORED_INPUT_COLUMNS, *model.feature_names)
    sample = pl.from_arrow(features.limit(1).toArrow())
    assert isinstance(sample, pl.DataFrame)
    if sample.height == 0:
        raise FileNotFoundError(f"no rows to score under {input_uri}")
    layout = scored_layout(model, sample, version, settings.model_name, alias)
    spark_schema = from_arrow_schema(pl.DataFrame(schema=layout).to_arrow().schema)
    arrow_schema = _arrow_schema(spark_schema)
    bundle = spark.sparkContext.broadcast(files)
    name = settings.model_name

    def score(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        def load() -> FraudModel:
            return bundle_model(bundle.value, digest)

        return score_batches(batches, load, version, name, alias, reasons, arrow_schema)

    def write(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return write_days(batches, out_uri, options, layout)

    days = len(store.list_partitions(input_uri, options))
    scored = features.mapInArrow(score, spark_schema)
    by_day = (
        scored.withColumn(DAY_COLUMN, floor(unix_micros("timestamp") / _US_PER_DAY))
        # every row of a day in one task, in the polars engine's row order
        .repartition(days, DAY_COLUMN)
        .sortWithinPartitions(DAY_COLUMN, "timestamp", "transaction_id")
    )
    written = [row.asDict() for row in by_day.mapInArrow(write, WRITTEN_SCHEMA).collect()]
    bundle.unpersist()
    infos = [
        store.PartitionInfo(day=w["day"], rows=w["rows"], sha256=w["sha256"], path=w["path"])
        for w in sorted(written, key=lambda w: str(w["day"]))
    ]
    store.record_partitions(out_uri, infos, options)
    decisions: dict[str, int] = {}
    for w in written:
        for decision, count in json.loads(w["decisions"]).items():
            decisions[decision] = decisions.get(decision, 0) + count
    return {
        "rows": sum(info.rows for info in infos),
        "partitions": len(infos),
        "model_version": version,
        "model_seconds": round(time.perf_counter() - started, 3),
        "engine": f"spark ({model.algorithm}, {spark.sparkContext.master})",
        "decisions": decisions,
        "out": out_uri,
    }


def _arrow_schema(spark_schema: Any) -> pa.Schema:
    """The Arrow schema Spark expects back from ``mapInArrow`` for ``spark_schema``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(spark_schema, timestamp_utc=True)
