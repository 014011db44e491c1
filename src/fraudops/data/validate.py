"""Validation with quarantine: every input row ends up either clean or quarantined.

The checks are polars expressions built from the one schema (``fraudops.schema``): each
has a name ``check:column`` (the names of the pandera checks this module used before, so
reports and quarantine files read the same) and an expression true on a failing row. All
checks run in one pass and yield one bit per row each, so a batch where every row fails
costs about as much as a clean one: reasons are text only for the quarantined rows.

Rows failing any check go to quarantine with the names of the checks they failed; a value
that could not be read as its type is named with the value (``type:timestamp='yesterday'``).
The invariant ``clean + quarantined == input`` holds for every batch and is tested.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from fraudops.data.timestamps import parse_timestamps
from fraudops.schema import ALL_FIELDS, POLARS_SCHEMA, FieldSpec

logger = logging.getLogger(__name__)

QUARANTINE_REASON = "quarantine_reason"
PATTERNS = {"mcc": r"^\d{4}$", "currency": r"^[A-Z]{3}$", "country": r"^[A-Z]{2}$"}
TYPE_CHECK = "type"
NOT_NULLABLE = "not_nullable"
MAX_QUOTED = 60  # characters of an unreadable value quoted in its reason


class BatchRejectedError(Exception):
    """A batch's share of bad rows is above the configured limit."""


@dataclass
class ValidationResult:
    clean: pl.DataFrame
    quarantine: pl.DataFrame  # original values as text, plus ``quarantine_reason``
    report: dict[str, Any] = field(default_factory=dict)
    bad_mask: pl.Series | None = None  # per input row: True when quarantined
    # per input row, one Boolean column per check that failed somewhere in the batch
    failed_checks: pl.DataFrame | None = None

    @property
    def bad_fraction(self) -> float:
        total = self.clean.height + self.quarantine.height
        return self.quarantine.height / total if total else 0.0


@dataclass(frozen=True)
class Check:
    name: str  # "check:column"
    failing: pl.Expr  # True on a row that breaks the check


def _missing(spec: FieldSpec) -> pl.Expr:
    column = pl.col(spec.name)
    # NaN is a missing number, as it was for pandas
    return column.is_null() | column.is_nan() if spec.kind == "float" else column.is_null()


def _column_checks(spec: FieldSpec, interval: tuple[datetime, datetime] | None) -> list[Check]:
    column = pl.col(spec.name)
    present = ~_missing(spec)
    rules: list[tuple[str, pl.Expr]] = []  # (check, expression true on a good value)
    if spec.allowed is not None:
        rules.append((f"isin({list(spec.allowed)!r})", column.is_in(list(spec.allowed))))
    if spec.name == "amount":
        rules.append((f"greater_than({spec.min_value})", column > spec.min_value))
        rules.append((f"less_than_or_equal_to({spec.max_value})", column <= spec.max_value))
    elif spec.min_value is not None and spec.max_value is not None:
        rules.append(
            (
                f"in_range({spec.min_value}, {spec.max_value})",
                column.is_between(spec.min_value, spec.max_value),
            )
        )
    if spec.name in PATTERNS:
        rules.append(
            (f"str_matches('{PATTERNS[spec.name]}')", column.str.contains(PATTERNS[spec.name]))
        )
    if spec.kind == "str" and not spec.nullable:
        rules.append(("not_empty", column.str.len_bytes() > 0))
    if spec.name == "transaction_id":
        # the first of duplicated ids stays clean; the others are quarantined
        repeated = column.map_batches(repeated_after_first, return_dtype=pl.Boolean)
        rules.append(("field_uniqueness", ~repeated))
    if spec.name == "timestamp" and interval is not None:
        start, end = (t.astimezone(UTC) for t in interval)
        rules.append(
            (
                f"inside_batch_interval[{start.isoformat()},{end.isoformat()})",
                (column >= start) & (column < end),
            )
        )
    checks = [Check(f"{name}:{spec.name}", present & ~ok) for name, ok in rules]
    if not spec.nullable:
        checks.append(Check(f"{NOT_NULLABLE}:{spec.name}", _missing(spec)))
    return checks


