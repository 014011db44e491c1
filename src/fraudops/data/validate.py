"""Validation with quarantine: every input row ends up either clean or quarantined.

The checks are built from the one schema (``fraudops.schema``) as a pandera schema.
Rows failing any check go to quarantine with the names of the checks they failed; the
invariant ``clean + quarantined == input`` holds for every batch and is tested.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import pandera.pandas as pa
import polars as pl

from fraudops.schema import ALL_FIELDS, POLARS_SCHEMA, FieldSpec

logger = logging.getLogger(__name__)

QUARANTINE_REASON = "quarantine_reason"
ROW_ID = "__row"
PATTERNS = {"mcc": r"^\d{4}$", "currency": r"^[A-Z]{3}$", "country": r"^[A-Z]{2}$"}


class BatchRejectedError(Exception):
    """A batch's share of bad rows is above the configured limit."""


@dataclass
class ValidationResult:
    clean: pl.DataFrame
    quarantine: pl.DataFrame  # original values as text, plus ``quarantine_reason``
    report: dict[str, Any] = field(default_factory=dict)
    bad_mask: pl.Series | None = None  # per input row: True when quarantined

    @property
    def bad_fraction(self) -> float:
        total = self.clean.height + self.quarantine.height
        return self.quarantine.height / total if total else 0.0


def _column_checks(spec: FieldSpec) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if spec.allowed is not None:
        checks.append(pa.Check.isin(list(spec.allowed)))
    if spec.name == "amount":
        checks.append(pa.Check.gt(spec.min_value))
        checks.append(pa.Check.le(spec.max_value))
    elif spec.min_value is not None and spec.max_value is not None:
        checks.append(pa.Check.in_range(spec.min_value, spec.max_value))
    if spec.name in PATTERNS:
        checks.append(pa.Check.str_matches(PATTERNS[spec.name]))
    if spec.kind == "str" and not spec.nullable:
        checks.append(pa.Check(lambda s: s.str.len() > 0, element_wise=False, name="not_empty"))
    return checks


def build_schema(interval: tuple[datetime, datetime] | None = None) -> pa.DataFrameSchema:
    """The pandera schema of a batch; ``interval`` = [start, end) the timestamps must fall in."""
    columns: dict[str, pa.Column] = {}
    for spec in ALL_FIELDS:
        checks = _column_checks(spec)
        if spec.name == "timestamp" and interval is not None:
            start, end = (pd.Timestamp(t).tz_convert("UTC") for t in interval)
            checks.append(
                pa.Check(
                    lambda s, a=start, b=end: (s >= a) & (s < b),
                    name=f"inside_batch_interval[{start.isoformat()},{end.isoformat()})",
                )
            )
        columns[spec.name] = pa.Column(
            nullable=spec.nullable,
            checks=checks,
            unique=spec.name == "transaction_id",
            report_duplicates="exclude_first",
            required=True,
        )
    label_checks = [
        pa.Check(
            lambda df: df["label_available_at"].isna() | (df["is_fraud"] == 1),
            name="label_time_only_for_fraud",
        ),
        pa.Check(
            lambda df: (
                df["label_available_at"].isna() | (df["label_available_at"] >= df["timestamp"])
            ),
            name="label_not_before_transaction",
        ),
        pa.Check(
            lambda df: df["fraud_scenario"].isna() | (df["is_fraud"] == 1),
            name="scenario_only_for_fraud",
        ),
    ]
    return pa.DataFrameSchema(columns, checks=label_checks, strict=False, coerce=False)


