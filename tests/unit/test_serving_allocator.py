"""The API process keeps Spark out and can hand freed memory back (in a fresh interpreter:
the test session itself holds Spark for the Spark tests)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from fraudops.serving.allocator import keep_spark_out, limit_arenas, release_freed_memory
keep_spark_out()
limit_arenas()
import mlflow.types.schema  # imports pyspark whenever it can
blob = [bytearray(1 << 16) for _ in range(2000)]
del blob
release_freed_memory()
print("pyspark" in sys.modules and sys.modules["pyspark"] is not None)
"""


def test_mlflow_does_not_pull_spark_into_the_api_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_without_the_guard_mlflow_would_import_spark() -> None:
    # the guard above is needed only while this holds: pyspark is installed and MLflow
    # imports it; when MLflow stops doing so, the guard can go
    script = "import sys, mlflow.types.schema; print('pyspark' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
