"""Data pipeline: simulate or ingest -> validate (quarantine) -> store, with reports."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from fraudops.data import store
from fraudops.data.generate import SimulationConfig, World, generate_day
from fraudops.data.ingest import ColumnMapping, map_export, read_export
from fraudops.data.validate import (
    BatchRejectedError,
    ValidationResult,
    failure_counts,
    quality_report,
    validate_batch,
)

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class DataStepSummary:
    rows: int
    partitions: int
    dataset_hash: str | None
    uri: str
    quarantined: int = 0


def generate_to_store(
    config: SimulationConfig,
    out_uri: str,
    storage_options: dict[str, Any] | None = None,
    day_indices: range | None = None,
    on_day: Progress | None = None,
) -> DataStepSummary:
    """Simulate day by day straight into partitions (memory stays at one day)."""
    world = World(config)
    infos = []
    for index in day_indices if day_indices is not None else range(config.days):
        frame = generate_day(world, index)
        infos.append(
            store.write_partition(
                out_uri, config.day_of(index), frame, storage_options, update_manifest=False
            )
        )
        if on_day:
            on_day(str(config.day_of(index)), frame.height)
    manifest = store.record_partitions(out_uri, infos, storage_options)
    return DataStepSummary(
        rows=sum(i.rows for i in infos),
        partitions=len(infos),
        dataset_hash=manifest["dataset_hash"],
        uri=out_uri,
    )


def day_interval(day: date | str) -> tuple[datetime, datetime]:
    d = date.fromisoformat(str(day))
    start = datetime(d.year, d.month, d.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _totals(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rows = sum(r["rows"] for r in reports.values())
    bad = sum(r["quarantined_rows"] for r in reports.values())
    return {
        "rows": rows,
        "valid_rows": rows - bad,
        "quarantined_rows": bad,
        "bad_fraction": round(bad / rows, 6) if rows else 0.0,
    }


def _top_failures(reports: dict[str, dict[str, Any]], most: int = 3) -> str:
    """The checks failed by the most rows over all batches, for the rejection message."""
    counts: dict[str, int] = {}
    for report in reports.values():
        for check, rows in report["failures_by_check"].items():
            counts[check] = counts.get(check, 0) + rows
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:most]
    return ", ".join(f"{check} ({rows:,} rows)" for check, rows in top)


def _write_validated(
    results: dict[str, ValidationResult],
    out_uri: str,
    max_bad_fraction: float,
    storage_options: dict[str, Any] | None,
    source: str,
) -> dict[str, Any]:
    """Write quarantine and report always; clean data only when every batch passed."""
    reports = {day: r.report for day, r in results.items()}
    rejected = sorted(day for day, r in results.items() if r.bad_fraction > max_bad_fraction)
    clean_uri = store.join_uri(out_uri, "clean")
    quarantine_uri = store.join_uri(out_uri, "quarantine")
    for day, result in results.items():
        if result.quarantine.height:
            store.write_partition(quarantine_uri, day, result.quarantine, storage_options)
    report = {
        "source": source,
        "max_bad_fraction": max_bad_fraction,
        "passed": not rejected,
        "rejected_batches": rejected,
        "totals": _totals(reports),
        "batches": reports,
        "clean_uri": clean_uri,
        "quarantine_uri": quarantine_uri,
    }
    if not rejected:
        infos = [
            store.write_partition(clean_uri, day, r.clean, storage_options, update_manifest=False)
            for day, r in results.items()
        ]
        store.record_partitions(clean_uri, infos, storage_options)
        # the hashes of this run's own partitions, not of the whole (growing) dataset: a
        # report is a function of its days, identical when a day is validated again
        report["clean_partitions"] = {
            info.day: {"rows": info.rows, "sha256": info.sha256}
            for info in sorted(infos, key=lambda i: i.day)
        }
    store.write_json(store.join_uri(out_uri, "report.json"), report, storage_options)
    days = sorted(results)
    # report.json is the latest run; reports/ keeps one per validated interval
    name = days[0] if len(days) == 1 else f"{days[0]}_{days[-1]}"
    store.write_json(store.join_uri(out_uri, "reports", f"{name}.json"), report, storage_options)
    if rejected:
        worst = max(results[d].bad_fraction for d in rejected)
        raise BatchRejectedError(
            f"{len(rejected)} batch(es) have more bad rows than --max-bad-fraction "
            f"{max_bad_fraction:g} (worst {worst:.2%}, first {rejected[0]}); nothing was "
            f"written to {clean_uri}; see {quarantine_uri} and "
            f"{store.join_uri(out_uri, 'report.json')}; most failed: {_top_failures(reports)}"
        )
    return report


def validate_dataset(
    input_uri: str,
    out_uri: str,
    max_bad_fraction: float = 0.05,
    storage_options: dict[str, Any] | None = None,
    start: date | None = None,
    end: date | None = None,
    on_day: Progress | None = None,
) -> dict[str, Any]:
    """Validate each day partition of ``input_uri`` against its own day interval."""
    results: dict[str, ValidationResult] = {}
    for day, frame in store.iter_partitions(input_uri, start, end, storage_options):
        results[day] = validate_batch(frame, day_interval(day))
        if on_day:
            on_day(day, frame.height)
    if not results:
        raise FileNotFoundError(f"no date=YYYY-MM-DD partitions found under {input_uri}")
    return _write_validated(results, out_uri, max_bad_fraction, storage_options, input_uri)


def ingest_export(
    input_uri: str,
    mapping: ColumnMapping,
    out_uri: str,
    max_bad_fraction: float = 0.05,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Map a user's export onto the canonical schema, then validate and store it by day."""
    export = read_export(input_uri, storage_options)
    typed, unreadable = map_export(export, mapping)
    # rows are validated together (ids unique across the file), then stored by day;
    # rows whose timestamp could not be read are kept under the file's first day
    whole = validate_batch(typed, None, original=export, unreadable=unreadable)
    assert whole.bad_mask is not None
    assert whole.failed_checks is not None
    days = typed["timestamp"].dt.date().cast(pl.String)
    fallback = days.drop_nulls().min() or "1970-01-01"
    days = days.fill_null(fallback)
    clean_days = days.filter(~whole.bad_mask)
    quarantine_days = days.filter(whole.bad_mask)
    results: dict[str, ValidationResult] = {}
    for day, in_day in _day_masks(days):
        result = ValidationResult(
            clean=whole.clean.filter(clean_days == day),
            quarantine=whole.quarantine.filter(quarantine_days == day),
        )
        failures = failure_counts(whole.failed_checks.filter(in_day))
        result.report = quality_report(
            typed.filter(in_day), result.clean, result.quarantine, failures
        )
        results[day] = result
    return _write_validated(results, out_uri, max_bad_fraction, storage_options, input_uri)


def _day_masks(days: pl.Series) -> list[tuple[str, pl.Series]]:
    return [(str(day), days == day) for day in days.unique().sort().to_list()]
