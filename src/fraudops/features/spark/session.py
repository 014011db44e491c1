"""Start (or reuse) the Spark session every Spark step of fraudops runs in."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyspark is an optional extra; import it only when Spark is asked for
    from pyspark.sql import SparkSession


class SparkUnavailableError(RuntimeError):
    """Spark cannot start here (pyspark not installed, or no Java runtime)."""


def _check_runtime() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SparkUnavailableError(
            "engine=spark needs pyspark: pip install 'fraudops[spark]'"
        ) from exc
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))) and not (
        shutil.which("java")
    ):
        raise SparkUnavailableError(
            "engine=spark needs a Java 17+ runtime: install one (Debian: openjdk-17-jre-headless) "
            "or set JAVA_HOME"
        )


def spark_session(
    master: str = "local[*]",
    app_name: str = "fraudops",
    config: dict[str, Any] | None = None,
) -> SparkSession:
    """The active session, or a new one on ``master``.

    Every session runs in UTC (fraudops' timestamps are UTC instants) with Arrow transfers
    on, so pandas/Arrow conversions and ``mapInArrow`` keep microsecond timestamps exact.
    """
    _check_runtime()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if master.startswith("local"):
        # local Python workers (mapInArrow) run this interpreter, so they import the same
        # fraudops (pyspark reads only the variable); a cluster's executors use the
        # interpreter their image or PYSPARK_PYTHON names
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # a laptop's local[*] is a few cores: Spark's default of 200 shuffle partitions
        # would spend more time scheduling than computing
        .config("spark.sql.shuffle.partitions", os.environ.get("FRAUDOPS_SPARK_PARTITIONS", "8"))
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
    )
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def stop_spark_session() -> None:
    """Stop the active session (tests and the CLI call it when they are done)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover
        return
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


@contextmanager
def stopping_if_started() -> Iterator[None]:
    """Stop the Spark session at the end only if none was active at the start: a CLI
    command's own session ends with it, an embedding program's (or a test's) does not."""
    try:
        from pyspark.sql import SparkSession

        owned = SparkSession.getActiveSession() is None
    except ImportError:  # the step itself then says how to install Spark
        owned = False
    try:
        yield
    finally:
        if owned:
            stop_spark_session()
