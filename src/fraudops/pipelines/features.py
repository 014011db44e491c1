"""Feature pipeline: stored transactions (+ label feed) -> feature table; online warm start."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import fsspec
import numpy as np
import polars as pl

from fraudops.data import store
from fraudops.data.store import resolve_transactions_uri
from fraudops.features.chunked import chunked_features
from fraudops.features.offline import as_float64, compute_features
from fraudops.features.online import OnlineFeatureEngine
from fraudops.features.spec import FEATURES, describe_features, spec_hash
from fraudops.schema import LABEL_FEED_SCHEMA

logger = logging.getLogger(__name__)

FEATURE_LIST_NAME = "feature_list.json"
Progress = Callable[[str, int], None]
_US_PER_DAY = 86_400_000_000


def read_labels(uri: str, storage_options: dict[str, Any] | None = None) -> pl.DataFrame:
    """A label feed (``transaction_id, is_fraud, reported_at``): a parquet or CSV file, or
    a date-partitioned dataset folder."""
    if uri.endswith((".parquet", ".csv")):
        with fsspec.open(uri, "rb", **(storage_options or {})) as handle:
            raw = pl.read_parquet(handle) if uri.endswith(".parquet") else pl.read_csv(handle)
    else:
        raw = store.read_dataset(uri, storage_options=storage_options)
        if raw.width == 0:
            raise FileNotFoundError(f"no label feed found at {uri}")
    missing = sorted(set(LABEL_FEED_SCHEMA) - set(raw.columns))
    if missing:
        raise ValueError(f"label feed {uri} lacks columns {missing}")
    reported = pl.col("reported_at")
    if raw.schema["reported_at"] == pl.String:
        reported = reported.str.to_datetime(time_zone="UTC", time_unit="us")
    return raw.select(
        pl.col("transaction_id").cast(pl.String),
        pl.col("is_fraud").cast(pl.Int8),
        reported.cast(pl.Datetime("us", "UTC")).alias("reported_at"),
    )


def check_out_spec(out_uri: str, storage_options: dict[str, Any] | None) -> None:
    """Refuse to mix feature tables of two spec versions under one folder."""
    path = store.join_uri(out_uri, FEATURE_LIST_NAME)
    if not store.exists(path, storage_options):
        return
    existing = store.read_json(path, storage_options).get("spec_hash")
    if existing != spec_hash():
        raise ValueError(
            f"{out_uri} holds features of spec {existing}, not of the current spec "
            f"{spec_hash()}; write to another --out (or delete the old table)"
        )


def _day_slices(frame: pl.DataFrame) -> list[tuple[str, int, int]]:
    """(day, offset, length) of each UTC day in a time-sorted frame."""
    days = frame["timestamp"].dt.epoch("us").to_numpy() // _US_PER_DAY
    unique, starts = np.unique(days, return_index=True)
    ends = [*starts[1:].tolist(), frame.height]
    epoch = date(1970, 1, 1)
    return [
        (str(epoch + timedelta(days=int(day))), int(start), int(end - start))
        for day, start, end in zip(unique, starts, ends, strict=True)
    ]


def build_features(
    input_uri: str,
    out_uri: str,
    storage_options: dict[str, Any] | None = None,
    labels_uri: str | None = None,
    on_day: Progress | None = None,
    chunk_days: int | None = None,
    engine: str = "polars",
    spark_master: str | None = None,
) -> dict[str, Any]:
    """Compute the offline features of every stored transaction and write them by day.

    ``input_uri`` is what ``data generate`` (partitions) or ``data validate``/``ingest``
    (a root with ``clean/``) wrote. Labels come from ``labels_uri`` when given, else from
    the transactions' own ``is_fraud``/``label_available_at``. Writes
    ``<out>/date=YYYY-MM-DD/part-0.parquet``, the manifest and ``<out>/feature_list.json``
    (spec hash, names, dtypes, descriptions).

    With ``chunk_days``, days are read and computed that many at a time, each chunk with
    the spec's look-back before it (``fraudops.features.chunked``): memory follows the
    chunk plus look-back, not the whole history; timings then cover all steps at once.

    ``engine="spark"`` computes the same table with Spark
    (:func:`fraudops.pipelines.features_spark.build_features_spark`) on ``spark_master``
    (default: ``Settings.spark_master``, or spark-submit's master when it launched us).
    """
    if engine not in ("polars", "spark"):
        raise ValueError(f"engine must be polars or spark, not {engine!r}")
    if engine == "spark":
        if chunk_days is not None:
            raise ValueError("chunk_days is for the polars engine (Spark bounds memory itself)")
        # imported here: features_spark builds on this module's writer and manifest
        from fraudops.config import get_settings
        from fraudops.pipelines.features_spark import build_features_spark
        from fraudops.pipelines.spark_scoring import driver_master

        master = driver_master(spark_master or get_settings().spark_master)
        return build_features_spark(
            input_uri, out_uri, storage_options, labels_uri, on_day, master=master
        )
    started = time.perf_counter()
    source = resolve_transactions_uri(input_uri, storage_options)
    check_out_spec(out_uri, storage_options)
    labels = read_labels(labels_uri, storage_options) if labels_uri else None
    if chunk_days is not None:
        return _build_chunked(
            source, out_uri, storage_options, labels, labels_uri, on_day, chunk_days, started
        )
    transactions = store.read_dataset(source, storage_options=storage_options)
    if transactions.height == 0:
        raise FileNotFoundError(f"no transactions (date=YYYY-MM-DD partitions) under {input_uri}")
    read = time.perf_counter()
    # compact integer dtypes in memory; each day becomes float64 as it is written
    features = compute_features(transactions, labels)
    del transactions
    computed = time.perf_counter()
    infos = write_feature_days(features, out_uri, storage_options, on_day)
    return finish_build(
        source,
        out_uri,
        storage_options,
        labels_uri,
        infos,
        features.height,
        {
            "read_seconds": round(read - started, 3),
            "compute_seconds": round(computed - read, 3),
            "write_seconds": round(time.perf_counter() - computed, 3),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )


def write_feature_days(
    features: pl.DataFrame,
    out_uri: str,
    storage_options: dict[str, Any] | None,
    on_day: Progress | None,
) -> list[Any]:
    infos = []
    for day, offset, length in _day_slices(features):
        part = as_float64(features.slice(offset, length))
        infos.append(
            store.write_partition(out_uri, day, part, storage_options, update_manifest=False)
        )
        if on_day:
            on_day(day, length)
    return infos


def _build_chunked(
    source: str,
    out_uri: str,
    storage_options: dict[str, Any] | None,
    labels: pl.DataFrame | None,
    labels_uri: str | None,
    on_day: Progress | None,
    chunk_days: int,
    started: float,
) -> dict[str, Any]:
    days = [date.fromisoformat(d) for d in store.list_partitions(source, storage_options)]
    if not days:
        raise FileNotFoundError(f"no transactions (date=YYYY-MM-DD partitions) under {source}")

    def load(first: date, last: date) -> pl.DataFrame:
        return store.read_dataset(source, first, last, storage_options)

    infos: list[Any] = []
    rows = 0
    for _, part in chunked_features(load, days, chunk_days, labels):
        infos += write_feature_days(part, out_uri, storage_options, on_day)
        rows += part.height
    timings = {"chunk_days": chunk_days, "seconds": round(time.perf_counter() - started, 3)}
    return finish_build(source, out_uri, storage_options, labels_uri, infos, rows, timings)


def finish_build(
    source: str,
    out_uri: str,
    storage_options: dict[str, Any] | None,
    labels_uri: str | None,
    infos: list[Any],
    rows: int,
    timings: dict[str, Any],
) -> dict[str, Any]:
    manifest = store.record_partitions(out_uri, infos, storage_options)
    source_manifest = store.read_manifest(source, storage_options)
    summary = {
        "rows": rows,
        "partitions": len(infos),
        "features": len(FEATURES),
        "spec_hash": spec_hash(),
        "dataset_hash": manifest["dataset_hash"],
        "source": source,
        "source_dataset_hash": source_manifest.get("dataset_hash"),
        "labels": labels_uri or "transactions (is_fraud, label_available_at)",
        "out_uri": out_uri,
        **timings,
    }
    feature_list = {
        "spec_hash": summary["spec_hash"],
        "features": describe_features(),
        "rows": summary["rows"],
        "partitions": summary["partitions"],
        "dataset_hash": summary["dataset_hash"],
        "source": source,
        "source_dataset_hash": summary["source_dataset_hash"],
        "labels": summary["labels"],
    }
    store.write_json(store.join_uri(out_uri, FEATURE_LIST_NAME), feature_list, storage_options)
    logger.info("wrote %d feature rows in %d partitions to %s", rows, len(infos), out_uri)
    return summary


def read_feature_list(out_uri: str, storage_options: dict[str, Any] | None = None) -> Any:
    """The ``feature_list.json`` of a feature table."""
    return store.read_json(store.join_uri(out_uri, FEATURE_LIST_NAME), storage_options)


def backfill_online_store(
    engine: OnlineFeatureEngine,
    input_uri: str,
    storage_options: dict[str, Any] | None = None,
    labels_uri: str | None = None,
) -> int:
    """Warm an (empty) online store from stored transactions.

    Reads only the partitions the state can still need (the longest window plus the label
    horizon before the last stored day). Returns the number of transactions indexed.
    """
    source = resolve_transactions_uri(input_uri, storage_options)
    days = store.list_partitions(source, storage_options)
    if not days:
        raise FileNotFoundError(f"no transactions (date=YYYY-MM-DD partitions) under {input_uri}")
    reach_days = math.ceil(engine.layout.index_retention_us / _US_PER_DAY) + 1
    start = date.fromisoformat(days[-1]) - timedelta(days=reach_days)
    history = store.read_dataset(source, start=start, storage_options=storage_options)
    labels = read_labels(labels_uri, storage_options) if labels_uri else None
    return engine.backfill(history, labels)
