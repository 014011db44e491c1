"""Offline features on Spark (local mode) against the polars engine, same data, same output.

    .venv/bin/python benchmarks/bench_spark_features.py --customers 20000 --days 31

1. Simulates the dataset once (cached under --data-dir, not timed): 20,000 card holders x
   31 days is ~1M transactions (200,000 x 31: ~10M).
2. Each build runs in its own process, end to end (read the parquet partitions, compute
   every feature, write the feature table by day with its manifest):
   ``fraudops.pipelines.features.build_features`` (polars), then
   ``fraudops.pipelines.features_spark.build_features_spark`` on each ``--masters`` entry
   (default ``local[2]`` and ``local[1]``: the scaling from one core to two). A Spark
   build's time includes starting the JVM (Spark's fixed cost), reported apart as
   ``session_seconds``.
3. Peak RSS is the whole process tree's, sampled every 0.2 s from /proc (Linux): the
   Python driver plus the JVM it starts, which in local mode also runs the executors,
   plus the Python workers that compute the context features.
4. The Spark tables' manifests must equal polars' (same content hash per day): the
   engines agree to the bit, not only to a tolerance.

Last line: JSON with rows, polars and per-master Spark seconds, rows/s, peak RSS (MB),
the local[1] -> local[2] speed-up and whether every table equals polars'.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_features import ensure_dataset

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, MB."""
    tree = _children()
    pending, total_kb = [root], 0
    while pending:
        pid = pending.pop()
        pending += tree.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total_kb += int(handle.read().split()[1]) * PAGE_KB
        except OSError:
            continue
    return total_kb / 1024


class PeakSampler:
    """Samples the process tree's RSS in a thread; ``peak_mb`` is the largest seen."""

    def __init__(self, interval: float = 0.2) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb(os.getpid()))
            self._stop.wait(interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def child(engine: str, source: str, out: str) -> dict[str, Any]:
    with PeakSampler() as sampler:
        if engine == "polars":
            from fraudops.pipelines.features import build_features

            summary = build_features(source, out)
        else:
            from fraudops.features.spark import spark_session, stop_spark_session
            from fraudops.pipelines.features_spark import build_features_spark

            started = time.perf_counter()
            spark_session(engine, "fraudops-bench")  # the session the build then reuses
            session_seconds = time.perf_counter() - started
            summary = build_features_spark(source, out, master=engine)
            summary["seconds"] = round(summary["seconds"] + session_seconds, 3)
            summary["session_seconds"] = round(session_seconds, 3)
            stop_spark_session()
    return {**summary, "peak_rss_mb": round(sampler.peak_mb)}


def run_child(engine: str, source: str, out: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", engine, "--source", source, "--out", out]
    last_line = subprocess.check_output(command, text=True).strip().splitlines()[-1]
    result: dict[str, Any] = json.loads(last_line)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--masters", default="local[2],local[1]")
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "fraudops-bench"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.source, args.out), default=str))
        return

    source = ensure_dataset(Path(args.data_dir), args.customers, args.days, args.seed)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tables:
        polars = run_child("polars", source, f"{tables}/polars")
        rows = polars["rows"]
        result.update(
            rows=rows,
            polars_seconds=polars["seconds"],
            polars_rows_per_s=round(rows / polars["seconds"]),
            polars_peak_rss_mb=polars["peak_rss_mb"],
        )
        equal = True
        for master in args.masters.split(","):
            key = master.replace("[", "_").replace("]", "").replace("*", "all")
            spark = run_child(master, source, f"{tables}/{key}")
            equal &= spark["dataset_hash"] == polars["dataset_hash"]
            result.update(
                {
                    f"spark_{key}_seconds": spark["seconds"],
                    f"spark_{key}_session_seconds": spark["session_seconds"],
                    f"spark_{key}_rows_per_s": round(rows / spark["seconds"]),
                    f"spark_{key}_peak_rss_mb": spark["peak_rss_mb"],
                    f"spark_{key}_vs_polars_time": round(spark["seconds"] / polars["seconds"], 2),
                }
            )
    if "spark_local_1_seconds" in result and "spark_local_2_seconds" in result:
        result["spark_speedup_local_1_to_2"] = round(
            result["spark_local_1_seconds"] / result["spark_local_2_seconds"], 2
        )
    result["tables_equal"] = equal
    result["load_average_1m"] = round(os.getloadavg()[0], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
