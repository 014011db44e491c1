"""Transactions made ready for the Spark feature engine, and the context features.

The same preparation as :func:`fraudops.features.offline.prepare_transactions`: the
canonical columns and types, the schema's defaults and fallbacks, the order key
``(timestamp, transaction_id)`` as epoch microseconds plus id, and when each fraud became
known (:func:`fraudops.features.offline.fraud_known_at`). Context features are computed per
Arrow batch by the polars engine's own expressions (``mapInArrow``): they depend on one row
only, so running the one definition gives bit-identical values with no Spark copy of the
regexes, calendars and trigonometry to drift from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING

import polars as pl

from fraudops.features.definition import FeatureDef
from fraudops.features.offline import compact_dtype, context_expr
from fraudops.features.spec import COLUMN_DEFAULTS, COLUMN_FALLBACKS
from fraudops.schema import POLARS_SCHEMA

if TYPE_CHECKING:  # pyspark is an optional extra
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import DataType

TS = "__ts_us"  # event time as epoch microseconds: the order key of every window
KNOWN = "__fraud_known_us"  # when the row's fraud became known (µs), null when never

_SPARK_TYPES = {
    pl.String: "string",
    pl.Float64: "double",
    pl.Int8: "tinyint",
    pl.Int32: "int",
    pl.Int64: "bigint",
}


def spark_type_name(dtype: pl.DataType) -> str:
    """The Spark SQL type of a polars dtype used by the schema or the feature table."""
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    for polars_type, name in _SPARK_TYPES.items():
        if dtype == polars_type:
            return name
    raise ValueError(f"no Spark type for {dtype}")


def prepare_transactions(transactions: DataFrame) -> DataFrame:
    """Canonical columns (missing ones null), schema defaults and fallbacks filled, and the
    order key ``__ts_us``. Rows with no timestamp or id are refused, as offline."""
    from pyspark.sql import functions as sf

    present = set(transactions.columns)
    canonical: dict[str, Column] = {}
    for name, dtype in POLARS_SCHEMA.items():
        type_name = spark_type_name(dtype)
        column = sf.col(name) if name in present else sf.lit(None)
        canonical[name] = column.cast(type_name)
    filled = dict(canonical)
    for name, value in COLUMN_DEFAULTS.items():
        filled[name] = sf.coalesce(canonical[name], sf.lit(value))
    for name, source in COLUMN_FALLBACKS.items():
        # from the source column as read, like polars' one with_columns over the input
        filled[name] = sf.coalesce(canonical[name], canonical[source])
    frame = transactions.select(*[filled[name].alias(name) for name in POLARS_SCHEMA])
    missing = frame.filter(sf.col("timestamp").isNull() | sf.col("transaction_id").isNull())
    if missing.limit(1).count():
        raise ValueError("transactions need a timestamp and a transaction_id on every row")
    return frame.withColumn(TS, sf.unix_micros(sf.col("timestamp")))


def with_fraud_known(frame: DataFrame, labels: DataFrame | None) -> DataFrame:
    """Adds ``__fraud_known_us``: the earliest fraud report (from the feed, else the rows'
    own ``is_fraud``/``label_available_at``), never before the transaction itself."""
    from pyspark.sql import functions as sf

    if labels is None:
        reported = sf.when(sf.col("is_fraud") == 1, sf.unix_micros(sf.col("label_available_at")))
        joined = frame.withColumn(KNOWN, reported)
    else:
        missing = {"transaction_id", "is_fraud", "reported_at"} - set(labels.columns)
        if missing:
            raise ValueError(f"label feed lacks columns {sorted(missing)}")
        first_reports = (
            labels.select(
                sf.col("transaction_id").cast("string").alias("transaction_id"),
                sf.col("is_fraud").cast("tinyint").alias("is_fraud"),
                sf.col("reported_at").cast("timestamp").alias("reported_at"),
            )
            .filter((sf.col("is_fraud") == 1) & sf.col("reported_at").isNotNull())
            .groupBy("transaction_id")
            .agg(sf.min(sf.unix_micros(sf.col("reported_at"))).alias(KNOWN))
        )
        joined = frame.join(first_reports, on="transaction_id", how="left")
    # greatest() skips nulls: keep "never reported" null instead of the transaction time
    known = sf.when(sf.col(KNOWN).isNotNull(), sf.greatest(sf.col(KNOWN), sf.col(TS)))
    return joined.withColumn(KNOWN, known)


def _context_batches(
    batches: Iterator[pa.RecordBatch], features: Sequence[FeatureDef], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    for batch in batches:
        table = pa.Table.from_batches([batch])
        inputs = pl.from_arrow(table)
        assert isinstance(inputs, pl.DataFrame)
        values = inputs.select(*[context_expr(f) for f in features]).to_arrow()
        for name in values.column_names:
            table = table.append_column(name, values[name])
        yield from table.cast(schema).to_batches()


def with_context_features(frame: DataFrame, features: Sequence[FeatureDef]) -> DataFrame:
    """Adds the context (row-local) features, computed by the polars engine's expressions."""
    if not features:
        return frame
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StructField, StructType

    fields = [StructField(f.name, spark_type(compact_dtype(f))) for f in features]
    schema = StructType([*frame.schema.fields, *fields])
    arrow_schema = to_arrow_schema(schema)
    compute = partial(_context_batches, features=tuple(features), schema=arrow_schema)
    return frame.mapInArrow(compute, schema)


def spark_type(dtype: pl.DataType) -> DataType:
    """The Spark type object of a polars dtype of the schema or the feature table."""
    from pyspark.sql.types import _parse_datatype_string

    parsed: DataType = _parse_datatype_string(spark_type_name(dtype))
    return parsed
