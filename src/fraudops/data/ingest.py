"""Ingestion of a user's own transaction export (CSV or parquet) through a column mapping.

Mapping file (YAML)::

    columns:                 # canonical field -> column name in the export
      transaction_id: TX_ID
      timestamp: TX_DATETIME
      card_id: CUSTOMER_ID
      merchant_id: TERMINAL_ID
      amount: TX_AMOUNT
      is_fraud: TX_FRAUD
    timestamp_format: "%d/%m/%Y %H:%M:%S"   # optional, strftime; default: see below
    timezone: Europe/Paris                  # optional, zone of naive timestamps; default UTC
    defaults: {currency: USD}               # optional constants for fields the export lacks
    null_values: {fraud_scenario: ["0"]}    # optional: text meaning "no value", per field
    values:                                 # optional value translations, per field
      channel: {CNP: ecom, CP: pos}
      fraud_scenario: {"none": null}        #   null: the value means "no value"
    label_delay_days: 14                    # optional: label time = timestamp + delay (frauds)

Without ``timestamp_format`` timestamps may be ISO 8601 (``T`` or space, fractions, ``Z``
or an offset, as pandas writes them) or epoch seconds / milliseconds
(``fraudops.data.timestamps``). ``null_values`` may also be a list for every field.
Null values apply first, then value translations, both on the exported text.

Required fields: ``transaction_id, timestamp, card_id, merchant_id, amount``. Missing
optional fields get the defaults documented in ``fraudops.schema`` (``customer_id`` =
``card_id``, ``terminal_id`` = ``merchant_id``, ``mcc`` = 0000, ``currency`` = EUR,
``channel`` = pos, ``entry_mode`` = unknown, ``country`` = ZZ, locations and device null,
labels null).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import fsspec
import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fraudops.data.validate import coerce_frame
from fraudops.schema import ALL_FIELDS, FIELDS_BY_NAME

REQUIRED = tuple(f.name for f in ALL_FIELDS if f.required)
TRUE_WORDS = {"1", "1.0", "true", "t", "yes", "y", "fraud"}
FALSE_WORDS = {"0", "0.0", "false", "f", "no", "n", "genuine", "legit"}


class MappingError(ValueError):
    """The mapping file or the export does not fit together; the message says how."""


class ColumnMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str]
    timestamp_format: str | None = None
    timezone: str = "UTC"
    defaults: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    null_values: dict[str, list[str]] = Field(default_factory=dict)
    label_delay_days: float | None = Field(None, ge=0)

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, value: Any) -> Any:
        # YAML reads 0, 1.5 or ~ as numbers and null; the export's values are text
        if not isinstance(value, dict):
            return value
        return {
            name: {_as_text(k): None if v is None else _as_text(v) for k, v in table.items()}
            if isinstance(table, dict)
            else table
            for name, table in value.items()
        }

    @field_validator("null_values", mode="before")
    @classmethod
    def _null_values_per_field(cls, value: Any) -> Any:
        if isinstance(value, list):  # one list for every field
            value = dict.fromkeys(FIELDS_BY_NAME, value)
        if not isinstance(value, dict):
            return value
        return {
            name: [_as_text(v) for v in items] if isinstance(items, list) else [_as_text(items)]
            for name, items in value.items()
        }

    @field_validator("columns", "defaults", "values", "null_values")
    @classmethod
    def _known_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(FIELDS_BY_NAME))
        if unknown:
            raise ValueError(
                f"unknown canonical field(s) {unknown}; known fields: {sorted(FIELDS_BY_NAME)}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name such as UTC or Europe/Paris)"
            ) from None
        return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        # YAML turns yes/no/true/false/on/off into booleans; the original spelling is lost
        raise ValueError(f'{value} was read by YAML as a boolean: quote it, e.g. "no"')
    if value is None:
        raise ValueError('null is not a value an export can contain here: quote it, e.g. "null"')
    return str(value)


def load_mapping(path: str | Path) -> ColumnMapping:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise MappingError(f"mapping file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise MappingError(f"mapping file {path} must be a YAML mapping with a 'columns:' key")
    try:
        return ColumnMapping.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise MappingError(f"mapping file {path}: {problems}") from exc


def read_export(uri: str, storage_options: dict[str, Any] | None = None) -> pl.DataFrame:
    """Read a CSV or parquet export with every column as text (types are applied later)."""
    suffix = uri.lower().rsplit(".", 1)[-1]
    with fsspec.open(uri, "rb", **(storage_options or {})) as handle:
        if suffix == "parquet":
            frame = pl.read_parquet(handle)
            return frame.with_columns(pl.all().cast(pl.String))
        if suffix in ("csv", "txt", "gz"):
            return pl.read_csv(handle, infer_schema=False)
    raise MappingError(f"cannot read {uri}: expected a .csv or .parquet file")


def _as_label(column: pl.Expr) -> pl.Expr:
    text = column.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(list(TRUE_WORDS)))
        .then(pl.lit("1"))
        .when(text.is_in(list(FALSE_WORDS)))
        .then(pl.lit("0"))
        .otherwise(text)
    )


def apply_mapping(export: pl.DataFrame, mapping: ColumnMapping) -> pl.DataFrame:
    """Rename, translate and default the export's columns into canonical fields, as text;
    ``map_export`` also casts them (``fraudops.data.validate.coerce_frame``)."""
    missing_fields = [name for name in REQUIRED if name not in mapping.columns]
    if missing_fields:
        raise MappingError(
            f"required field(s) {missing_fields} missing from the mapping's 'columns:'"
        )
    missing_columns = {
        field: column for field, column in mapping.columns.items() if column not in export.columns
    }
    if missing_columns:
        listed = ", ".join(f"{f} -> {c!r}" for f, c in missing_columns.items())
        raise MappingError(
            f"column(s) not found in the export: {listed}; the export has columns {export.columns}"
        )
    out: dict[str, pl.Expr] = {}
    for field in ALL_FIELDS:
        name = field.name
        if name in mapping.columns:
            expr = pl.col(mapping.columns[name]).cast(pl.String)
        elif name in mapping.defaults:
            expr = pl.lit(str(mapping.defaults[name]))
        elif field.fallback is not None:
            expr = pl.col(mapping.columns[field.fallback]).cast(pl.String)
        elif field.default is not None:
            expr = pl.lit(str(field.default))
        else:
            expr = pl.lit(None, dtype=pl.String)
        if mapping.null_values.get(name):
            nulls = mapping.null_values[name]
            expr = pl.when(expr.str.strip_chars().is_in(nulls)).then(None).otherwise(expr)
        if name in mapping.values:
            expr = expr.replace(mapping.values[name])
        if name == "is_fraud":
            expr = _as_label(expr)
        out[name] = expr.alias(name)
    return export.select(list(out.values()))


def map_export(export: pl.DataFrame, mapping: ColumnMapping) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The export in canonical fields and types, and the values that could not be read
    (``coerce_frame``'s second result); label times follow ``label_delay_days``."""
    typed, unreadable = coerce_frame(
        apply_mapping(export, mapping), mapping.timestamp_format, mapping.timezone
    )
    if "label_available_at" not in mapping.columns and mapping.label_delay_days is not None:
        delay = pl.duration(seconds=round(mapping.label_delay_days * 86_400))
        typed = typed.with_columns(
            label_available_at=pl.when(pl.col("is_fraud") == 1)
            .then(pl.col("timestamp") + delay)
            .otherwise(None)
        )
    return typed, unreadable
