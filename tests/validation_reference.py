"""The validation this project used before its polars checks: pandera on pandas.

Kept as an oracle (the equality test in tests/data/test_validate.py) and as the baseline
of benchmarks/bench_validation.py; not part of the installed package. Importable from
every test folder because pytest puts ``tests/`` on the path.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pandera.pandas as pa
import polars as pl

from fraudops.data.validate import PATTERNS
from fraudops.schema import ALL_FIELDS, FieldSpec

# checks on a whole row: pandera names one failure per non-null column of the row
ROW_CHECKS = {
    "label_time_only_for_fraud": "label_available_at",
    "label_not_before_transaction": "label_available_at",
    "scenario_only_for_fraud": "fraud_scenario",
}


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
    row_checks = [
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
    return pa.DataFrameSchema(columns, checks=row_checks, strict=False, coerce=False)


def pandera_reasons(
    typed: pl.DataFrame, interval: tuple[datetime, datetime] | None = None
) -> dict[int, set[str]]:
    """Per failing row (position in ``typed``), the ``check:column`` names it failed."""
    pdf = typed.to_pandas(use_pyarrow_extension_array=False)
    reasons: dict[int, set[str]] = {}
    try:
        build_schema(interval).validate(pdf, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        row_cases = cases[cases["index"].notna()]
        for index, column, check in row_cases[["index", "column", "check"]].itertuples(index=False):
            # a row check is named once, by the column it is about
            name = f"{check}:{ROW_CHECKS.get(check, column)}"
            reasons.setdefault(int(index), set()).add(name)
    return reasons
