"""The canonical transaction and label schema, defined once.

Everything that touches a transaction — the simulator, ingestion, validation, the feature
engines, the API's request model — derives its columns, types and allowed values from
``TRANSACTION_FIELDS`` and ``LABEL_FIELDS`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

Kind = Literal["str", "datetime", "float", "int"]

CHANNELS = ("pos", "contactless", "ecom", "atm")
ENTRY_MODES = ("chip", "magstripe", "contactless", "keyed", "ecom", "unknown")
FRAUD_SCENARIOS = (
    "compromised_terminal",
    "compromised_card",
    "card_testing",
    "account_takeover",
    "merchant_collusion",
    "drift_new_pattern",
)
MAX_AMOUNT = 1_000_000.0  # anything above is a unit or parsing error, not a purchase


@dataclass(frozen=True)
class FieldSpec:
    """One canonical column: its type, whether it must be present, and its rules."""

    name: str
    kind: Kind
    description: str
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    default: Any = None
    fallback: str | None = None  # a missing value takes this column's value
    example: Any = None

    @property
    def polars_dtype(self) -> pl.DataType:
        return {
            "str": pl.String(),
            "datetime": pl.Datetime("us", "UTC"),
            "float": pl.Float64(),
            "int": pl.Int8(),
        }[self.kind]


TRANSACTION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("transaction_id", "str", "Unique transaction identifier.", example="tx-000001"),
    FieldSpec("timestamp", "datetime", "Authorisation time, UTC.", example="2026-01-15T14:03:00Z"),
    FieldSpec("card_id", "str", "Card (PAN token) identifier.", example="card-00042"),
    FieldSpec(
        "customer_id",
        "str",
        "Card holder; defaults to card_id when an export lacks it.",
        required=False,
        fallback="card_id",
        example="cust-00042",
    ),
    FieldSpec("merchant_id", "str", "Merchant identifier.", example="merch-0107"),
    FieldSpec(
        "terminal_id",
        "str",
        "Terminal (or web shop) identifier; defaults to merchant_id.",
        required=False,
        fallback="merchant_id",
        example="term-0107-1",
    ),
    FieldSpec(
        "mcc",
        "str",
        "ISO 18245 merchant category code, four digits.",
        required=False,
        default="0000",
        example="5411",
    ),
    FieldSpec(
        "amount",
        "float",
        "Amount in the transaction currency, > 0.",
        min_value=0.0,
        max_value=MAX_AMOUNT,
        example=42.5,
    ),
    FieldSpec("currency", "str", "ISO 4217 code.", required=False, default="EUR", example="EUR"),
    FieldSpec(
        "channel",
        "str",
        "Where the card was used.",
        required=False,
        allowed=CHANNELS,
        default="pos",
        example="pos",
    ),
    FieldSpec(
        "entry_mode",
        "str",
        "How the card details were captured.",
        required=False,
        allowed=ENTRY_MODES,
        default="unknown",
        example="chip",
    ),
    FieldSpec(
        "country",
        "str",
        "ISO 3166 alpha-2 country of the merchant.",
        required=False,
        default="ZZ",
        example="FR",
    ),
    FieldSpec(
        "customer_lat",
        "float",
        "Card holder's home latitude.",
        required=False,
        nullable=True,
        min_value=-90,
        max_value=90,
        example=48.85,
    ),
    FieldSpec(
        "customer_lon",
        "float",
        "Card holder's home longitude.",
        required=False,
        nullable=True,
        min_value=-180,
        max_value=180,
        example=2.35,
    ),
    FieldSpec(
        "merchant_lat",
        "float",
        "Merchant latitude (null for e-commerce).",
        required=False,
        nullable=True,
        min_value=-90,
        max_value=90,
        example=48.86,
    ),
    FieldSpec(
        "merchant_lon",
        "float",
        "Merchant longitude (null for e-commerce).",
        required=False,
        nullable=True,
        min_value=-180,
        max_value=180,
        example=2.34,
    ),
    FieldSpec(
        "device_id",
        "str",
        "Device fingerprint for e-commerce, null otherwise.",
        required=False,
        nullable=True,
        example=None,
    ),
)

LABEL_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "is_fraud",
        "int",
        "1 when the transaction is fraud; null when unlabelled.",
        required=False,
        nullable=True,
        min_value=0,
        max_value=1,
    ),
    FieldSpec(
        "fraud_scenario",
        "str",
        "Simulator scenario of a fraud (null for genuine or unknown).",
        required=False,
        nullable=True,
    ),
    FieldSpec(
        "label_available_at",
        "datetime",
        "When the fraud became known (chargeback); null if never reported or genuine.",
        required=False,
        nullable=True,
    ),
)

ALL_FIELDS: tuple[FieldSpec, ...] = TRANSACTION_FIELDS + LABEL_FIELDS
FIELDS_BY_NAME: dict[str, FieldSpec] = {f.name: f for f in ALL_FIELDS}
TRANSACTION_COLUMNS: tuple[str, ...] = tuple(f.name for f in TRANSACTION_FIELDS)
LABEL_COLUMNS: tuple[str, ...] = tuple(f.name for f in LABEL_FIELDS)
ALL_COLUMNS: tuple[str, ...] = TRANSACTION_COLUMNS + LABEL_COLUMNS
# optional identifiers that default to another column's value (customer_id -> card_id, ...)
FALLBACKS: dict[str, str] = {f.name: f.fallback for f in ALL_FIELDS if f.fallback}

# A separate label feed (chargebacks, analyst confirmations) uses these columns.
LABEL_FEED_SCHEMA: dict[str, pl.DataType] = {
    "transaction_id": pl.String(),
    "is_fraud": pl.Int8(),
    "reported_at": pl.Datetime("us", "UTC"),
}

POLARS_SCHEMA: dict[str, pl.DataType] = {f.name: f.polars_dtype for f in ALL_FIELDS}


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` with the canonical columns, order and dtypes (missing labels as null)."""
    columns = []
    for name, dtype in POLARS_SCHEMA.items():
        if name in frame.columns:
            columns.append(pl.col(name).cast(dtype))
        else:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(columns)


def label_feed_from_transactions(frame: pl.DataFrame) -> pl.DataFrame:
    """Labels as a separate feed: one event per reported fraud, at the time it became known."""
    return (
        frame.filter(pl.col("is_fraud") == 1, pl.col("label_available_at").is_not_null())
        .select(
            "transaction_id",
            pl.col("is_fraud").cast(pl.Int8),
            pl.col("label_available_at").alias("reported_at"),
        )
        .sort("reported_at", "transaction_id")
    )


def first_fraud_reports(labels: pl.DataFrame) -> pl.DataFrame:
    """Per transaction of a label feed (any ``source``): its earliest fraud report, as
    ``transaction_id, reported_at``. Genuine reports and rows without a time are ignored."""
    return (
        labels.lazy()
        .select(
            pl.col("transaction_id").cast(pl.String),
            pl.col("is_fraud").cast(pl.Int8),
            pl.col("reported_at").cast(pl.Datetime("us", "UTC")),
        )
        .filter(pl.col("is_fraud") == 1, pl.col("reported_at").is_not_null())
        .group_by("transaction_id")
        .agg(pl.col("reported_at").min())
        .collect()
    )