def coerce_frame(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """Cast ``frame`` to the canonical dtypes without raising.

    Returns the typed frame and, per row, the text of any cast failures (a value that was
    present but could not be read as its type), so such rows are quarantined, not lost.
    """
    problems = pl.Series("problems", [""] * frame.height, dtype=pl.String)
    columns: list[pl.Series | pl.Expr] = []
    for name, dtype in POLARS_SCHEMA.items():
        if name not in frame.columns:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
            continue
        source = frame[name]
        if source.dtype == dtype:
            columns.append(source)
            continue
        if isinstance(dtype, pl.Datetime) and source.dtype == pl.String:
            cast = source.str.to_datetime(time_zone="UTC", strict=False, time_unit="us")
        elif isinstance(dtype, pl.Datetime) and isinstance(source.dtype, pl.Datetime):
            cast = (
                source.dt.replace_time_zone("UTC")
                if source.dtype.time_zone is None  # type: ignore[union-attr]
                else source.dt.convert_time_zone("UTC")
            ).cast(dtype)
        else:
            cast = source.cast(dtype, strict=False)
        failed = source.is_not_null() & cast.is_null()
        if failed.any():
            problems = pl.select(
                pl.when(failed)
                .then(pl.concat_str([problems, pl.lit(f"type:{name};")]))
                .otherwise(problems)
            ).to_series()
        columns.append(cast.alias(name))
    return pl.DataFrame(columns), problems


def _quarantine_frame(frame: pl.DataFrame, reasons: pl.Series) -> pl.DataFrame:
    text = frame.select(pl.all().cast(pl.String))
    return text.with_columns(reasons.alias(QUARANTINE_REASON))


def validate_batch(
    frame: pl.DataFrame,
    interval: tuple[datetime, datetime] | None = None,
    original: pl.DataFrame | None = None,
    cast_problems: pl.Series | None = None,
) -> ValidationResult:
    """Split one batch into clean and quarantined rows, with a quality report.

    ``original`` (the raw rows, before casting) is what gets quarantined when given, so a
    value that failed to parse is kept exactly as it arrived.
    """
    if cast_problems is None:
        typed, cast_problems = coerce_frame(frame)
    else:
        typed = frame
    raw = original if original is not None else frame
    pdf = typed.to_pandas(use_pyarrow_extension_array=False)
    reasons: dict[int, set[str]] = {}
    try:
        build_schema(interval).validate(pdf, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        row_cases = cases[cases["index"].notna()]
        for index, column, check in row_cases[["index", "column", "check"]].itertuples(index=False):
            reasons.setdefault(int(index), set()).add(f"{check}:{column}")
    for index, text in enumerate(cast_problems.to_list()):
        if text:
            for item in text.strip(";").split(";"):
                reasons.setdefault(index, set()).add(item)
    # a nullable check on a value that failed to cast is noise next to its type failure
    bad_rows = sorted(reasons)
    reason_text = pl.Series(
        QUARANTINE_REASON, ["; ".join(sorted(reasons[i])) for i in bad_rows], dtype=pl.String
    )
    bad_mask = pl.Series([False] * typed.height)
    if bad_rows:
        bad_mask = pl.Series(ROW_ID, range(typed.height)).is_in(bad_rows)
    clean = typed.filter(~bad_mask)
    quarantine = _quarantine_frame(raw.filter(bad_mask), reason_text)
    result = ValidationResult(clean=clean, quarantine=quarantine, bad_mask=bad_mask)
    result.report = quality_report(typed, clean, quarantine)
    return result


def quality_report(
    typed: pl.DataFrame, clean: pl.DataFrame, quarantine: pl.DataFrame
) -> dict[str, Any]:
    """Counts, failures by check, null rates, fraud rate and amount statistics."""
    failures: dict[str, int] = {}
    if quarantine.height:
        exploded = quarantine[QUARANTINE_REASON].str.split("; ").explode()
        for check, count in exploded.value_counts().iter_rows():
            failures[str(check)] = int(count)
    amount = clean["amount"] if clean.height else pl.Series([], dtype=pl.Float64)
    fraud = clean["is_fraud"].drop_nulls() if clean.height else pl.Series([], dtype=pl.Int8)
    rows = typed.height
    return {
        "rows": rows,
        "valid_rows": clean.height,
        "quarantined_rows": quarantine.height,
        "bad_fraction": round(quarantine.height / rows, 6) if rows else 0.0,
        # most frequent first, ties by name: value_counts' order varies between runs
        "failures_by_check": dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
        "null_rates": {
            name: round(float(typed[name].null_count()) / rows, 6) if rows else 0.0
            for name in typed.columns
        },
        "fraud_rate": round(float(fraud.mean()), 6) if fraud.len() else None,  # type: ignore[arg-type]
        "labelled_rows": int(fraud.len()),
        "amount": {
            "min": float(amount.min()) if amount.len() else None,  # type: ignore[arg-type]
            "mean": round(float(amount.mean()), 4) if amount.len() else None,  # type: ignore[arg-type]
            "p50": float(amount.quantile(0.5)) if amount.len() else None,  # type: ignore[arg-type]
            "p99": float(amount.quantile(0.99)) if amount.len() else None,  # type: ignore[arg-type]
            "max": float(amount.max()) if amount.len() else None,  # type: ignore[arg-type]
        },
    }
