"""Request and response models of the API, named by direction (``…In`` / ``…Out``).

``TransactionIn`` mirrors ``fraudops.schema.TRANSACTION_FIELDS`` (a test keeps them in
step); unknown fields are refused so a misspelt field never silently becomes a default.
Request models are strict: ``true`` or ``"12.5"`` is not an amount and ``0`` is not a time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from fraudops.schema import CHANNELS, ENTRY_MODES, FIELDS_BY_NAME, MAX_AMOUNT

Id = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
if TYPE_CHECKING:  # the allowed values are the schema's, known at run time
    Channel = str
    EntryMode = str
else:
    Channel = Literal[CHANNELS]
    EntryMode = Literal[ENTRY_MODES]
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
TIME_BOUNDS = f"between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC, end excluded)"
TIME_DESCRIPTION = f"ISO 8601 date and time, {TIME_BOUNDS}; without an offset it is taken as UTC."
STRICT_INPUT = ConfigDict(extra="forbid", strict=True)


def utc_within_bounds(value: datetime, field: str) -> datetime:
    """``value`` in UTC, refused (``ValueError``, so a 422) outside the accepted years.

    An offset at the edge of ``datetime``'s range (``0001-01-01T00:00:00+01:00``) cannot
    be converted at all: that is bad input too, not an ``OverflowError``.
    """
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{field} must be {TIME_BOUNDS}") from None
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"{field} must be {TIME_BOUNDS}")
    return value


EXAMPLE_TRANSACTION: dict[str, Any] = {
    "transaction_id": "tx-20260301-00000042",
    "timestamp": "2026-03-01T12:34:56Z",
    "card_id": "card-0000042",
    "customer_id": "cust-0000042",
    "merchant_id": "merch-000107",
    "terminal_id": "term-000107-0",
    "mcc": "5411",
    "amount": 42.5,
    "currency": "EUR",
    "channel": "pos",
    "entry_mode": "chip",
    "country": "FR",
    "customer_lat": 48.85,
    "customer_lon": 2.35,
    "merchant_lat": 48.86,
    "merchant_lon": 2.34,
    "device_id": None,
}


class TransactionIn(BaseModel):
    """One card authorisation to score (the canonical schema, without labels)."""

    model_config = ConfigDict(**STRICT_INPUT, json_schema_extra={"examples": [EXAMPLE_TRANSACTION]})

    transaction_id: Id
    timestamp: datetime = Field(description=TIME_DESCRIPTION)
    card_id: Id
    customer_id: Id | None = Field(None, description="Defaults to card_id.")
    merchant_id: Id
    terminal_id: Id | None = Field(None, description="Defaults to merchant_id.")
    mcc: Annotated[str, StringConstraints(pattern=r"^\d{4}$")] = "0000"
    amount: float = Field(gt=0, le=MAX_AMOUNT, description="Transaction amount, > 0.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"
    channel: Channel = FIELDS_BY_NAME["channel"].default
    entry_mode: EntryMode = FIELDS_BY_NAME["entry_mode"].default
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "ZZ"
    customer_lat: float | None = Field(None, ge=-90, le=90)
    customer_lon: float | None = Field(None, ge=-180, le=180)
    merchant_lat: float | None = Field(None, ge=-90, le=90)
    merchant_lon: float | None = Field(None, ge=-180, le=180)
    device_id: Id | None = None

    @field_validator("timestamp")
    @classmethod
    def _utc_and_plausible(cls, value: datetime) -> datetime:
        return utc_within_bounds(value, "timestamp")


class BatchIn(BaseModel):
    model_config = STRICT_INPUT
    transactions: list[TransactionIn] = Field(min_length=1)


class ReasonOut(BaseModel):
    feature: str
    value: float
    contribution: float
    text: str


class ModelRefOut(BaseModel):
    name: str
    version: int | None
    alias: str


class DecidedByOut(BaseModel):
    """Which stage of the policy decided: a list (``name`` is the kind listed), a rule
    (its name), the model's thresholds (the threshold's decision), or, while the online
    store is unavailable and a fail-open/closed policy is set, ``degraded``."""

    stage: Literal["allow_list", "block_list", "rule", "threshold", "degraded"]
    name: str


class PredictionOut(BaseModel):
    transaction_id: str
    fraud_probability: float = Field(description="The model's calibrated probability.")
    score: int = Field(ge=0, le=999)
    decision: Literal["approve", "review", "decline"]
    decided_by: DecidedByOut
    rules: list[str] = Field(description="Active rules whose condition held.")
    reasons: list[ReasonOut]
    model: ModelRefOut
    degraded: bool = Field(
        False,
        description="True when the online store was unavailable: velocity and risk features "
        "were computed without history and the decision came from what was available.",
    )
    degraded_reason: str | None = Field(None, description="Why the answer is degraded.")
    latency_ms: float


class BatchOut(BaseModel):
    predictions: list[PredictionOut]
    latency_ms: float


class LabelIn(BaseModel):
    """Feedback on a scored transaction: a chargeback, a confirmed fraud or a confirmed
    genuine transaction, with the time it became known."""

    model_config = STRICT_INPUT

    transaction_id: Id
    label: Literal["fraud", "chargeback", "genuine"]
    reported_at: datetime = Field(description=f"When the label became known: {TIME_DESCRIPTION}")

    @field_validator("reported_at")
    @classmethod
    def _utc_and_plausible(cls, value: datetime) -> datetime:
        return utc_within_bounds(value, "reported_at")

    @property
    def is_fraud(self) -> int:
        return 0 if self.label == "genuine" else 1


class LabelOut(BaseModel):
    transaction_id: str
    accepted: bool
    known_transaction: bool = Field(
        description="Whether the online features still hold the transaction (it is inside "
        "their longest window), so a fraud label changes them; the label is recorded either way."
    )


class ErrorOut(BaseModel):
    detail: str | list[dict[str, object]]