def repeated_after_first(values: pl.Series) -> pl.Series:
    """True on each repeat of a value seen earlier in ``values`` (nulls never repeat).

    Hashing strings is ~30x cheaper than polars' ``is_first_distinct`` on them: equal values
    have equal hashes, so only rows whose hash repeats need the exact, slower comparison.
    """
    hashes = values.hash()
    ordered = hashes.sort()
    repeats = ordered.filter(ordered == ordered.shift(1))
    mask = pl.repeat(False, values.len(), eager=True, dtype=pl.Boolean)
    if repeats.is_empty():
        return mask
    rows = hashes.is_in(repeats.unique()).arg_true()
    candidates = values.gather(rows)
    return mask.scatter(rows, candidates.is_not_null() & ~candidates.is_first_distinct())


def _row_checks() -> list[Check]:
    """Consistency between columns of a row (labels and their times)."""
    fraud = (pl.col("is_fraud") == 1).fill_null(False)
    label_at = pl.col("label_available_at")
    after = (label_at >= pl.col("timestamp")).fill_null(False)
    return [
        Check("label_time_only_for_fraud:label_available_at", label_at.is_not_null() & ~fraud),
        Check("label_not_before_transaction:label_available_at", label_at.is_not_null() & ~after),
        Check(
            "scenario_only_for_fraud:fraud_scenario",
            pl.col("fraud_scenario").is_not_null() & ~fraud,
        ),
    ]


def build_checks(interval: tuple[datetime, datetime] | None = None) -> list[Check]:
    """Every check of a batch, by name; ``interval`` = [start, end) of its timestamps."""
    checks = [c for spec in ALL_FIELDS for c in _column_checks(spec, interval)]
    return sorted(checks + _row_checks(), key=lambda c: c.name)


