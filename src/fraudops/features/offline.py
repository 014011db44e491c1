"""Offline feature engine: every feature of every transaction, point-in-time correct.

Vectorised over the whole history: no Python loop runs per row. The windowed features of
each entity come from :mod:`fraudops.features.windows` (index arithmetic over the rows in
``(entity, time)`` order); the context features are polars expressions on the
transaction itself. Polars does the columnar work (reading, hashing strings, filters,
context features); numpy does the index arithmetic. The semantics are those documented in
:mod:`fraudops.features.spec`; :mod:`fraudops.features.online` implements the same ones
one transaction at a time and a parity test proves them equal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from fraudops.features.definition import ENTITIES, LABEL_KINDS, FeatureDef
from fraudops.features.spec import (
    COLUMN_DEFAULTS,
    COLUMN_FALLBACKS,
    EARTH_RADIUS_KM,
    FEATURES,
    IDENTITY_COLUMNS,
    NIGHT_END_HOUR,
    check_features,
)
from fraudops.features.windows import NO_LABEL, EntityWindows
from fraudops.schema import LABEL_FEED_SCHEMA, POLARS_SCHEMA, conform, first_fraud_reports

logger = logging.getLogger(__name__)


def prepare_transactions(transactions: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns, schema defaults filled, rows in ``(timestamp, transaction_id)`` order."""
    frame = transactions
    if list(frame.columns) != list(POLARS_SCHEMA) or dict(frame.schema) != POLARS_SCHEMA:
        frame = conform(frame)
    if frame["timestamp"].null_count() or frame["transaction_id"].null_count():
        raise ValueError("transactions need a timestamp and a transaction_id on every row")
    # fill only columns that have gaps: rewriting a 10M-row string column costs memory
    fills = [
        pl.col(name).fill_null(pl.lit(value))
        for name, value in COLUMN_DEFAULTS.items()
        if frame[name].null_count()
    ] + [
        pl.col(name).fill_null(pl.col(source))
        for name, source in COLUMN_FALLBACKS.items()
        if frame[name].null_count()
    ]
    if fills:
        frame = frame.with_columns(fills)
    return _in_time_order(frame)


