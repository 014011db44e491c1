"""The Spark interpretation of fraudops' offline steps, for data past one machine.

The session builder lives here so the feature engine and bulk scoring start Spark the same
way (one master setting, Arrow on, UTC everywhere, parquet timestamps as microseconds).
The feature engine is :mod:`fraudops.features.spark.engine` (import it explicitly: it is
not loaded with this package).
"""

from fraudops.features.spark.session import (
    SparkUnavailableError,
    spark_session,
    stop_spark_session,
    stopping_if_started,
)

__all__ = ["SparkUnavailableError", "spark_session", "stop_spark_session", "stopping_if_started"]