def coerce_frame(
    frame: pl.DataFrame, timestamp_format: str | None = None, timezone: str = "UTC"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cast ``frame`` to the canonical dtypes without raising.

    Returns the typed frame and the values that were present but could not be read as
    their type: one text column per field with such values, null on rows that read fine,
    so those rows are quarantined with the value named, not lost. Blank text is missing.
    """
    columns: list[pl.Series] = []
    unreadable: list[pl.Series] = []
    for name, dtype in POLARS_SCHEMA.items():
        if name not in frame.columns:
            columns.append(pl.Series(name, [], dtype=dtype).extend_constant(None, frame.height))
            continue
        source = frame[name]
        if source.dtype == dtype:
            columns.append(source)
            continue
        if isinstance(dtype, pl.Datetime) and isinstance(source.dtype, pl.Datetime):
            naive = source.dtype.time_zone is None
            cast = (
                source.dt.replace_time_zone("UTC") if naive else source.dt.convert_time_zone("UTC")
            )
            columns.append(cast.cast(dtype).alias(name))
            continue
        if isinstance(dtype, pl.Datetime):
            cast = parse_timestamps(source, timestamp_format, timezone)
        else:
            cast = source.cast(dtype, strict=False)
        failed = source.is_not_null() & cast.is_null()
        if failed.any():
            # a second look only at the failures: padded numbers read, blank text is missing
            rows = failed.arg_true()
            text = source.gather(rows).cast(pl.String).str.strip_chars()
            if not isinstance(dtype, pl.Datetime):
                cast = cast.scatter(rows, text.cast(dtype, strict=False))
            still = cast.gather(rows).is_null() & (text.str.len_bytes() > 0)
            if still.any():
                failed = failed.scatter(rows, still)
                bad_text = pl.select(pl.when(failed).then(source.cast(pl.String))).to_series()
                unreadable.append(bad_text.alias(name))
        columns.append(cast.alias(name))
    typed = pl.DataFrame(columns)
    return typed, pl.DataFrame(unreadable) if unreadable else pl.DataFrame(height=typed.height)


def _reason(name: str) -> pl.Expr:
    if not name.startswith(f"{TYPE_CHECK}:"):
        return pl.when(pl.col(name)).then(pl.lit(name))
    value = pl.col(f"value:{name}")
    quoted = (
        pl.when(value.str.len_chars() > MAX_QUOTED)
        .then(value.str.slice(0, MAX_QUOTED) + "…")
        .otherwise(value)
    )
    return pl.when(pl.col(name)).then(pl.lit(f"{name}='") + quoted + pl.lit("'"))


def run_checks(
    typed: pl.DataFrame,
    interval: tuple[datetime, datetime] | None = None,
    unreadable: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One Boolean column per check that failed on at least one row (True = failed)."""
    found = typed.select([c.failing.alias(c.name) for c in build_checks(interval)])
    unreadable = unreadable if unreadable is not None else pl.DataFrame(height=typed.height)
    extra: list[pl.Series] = []
    for name in unreadable.columns:
        failed = unreadable[name].is_not_null()
        extra.append(failed.alias(f"{TYPE_CHECK}:{name}"))
        nullable = f"{NOT_NULLABLE}:{name}"
        if nullable in found.columns:  # a null from a failed read is that failure, not a null
            found = found.with_columns(pl.col(nullable) & ~failed)
    found = found.hstack(extra)
    counts = found.select(pl.all().sum()).row(0, named=True)
    failing = sorted(name for name, count in counts.items() if count)
    return found.select(failing) if failing else pl.DataFrame(height=typed.height)


def validate_batch(
    frame: pl.DataFrame,
    interval: tuple[datetime, datetime] | None = None,
    original: pl.DataFrame | None = None,
    unreadable: pl.DataFrame | None = None,
) -> ValidationResult:
    """Split one batch into clean and quarantined rows, with a quality report.

    ``original`` (the raw rows, before casting) is what gets quarantined when given, so a
    value that failed to parse is kept exactly as it arrived; ``unreadable`` comes from
    ``coerce_frame`` when the caller cast the batch itself.
    """
    if unreadable is None:
        typed, unreadable = coerce_frame(frame)
    else:
        typed = frame
    raw = original if original is not None else frame
    failed = run_checks(typed, interval, unreadable)
    if failed.width:
        bad_mask = failed.select(pl.any_horizontal(pl.all())).to_series().alias("bad")
        values = unreadable.select(pl.all().name.prefix(f"value:{TYPE_CHECK}:"))
        reasons = (
            failed.hstack(values)
            .filter(bad_mask)
            .select(
                pl.concat_str(
                    [_reason(n) for n in failed.columns], separator="; ", ignore_nulls=True
                )
            )
            .to_series()
        )
    else:
        bad_mask = pl.repeat(False, typed.height, eager=True, dtype=pl.Boolean)
        reasons = pl.Series([], dtype=pl.String)
    clean = typed.filter(~bad_mask) if failed.width else typed
    quarantine = (
        raw.filter(bad_mask)
        .select(pl.all().cast(pl.String))
        .with_columns(reasons.alias(QUARANTINE_REASON))
    )
    result = ValidationResult(clean, quarantine, bad_mask=bad_mask, failed_checks=failed)
    result.report = quality_report(typed, clean, quarantine, failure_counts(failed))
    return result


def failure_counts(failed: pl.DataFrame) -> dict[str, int]:
    """Rows failing each check, most frequent first."""
    if not failed.width or not failed.height:
        return {}
    counts = {name: int(count) for name, count in failed.sum().row(0, named=True).items()}
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))


def quality_report(
    typed: pl.DataFrame, clean: pl.DataFrame, quarantine: pl.DataFrame, failures: dict[str, int]
) -> dict[str, Any]:
    """Counts, failures by check, null rates, fraud rate and amount statistics."""
    amount = clean["amount"] if clean.height else pl.Series([], dtype=pl.Float64)
    fraud = clean["is_fraud"].drop_nulls() if clean.height else pl.Series([], dtype=pl.Int8)
    rows = typed.height
    null_counts = typed.null_count().row(0, named=True) if rows else {}
    return {
        "rows": rows,
        "valid_rows": clean.height,
        "quarantined_rows": quarantine.height,
        "bad_fraction": round(quarantine.height / rows, 6) if rows else 0.0,
        # most frequent first, ties by name: value_counts' order varies between runs
        "failures_by_check": dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
        "null_rates": {
            name: round(float(null_counts[name]) / rows, 6) if rows else 0.0
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