def _in_time_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Sort by (timestamp, transaction_id) without a full string sort.

    Sorting 10M strings is slow; timestamps are integers and ties are rare, so sort by time
    and only order the tied rows by id.
    """
    ts = frame["timestamp"].dt.epoch("us").to_numpy()
    if bool(np.all(ts[1:] >= ts[:-1])):  # stored data usually is in time order already
        tied = np.flatnonzero(ts[1:] == ts[:-1])
        ids = frame["transaction_id"]
        if not tied.size or bool((ids.gather(tied) < ids.gather(tied + 1)).all()):
            return frame
    order = np.argsort(ts, kind="stable")
    ts_sorted = ts[order]
    tied = np.flatnonzero(ts_sorted[1:] == ts_sorted[:-1])
    if tied.size:
        rows = np.unique(np.concatenate([tied, tied + 1]))
        ties = pl.DataFrame(
            {
                "ts": ts_sorted[rows],
                "id": frame["transaction_id"].gather(order[rows]),
                "row": order[rows],
            }
        ).sort("ts", "id")
        order[rows] = ties["row"].to_numpy()
    if bool(np.all(order == np.arange(order.size))):
        return frame
    return frame.select(pl.all().gather(order))


def fraud_known_at(frame: pl.DataFrame, labels: pl.DataFrame | None) -> np.ndarray:
    """Per row of the prepared frame: when its fraud became known (µs), or NO_LABEL.

    The earliest fraud report wins; a report before the transaction itself counts from the
    transaction time (nothing can be known about a transaction before it happens).
    """
    ts = frame["timestamp"].dt.epoch("us").to_numpy()
    if labels is None:
        # the feed derived from the rows themselves needs no join (ids are unique)
        reported = (
            frame.select(
                pl.when(pl.col("is_fraud") == 1)
                .then(pl.col("label_available_at").dt.epoch("us"))
                .fill_null(NO_LABEL)
            )
            .to_series()
            .to_numpy()
        )
        derived: np.ndarray = np.where(reported == NO_LABEL, NO_LABEL, np.maximum(reported, ts))
        return derived
    missing = set(LABEL_FEED_SCHEMA) - set(labels.columns)
    if missing:
        raise ValueError(f"label feed lacks columns {sorted(missing)}")
    first_report = first_fraud_reports(labels).select(
        "transaction_id", pl.col("reported_at").dt.epoch("us").alias("__known")
    )
    known = (
        frame.select("transaction_id")
        .join(first_report, on="transaction_id", how="left", maintain_order="left")
        .get_column("__known")
        .fill_null(NO_LABEL)
        .to_numpy()
    )
    result: np.ndarray = np.where(known == NO_LABEL, NO_LABEL, np.maximum(known, ts))
    return result


def _haversine_km() -> pl.Expr:
    lat1, lon1 = pl.col("customer_lat").radians(), pl.col("customer_lon").radians()
    lat2, lon2 = pl.col("merchant_lat").radians(), pl.col("merchant_lon").radians()
    a = ((lat2 - lat1) / 2).sin().pow(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2).sin().pow(
        2
    )
    return (2 * EARTH_RADIUS_KM * a.sqrt().clip(upper_bound=1.0).arcsin()).fill_null(-1.0)


def context_expr(f: FeatureDef) -> pl.Expr:
    """A context feature as a polars expression over the prepared frame."""
    column = pl.col(f.column) if f.column else None
    hour = pl.col("timestamp").dt.hour()
    expressions: dict[str, pl.Expr] = {}
    if f.kind == "value":
        assert column is not None
        expressions["value"] = column.cast(pl.Float64).fill_null(0.0)
    elif f.kind == "log1p":
        assert column is not None
        expressions["log1p"] = column.cast(pl.Float64).fill_null(0.0).log1p()
    elif f.kind == "hour":
        expressions["hour"] = hour
    elif f.kind == "is_night":
        expressions["is_night"] = hour < NIGHT_END_HOUR
    elif f.kind == "is_weekend":
        expressions["is_weekend"] = pl.col("timestamp").dt.weekday() >= 6
    elif f.kind == "equals":
        assert column is not None
        expressions["equals"] = (column == f.value).fill_null(False)
    elif f.kind == "code":
        assert column is not None
        expressions["code"] = (
            pl.when(column.str.contains(r"^[0-9]{1,9}$"))
            .then(column.cast(pl.Int64, strict=False))
            .otherwise(-1)
        )
    elif f.kind == "distance_home":
        expressions["distance_home"] = _haversine_km()
    if f.kind not in expressions:
        raise ValueError(f"unknown context kind {f.kind!r}")
    return expressions[f.kind].cast(compact_dtype(f)).alias(f.name)


# Kinds whose values are small integers are held as such until written (the float64 table
# of 10M rows x 51 features alone is 4 GB); every value converts to float64 exactly.
_COMPACT: dict[str, pl.DataType] = {
    "count": pl.Int32(),
    "distinct": pl.Int32(),
    "fraud_count": pl.Int32(),
    "code": pl.Int32(),
    "is_new": pl.Int8(),
    "equals": pl.Int8(),
    "is_night": pl.Int8(),
    "is_weekend": pl.Int8(),
    "hour": pl.Int8(),
}


def compact_dtype(f: FeatureDef) -> pl.DataType:
    """The exact, smallest dtype a feature is held in before it is written as float64."""
    return _COMPACT.get(f.kind, pl.Float64())


def as_float64(table: pl.DataFrame, features: Sequence[FeatureDef] = FEATURES) -> pl.DataFrame:
    """The feature columns of a compact table as float64 (the stored and served type)."""
    return table.with_columns(pl.col([f.name for f in features]).cast(pl.Float64))


def _epoch_us(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def build_offline_features(
    transactions: pl.DataFrame,
    labels: pl.DataFrame | None = None,
    features: Sequence[FeatureDef] = FEATURES,
) -> pl.DataFrame:
    """Features of every transaction as of its own time, one row per transaction.

    ``transactions`` has the canonical schema; ``labels`` is a label feed
    (``transaction_id, is_fraud, reported_at``); without one, labels come from the
    transactions' ``is_fraud`` and ``label_available_at``. Rows come back in
    ``(timestamp, transaction_id)`` order with the identity columns
    (:data:`~fraudops.features.spec.IDENTITY_COLUMNS`) and then one Float64 column per
    feature, in spec order.
    """
    return as_float64(compute_features(transactions, labels, features), features)


def compute_features(
    transactions: pl.DataFrame,
    labels: pl.DataFrame | None = None,
    features: Sequence[FeatureDef] = FEATURES,
    since: datetime | None = None,
) -> pl.DataFrame:
    """:func:`build_offline_features` with integer-valued features in compact integer
    dtypes (see :func:`compact_dtype`); :func:`as_float64` turns a slice into the stored
    form. The pipeline uses it to write 10M rows by day within a few GB of memory.

    With ``since``, rows before it are history only: they fill the windows of later rows
    and get no features themselves (the time-chunked engine, ``features.chunked``)."""
    features = tuple(features)
    check_features(features)
    frame = prepare_transactions(transactions)
    n = frame.height
    ts = frame["timestamp"].dt.epoch("us").to_numpy()
    first = 0 if since is None else int(np.searchsorted(ts, _epoch_us(since), side="left"))
    known = (
        fraud_known_at(frame, labels)
        if n and any(f.kind in LABEL_KINDS for f in features)
        else None
    )
    computed: dict[str, pl.Series] = {}
    for entity in ENTITIES:
        defs = [f for f in features if f.windowed and f.entity == entity]
        if not defs or n == 0:
            continue
        started = time.perf_counter()
        engine = EntityWindows(frame, entity, ts)
        # window by window, so only one window's bounds are held at a time
        for f in sorted(defs, key=lambda d: (d.window, d.delay, d.include_current)):
            values = engine.compute(f, known)
            if first:  # a copy: a view would keep the history rows' values alive
                values = values[first:].copy()
            computed[f.name] = pl.Series(f.name, values, dtype=compact_dtype(f))
        del engine  # free this entity's sorted copies before the next one
        logger.debug("%s features in %.1f s", entity, time.perf_counter() - started)
    context = [f for f in features if not f.windowed]
    result = (
        frame.slice(first)
        .select(*IDENTITY_COLUMNS, *[context_expr(f) for f in context])
        .with_columns(
            *[
                computed.get(f.name, pl.Series(f.name, [], dtype=compact_dtype(f)))
                for f in features
                if f.windowed
            ]
        )
    )
    return result.select(*IDENTITY_COLUMNS, *[f.name for f in features])
