"""Validation with 0 % and 100 % bad rows, against the former pandera-on-pandas path.

    .venv/bin/python benchmarks/bench_validation.py --customers 35000 --days 31

1. Simulates the dataset once (cached under --data-dir, not timed): 35,000 card holders
   over 31 days, about 1.75 million transactions, and writes it as a CSV the way an
   export would look when the fraud scenario column says ``0`` for "none".
2. Each case runs in its own process. ``peak_mb`` is the process's peak RSS minus its RSS
   before the batch was read (after imports), so it counts holding the batch, reading it
   and validating it; ``peak_ratio`` divides it by the batch's in-memory size
   (``estimated_size``: typed columns for validation, the export's text for ingestion);
   ``peak_while_reading_mb`` is the same peak taken before validation starts:
   - ``clean``: ``validate_batch`` on every row as one batch, none bad;
   - ``all_bad``: the same rows with an unknown ``channel`` on every row;
   - ``ingest_bad``: ``fraudops data ingest``'s function on the CSV with an identity
     mapping: the ``0`` scenarios put every genuine row in quarantine and the file is
     rejected (the case of issue 15: 5 min 10 s and 11.8 GB before);
   - ``ingest_fixed``: the same file with ``null_values: {fraud_scenario: ["0"]}``.
3. The pandera baseline (``tests/validation_reference.py``, the former checks) runs on the
   first --pandera-rows rows of the clean and all-bad batches, when it is importable.

Last line: JSON with rows/s and peak memory per case, and ``ratio_vs_pandera`` (our rows/s
over pandera's) for the clean and all-bad cases.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from bench_features import ensure_dataset

TESTS = Path(__file__).resolve().parents[1] / "tests"


def rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def load_batch(
    source: str, case: str, limit: int | None
) -> tuple[pl.DataFrame, tuple[datetime, datetime]]:
    from fraudops.data import store

    frame = store.read_dataset(source)
    if limit is not None:
        frame = frame.head(limit)
    if case == "all_bad":
        frame = frame.with_columns(channel=pl.lit("telepathy"))
    first = frame["timestamp"].min().date()  # type: ignore[union-attr]
    last = frame["timestamp"].max().date()  # type: ignore[union-attr]
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return frame, (start, end)


def timed(run: Any, batch_mb: float, baseline_mb: float) -> dict[str, Any]:
    gc.collect()
    loaded = rss_mb("VmHWM") - baseline_mb
    started = time.perf_counter()
    cpu = time.process_time()
    outcome = run()
    seconds = time.perf_counter() - started
    peak = rss_mb("VmHWM") - baseline_mb
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "batch_mb": round(batch_mb),
        "peak_mb": round(peak),
        "peak_ratio": round(peak / batch_mb, 2),
        "peak_while_reading_mb": round(loaded),
        **outcome,
    }


def child_ours(source: str, case: str) -> dict[str, Any]:
    from fraudops.data.validate import validate_batch

    baseline = rss_mb("VmRSS")
    frame, interval = load_batch(source, case, None)

    def run() -> dict[str, Any]:
        result = validate_batch(frame, interval)
        return {
            "quarantined": result.quarantine.height,
            "failures": result.report["failures_by_check"],
        }

    outcome = timed(run, frame.estimated_size("mb"), baseline)
    return {"rows": frame.height, **outcome, "rows_per_s": round(frame.height / outcome["seconds"])}


def child_pandera(source: str, case: str, limit: int) -> dict[str, Any]:
    sys.path.insert(0, str(TESTS))
    from validation_reference import pandera_reasons

    baseline = rss_mb("VmRSS")
    frame, interval = load_batch(source, case, limit)
    outcome = timed(
        lambda: {"quarantined": len(pandera_reasons(frame, interval))},
        frame.estimated_size("mb"),
        baseline,
    )
    return {"rows": frame.height, **outcome, "rows_per_s": round(frame.height / outcome["seconds"])}


def child_ingest(export: str, case: str) -> dict[str, Any]:
    from fraudops.data.ingest import ColumnMapping, read_export
    from fraudops.data.validate import BatchRejectedError
    from fraudops.pipelines.data import ingest_export
    from fraudops.schema import ALL_COLUMNS

    mapping: dict[str, Any] = {"columns": {name: name for name in ALL_COLUMNS}}
    if case == "ingest_fixed":
        mapping["null_values"] = {"fraud_scenario": ["0"]}
    baseline = rss_mb("VmRSS")
    size = read_export(export).estimated_size("mb")  # the batch as ingestion holds it

    def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as out:
            try:
                report = ingest_export(export, ColumnMapping.model_validate(mapping), out)
            except BatchRejectedError:
                report = json.loads((Path(out) / "report.json").read_text())
        failures: dict[str, int] = {}
        for batch in report["batches"].values():
            for name, count in batch["failures_by_check"].items():
                failures[name] = failures.get(name, 0) + count
        return {"passed": report["passed"], **report["totals"], "failures": failures}

    outcome = timed(run, size, baseline)
    return {**outcome, "rows_per_s": round(outcome["rows"] / outcome["seconds"])}


def ensure_export(source: str) -> str:
    """The dataset as a CSV export whose scenario column says ``0`` for "no scenario"."""
    from fraudops.data import store

    target = Path(source) / "export-scenario-0.csv"
    if not target.exists():
        frame = store.read_dataset(source).with_columns(pl.col("fraud_scenario").fill_null("0"))
        frame.write_csv(target, datetime_format="%Y-%m-%d %H:%M:%S%.6f%:z")
    return str(target)


def run_child(*args: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, stdout=subprocess.PIPE, text=True
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    print(json.dumps({f"{args[0]}:{args[1]}": result}), file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=35_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pandera-rows", type=int, default=50_000)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "fraudops-bench"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, case, source, *rest = args.child
        if kind == "ours":
            answer = child_ours(source, case)
        elif kind == "pandera":
            answer = child_pandera(source, case, int(rest[0]))
        else:
            answer = child_ingest(source, case)
        print(json.dumps(answer, default=str))
        return

    source = ensure_dataset(Path(args.data_dir), args.customers, args.days, args.seed)
    export = ensure_export(source)
    result: dict[str, Any] = {}
    for case in ("clean", "all_bad"):
        result[case] = run_child("ours", case, source)
    for case in ("ingest_bad", "ingest_fixed"):
        result[case] = run_child("ingest", case, export)
    try:
        sys.path.insert(0, str(TESTS))
        import validation_reference  # noqa: F401
    except ImportError:
        result["ratio_vs_pandera"] = None
    else:
        ratios = {}
        for case in ("clean", "all_bad"):
            theirs = run_child("pandera", case, source, str(args.pandera_rows))
            result[f"pandera_{case}"] = theirs
            ratios[case] = round(result[case]["rows_per_s"] / theirs["rows_per_s"], 1)
        result["ratio_vs_pandera"] = ratios
    print(json.dumps(result))


if __name__ == "__main__":
    main()
