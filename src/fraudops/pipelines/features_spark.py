"""Feature pipeline on Spark: the same inputs, feature table layout and manifest as
:func:`fraudops.pipelines.features.build_features`, computed by
:mod:`fraudops.features.spark.engine`.

How the table is written: Spark computes every feature and writes the result once, as
parquet partitioned by UTC day, into a staging folder under the output
(``<out>/_spark_staging-<id>``, invisible to readers, which only look at ``date=`` folders).
Then each day is read back (one day in memory at a time), put in the polars table's column
order, dtypes and row order, and written by the polars path's own writer
(:func:`~fraudops.pipelines.features.write_feature_days`), which also records its content
hash for the manifest. So both engines write byte-for-byte the same files for the same
values, one manifest code path serves both, and the driver never holds more than a day.
Collecting each day straight from Spark instead would recompute (or cache) the whole plan
once per day; writing final files with Spark would give other file names, row groups and
compression, and no content hashes.

S3: the inputs and the output may be ``s3://`` URIs. Spark reads and writes them through
Hadoop's S3A connector (``s3a://``, translated here), which needs the ``hadoop-aws`` jar
matching Spark's Hadoop (``spark.jars.packages=org.apache.hadoop:hadoop-aws:3.4.1``) and
credentials from the usual AWS chain; a custom endpoint (MinIO, moto) comes from
``FRAUDOPS_S3_ENDPOINT_URL`` as ``spark.hadoop.fs.s3a.endpoint`` with path-style access
(:func:`s3a_config`). The jar is not bundled with pyspark, so S3 needs it on the classpath.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import fsspec
import polars as pl

from fraudops.data import store
from fraudops.data.store import resolve_transactions_uri
from fraudops.features.spark.engine import (
    check_spark_features,
    conform_features,
    spark_offline_features,
)
from fraudops.features.spark.session import spark_session
from fraudops.features.spec import FEATURES
from fraudops.pipelines.features import (
    Progress,
    check_out_spec,
    finish_build,
    read_labels,
    write_feature_days,
)
from fraudops.pipelines.spark_scoring import spark_uri

logger = logging.getLogger(__name__)

STAGING_PREFIX = "_spark_staging-"
_DAY = "__day"


def s3a_config(storage_options: dict[str, Any] | None) -> dict[str, str]:
    """Spark settings for S3A from fraudops' fsspec storage options (the endpoint)."""
    endpoint = ((storage_options or {}).get("client_kwargs") or {}).get("endpoint_url")
    if not endpoint:
        return {}
    return {
        "spark.hadoop.fs.s3a.endpoint": str(endpoint),
        "spark.hadoop.fs.s3a.path.style.access": "true",
    }


def _staged_days(staging: str, storage_options: dict[str, Any] | None) -> list[str]:
    fs, root = fsspec.core.url_to_fs(staging, **(storage_options or {}))
    names = [str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(root, detail=False)]
    return sorted(name.removeprefix(f"{_DAY}=") for name in names if name.startswith(f"{_DAY}="))


def _read_staged_day(
    staging: str, day: str, storage_options: dict[str, Any] | None
) -> pl.DataFrame:
    fs, root = fsspec.core.url_to_fs(staging, **(storage_options or {}))
    frames = []
    folder = f"{root}/{_DAY}={day}"
    # listed, not globbed: an output path may hold glob characters ("local[2]")
    names = sorted(str(entry) for entry in fs.ls(folder, detail=False))
    for path in [name for name in names if name.endswith(".parquet")]:
        with fs.open(path, "rb") as handle:
            frames.append(pl.read_parquet(handle))
    return conform_features(pl.concat(frames, how="vertical_relaxed"))


def build_features_spark(
    input_uri: str,
    out_uri: str,
    storage_options: dict[str, Any] | None = None,
    labels_uri: str | None = None,
    on_day: Progress | None = None,
    master: str = "local[*]",
    spark_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`~fraudops.pipelines.features.build_features` with the Spark engine.

    Same arguments (``master`` and ``spark_config`` choose and tune the Spark session),
    same outputs: ``<out>/date=YYYY-MM-DD/part-0.parquet``, the manifest and
    ``feature_list.json``. The caller stops the session when it is done with Spark.
    """
    started = time.perf_counter()
    check_spark_features(FEATURES)  # before reading anything or starting Spark
    source = resolve_transactions_uri(input_uri, storage_options)
    check_out_spec(out_uri, storage_options)
    days = store.list_partitions(source, storage_options)
    if not days:
        raise FileNotFoundError(f"no transactions (date=YYYY-MM-DD partitions) under {input_uri}")
    # a label feed holds one row per report: small beside the transactions, read by polars
    labels = read_labels(labels_uri, storage_options) if labels_uri else None
    spark = spark_session(
        master, "fraudops-features", {**s3a_config(storage_options), **(spark_config or {})}
    )
    paths = [spark_uri(store.partition_path(source, day)) for day in days]
    transactions = spark.read.parquet(*paths)
    label_frame = None if labels is None else spark.createDataFrame(labels.to_arrow())
    table = spark_offline_features(transactions, label_frame, FEATURES)
    staging = store.join_uri(out_uri, STAGING_PREFIX + uuid.uuid4().hex[:12])
    from pyspark.sql import functions as sf

    fs, staging_root = fsspec.core.url_to_fs(staging, **(storage_options or {}))
    try:
        (
            table.withColumn(_DAY, sf.date_format(sf.col("timestamp"), "yyyy-MM-dd"))
            .write.partitionBy(_DAY)
            .parquet(spark_uri(staging))
        )
        computed = time.perf_counter()
        infos: list[Any] = []
        rows = 0
        for day in _staged_days(staging, storage_options):
            part = _read_staged_day(staging, day, storage_options)
            infos += write_feature_days(part, out_uri, storage_options, on_day)
            rows += part.height
    finally:
        if fs.exists(staging_root):
            fs.rm(staging_root, recursive=True)
    timings = {
        "engine": "spark",
        "spark_master": spark.sparkContext.master,
        "compute_seconds": round(computed - started, 3),
        "write_seconds": round(time.perf_counter() - computed, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return finish_build(source, out_uri, storage_options, labels_uri, infos, rows, timings)
