"""The Spark feature engine: the same :data:`~fraudops.features.spec.FEATURES`, computed
with Spark DataFrame window functions over entity-partitioned data.

:func:`spark_offline_features` is a pure function from Spark DataFrames to a Spark
DataFrame with the columns and dtypes of :func:`fraudops.features.offline.compute_features`
(identity columns, then each feature in its compact dtype); :func:`to_polars` brings a
(small) result back as the polars table. Reading and writing live in
:mod:`fraudops.pipelines.features_spark`.

:func:`check_spark_features` runs before any work: a kind with no exact Spark
interpretation is refused there, never computed differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from fraudops.features.definition import ENTITIES, LABEL_KINDS, FeatureDef
from fraudops.features.offline import compact_dtype
from fraudops.features.spark.prepare import (
    prepare_transactions,
    with_context_features,
    with_fraud_known,
)
from fraudops.features.spark.windows import WINDOWED_SPARK_KINDS, with_entity_features
from fraudops.features.spec import FEATURES, IDENTITY_COLUMNS, check_features
from fraudops.schema import POLARS_SCHEMA

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Context features run the polars engine's own expressions per Arrow batch
# (fraudops.features.spark.prepare), so every context kind polars knows is exact.
CONTEXT_SPARK_KINDS = frozenset(
    {"value", "log1p", "hour", "is_night", "is_weekend", "equals", "code", "distance_home"}
)


class SparkFeatureError(ValueError):
    """A feature the Spark engine cannot compute exactly as the polars engine does."""


def check_spark_features(features: Sequence[FeatureDef]) -> None:
    """Refuse, before any work, a spec the Spark engine would not compute exactly."""
    check_features(tuple(features))
    problems = []
    for f in features:
        known = WINDOWED_SPARK_KINDS if f.windowed else CONTEXT_SPARK_KINDS
        if f.kind not in known:
            problems.append(f"{f.name!r} (kind {f.kind!r})")
    if problems:
        raise SparkFeatureError(
            "the Spark engine has no exact interpretation of "
            + ", ".join(problems)
            + f"; it knows {sorted({*WINDOWED_SPARK_KINDS, *CONTEXT_SPARK_KINDS})}. "
            "Use --engine polars, or add the kind to fraudops.features.spark."
        )


def spark_offline_features(
    transactions: DataFrame,
    labels: DataFrame | None = None,
    features: Sequence[FeatureDef] = FEATURES,
) -> DataFrame:
    """Features of every transaction as of its own time, one row per transaction.

    The Spark twin of :func:`fraudops.features.offline.compute_features` (same inputs:
    canonical transactions and an optional label feed ``transaction_id, is_fraud,
    reported_at``; same columns and compact dtypes). Rows come in no particular order.
    """
    features = tuple(features)
    check_spark_features(features)
    frame = prepare_transactions(transactions)
    if any(f.kind in LABEL_KINDS for f in features):
        frame = with_fraud_known(frame, labels)
    frame = with_context_features(frame, [f for f in features if not f.windowed])
    for entity in ENTITIES:
        frame = with_entity_features(
            frame, entity, [f for f in features if f.windowed and f.entity == entity]
        )
    return frame.select(*IDENTITY_COLUMNS, *[f.name for f in features])


def conform_features(
    table: pl.DataFrame, features: Sequence[FeatureDef] = FEATURES
) -> pl.DataFrame:
    """A Spark result brought to polars as the polars engine's table: identity columns in
    their schema dtypes, features in compact dtypes, rows in ``(timestamp, id)`` order."""
    columns = [pl.col(name).cast(POLARS_SCHEMA[name]) for name in IDENTITY_COLUMNS]
    columns += [pl.col(f.name).cast(compact_dtype(f)) for f in features]
    return table.select(columns).sort("timestamp", "transaction_id", maintain_order=True)


def to_polars(frame: DataFrame, features: Sequence[FeatureDef] = FEATURES) -> pl.DataFrame:
    """Collect a (small) Spark feature table to the driver as the polars table."""
    collected = pl.from_arrow(frame.toArrow())
    assert isinstance(collected, pl.DataFrame)
    return conform_features(collected, features)
