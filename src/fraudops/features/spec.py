"""Fraud features, declared once.

Each entry of :data:`FEATURES` says *what* a feature is (entity, aggregation, window,
filter, delay); the offline engine (:mod:`fraudops.features.offline`, vectorised over
history) and the online engine (:mod:`fraudops.features.online`, one transaction at a
time) both interpret this one list, so adding a feature built from an existing kind is one
entry here and nothing else. A parity test replays the same stream through both engines.

Semantics shared by both engines (the contract the parity test checks):

- Time is the transaction's event ``timestamp`` (UTC, microseconds). Transactions are
  ordered by ``(timestamp, transaction_id)``; a transaction with the same timestamp and a
  smaller id is "before", one with a larger id is "after".
- A window of length ``W`` with delay ``D`` holds the entity's transactions with
  ``t - D - W < ts <= t - D`` (half-open: a transaction exactly ``W`` old has left the
  window). With ``D = 0`` only transactions before the current one count, plus the
  current one itself when ``include_current`` is set.
- An empty window gives 0 for count, sum, mean, max and distinct; 0 for a fraud rate.
- Labels: a fraud label counts for a feature at time ``t`` only when it was reported at or
  before ``t`` (``reported_at <= t``; a label reported before its own transaction is taken
  as reported at the transaction time). The earliest fraud report wins; ``is_fraud = 0``
  events change nothing (genuine is the default). Never the future: the training frame of a
  transaction at ``t`` sees exactly what the online store knew at ``t``.
- Every feature is a float64 and never NaN: undefined values use documented sentinels
  (seconds since previous = the window length when there is none; distance = -1 when a
  location is missing; MCC code = -1 when the MCC is not digits).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, get_args

from fraudops.schema import CHANNELS, TRANSACTION_FIELDS

# Bumped when an engine's interpretation of the same declarations changes, so the spec hash
# (which versions feature tables and online state) changes with it.
SEMANTICS_VERSION = "1"

Entity = Literal["card_id", "terminal_id", "merchant_id"]
FilterOp = Literal["==", "!=", "<", "<=", ">", ">="]
WindowedKind = Literal[  # aggregated over an entity's history
    "count",
    "sum",
    "mean",
    "max",
    "distinct",
    "is_new",
    "seconds_since_prev",
    "ratio_to_mean",
    "fraud_count",
    "fraud_rate",
]
ContextKind = Literal[  # computed from the transaction itself
    "value",
    "log1p",
    "hour",
    "is_night",
    "is_weekend",
    "equals",
    "code",
    "distance_home",
]
Kind = Literal[WindowedKind, ContextKind]

WINDOWED_KINDS = frozenset(get_args(WindowedKind))
LABEL_KINDS = frozenset({"fraud_count", "fraud_rate"})
NUMERIC_KINDS = frozenset({"sum", "mean", "max", "ratio_to_mean", "value", "log1p"})
CATEGORICAL_KINDS = frozenset({"distinct", "is_new"})
ENTITIES: tuple[Entity, ...] = ("card_id", "terminal_id", "merchant_id")
NUMERIC_COLUMNS = frozenset(
    {"amount", "customer_lat", "customer_lon", "merchant_lat", "merchant_lon"}
)
STRING_COLUMNS = frozenset(
    {
        "card_id",
        "customer_id",
        "merchant_id",
        "terminal_id",
        "mcc",
        "currency",
        "channel",
        "entry_mode",
        "country",
        "device_id",
    }
)

NIGHT_END_HOUR = 6  # 00:00-05:59 UTC is "night"
EARTH_RADIUS_KM = 6371.0
# Fraud-history windows that only hold transactions at least this old: their labels have
# had time to arrive, so a rate over them is a rate, not "the few frauds reported so far"
# (with chargebacks taking a week, an undelayed 7-day rate is 0 almost always). In the spec
# hash through each feature's delay.
LABEL_MATURITY = timedelta(days=7)
# How long the online store remembers transaction ids after the longest window, so late
# labels (chargebacks arrive weeks later) still find their transaction.
LABEL_HORIZON = timedelta(days=60)

# The feature table carries these columns of each transaction before the features.
IDENTITY_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "timestamp",
    "card_id",
    "merchant_id",
    "terminal_id",
    "amount",
    "is_fraud",
    "label_available_at",
    "fraud_scenario",
)
# Missing optional fields take the schema's default in both engines (terminal_id and
# customer_id fall back to merchant_id and card_id, as the schema describes).
COLUMN_DEFAULTS: dict[str, str] = {
    f.name: f.default for f in TRANSACTION_FIELDS if isinstance(f.default, str)
}
COLUMN_FALLBACKS: dict[str, str] = {"terminal_id": "merchant_id", "customer_id": "card_id"}

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Filter:
    """Only transactions whose ``column op value`` holds enter the window (null: never)."""

    column: str
    op: FilterOp
    value: str | float

    def label(self) -> str:
        return f"{self.column} {self.op} {self.value!r}"


@dataclass(frozen=True)
class FeatureDef:
    """One feature: what it aggregates, over which entity's history and time window."""

    name: str
    kind: Kind
    description: str
    entity: Entity | None = None
    column: str | None = None
    window: timedelta | None = None
    include_current: bool = False
    delay: timedelta = timedelta(0)
    where: Filter | None = None
    value: str | None = None  # the category of an "equals" (one-hot) feature
    dtype: str = "float64"

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(f"feature {self.name!r}: " + "; ".join(problems))

    @property
    def windowed(self) -> bool:
        return self.kind in WINDOWED_KINDS

    @property
    def retention(self) -> timedelta:
        """How far back this feature looks (window plus delay); zero for context features."""
        if self.window is None:
            return timedelta(0)
        return self.window + self.delay

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form (used for the spec hash and the docs)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "entity": self.entity,
            "column": self.column,
            "window_seconds": None if self.window is None else self.window.total_seconds(),
            "include_current": self.include_current,
            "delay_seconds": self.delay.total_seconds(),
            "where": None
            if self.where is None
            else {"column": self.where.column, "op": self.where.op, "value": self.where.value},
            "value": self.value,
            "dtype": self.dtype,
        }


def _problems(f: FeatureDef) -> list[str]:
    """Combinations the engines do not define; refused at declaration time."""
    problems: list[str] = []
    if f.dtype != "float64":
        problems.append("every feature is float64")
    if f.windowed:
        if f.entity not in ENTITIES:
            problems.append(f"windowed kind {f.kind!r} needs an entity in {ENTITIES}")
        if f.window is None or f.window <= timedelta(0):
            problems.append("needs a positive window")
        if f.delay < timedelta(0):
            problems.append("delay cannot be negative")
        if f.include_current and f.delay > timedelta(0):
            problems.append("a delayed window cannot include the current transaction")
        if f.kind in {"is_new", "seconds_since_prev"} and (f.include_current or f.delay or f.where):
            problems.append(f"{f.kind} looks strictly before the current transaction")
        if f.kind in LABEL_KINDS and (f.include_current or f.where or f.column):
            problems.append("label features exclude the current transaction and take no filter")
        if f.where is not None and f.where.column not in NUMERIC_COLUMNS | STRING_COLUMNS:
            problems.append(f"unknown filter column {f.where.column!r}")
        if f.where is not None and f.where.op not in ("==", "!="):
            numeric = f.where.column in NUMERIC_COLUMNS and isinstance(f.where.value, float | int)
            if not numeric:
                problems.append("ordering filters need a numeric column and value")
    elif f.entity is not None or f.window is not None or f.where is not None:
        problems.append(f"context kind {f.kind!r} takes no entity, window or filter")
    if f.kind in NUMERIC_KINDS and f.column not in NUMERIC_COLUMNS:
        problems.append(f"{f.kind} needs a numeric column, one of {sorted(NUMERIC_COLUMNS)}")
    if f.kind in CATEGORICAL_KINDS | {"equals", "code"} and f.column not in STRING_COLUMNS:
        problems.append(f"{f.kind} needs a string column, one of {sorted(STRING_COLUMNS)}")
    if f.kind == "equals" and f.value is None:
        problems.append("equals needs a value")
    if f.kind == "count" and f.column is not None:
        problems.append("count takes no column (use a filter)")
    return problems


def _window_label(window: timedelta) -> str:
    if window % DAY == timedelta(0) and window >= DAY and window != DAY:
        return f"{window // DAY}d"
    return f"{window // HOUR}h" if window % HOUR == timedelta(0) else f"{window.total_seconds():g}s"


def _card_velocity() -> list[FeatureDef]:
    features: list[FeatureDef] = []
    for window in (HOUR, DAY, 7 * DAY, 30 * DAY):
        w = _window_label(window)
        span = f"in the last {w} (current transaction included)"
        features += [
            FeatureDef(
                f"card_tx_count_{w}",
                "count",
                f"Transactions of the card {span}.",
                entity="card_id",
                window=window,
                include_current=True,
            ),
            FeatureDef(
                f"card_amount_sum_{w}",
                "sum",
                f"Total amount spent with the card {span}.",
                entity="card_id",
                column="amount",
                window=window,
                include_current=True,
            ),
            FeatureDef(
                f"card_amount_mean_{w}",
                "mean",
                f"Mean amount of the card's transactions {span}.",
                entity="card_id",
                column="amount",
                window=window,
                include_current=True,
            ),
            FeatureDef(
                f"card_amount_max_{w}",
                "max",
                f"Largest amount of the card's transactions {span}.",
                entity="card_id",
                column="amount",
                window=window,
                include_current=True,
            ),
        ]
    return features


def _card_behaviour() -> list[FeatureDef]:
    features = [
        FeatureDef(
            "card_amount_ratio_mean_30d",
            "ratio_to_mean",
            "Amount divided by the card's mean amount over 30 days (current included); "
            "1 for a card's first transaction.",
            entity="card_id",
            column="amount",
            window=30 * DAY,
            include_current=True,
        ),
        FeatureDef(
            "card_seconds_since_prev",
            "seconds_since_prev",
            "Seconds since the card's previous transaction, capped at 30 days "
            "(2,592,000 when the card has none in the last 30 days).",
            entity="card_id",
            window=30 * DAY,
        ),
    ]
    for column, plural in (("merchant_id", "merchants"), ("country", "countries")):
        features.append(
            FeatureDef(
                f"card_distinct_{plural}_24h",
                "distinct",
                f"Distinct {plural} the card was used at in the last 24h (current included).",
                entity="card_id",
                column=column,
                window=DAY,
                include_current=True,
            )
        )
    features.append(
        FeatureDef(
            "card_distinct_devices_24h",
            "distinct",
            "Distinct devices the card was used from in the last 24h (current included; "
            "transactions without a device are not counted).",
            entity="card_id",
            column="device_id",
            window=DAY,
            include_current=True,
        )
    )
    for column, noun in (
        ("merchant_id", "merchant"),
        ("country", "country"),
        ("device_id", "device"),
    ):
        features.append(
            FeatureDef(
                f"card_new_{noun}_30d",
                "is_new",
                f"1 when this {noun} was not used by the card in the previous 30 days "
                f"(a card's first transaction is new everywhere"
                + ("; 0 without a device)." if noun == "device" else ")."),
                entity="card_id",
                column=column,
                window=30 * DAY,
            )
        )
    features += [
        FeatureDef(
            "card_ecom_tx_count_24h",
            "count",
            "E-commerce transactions of the card in the last 24h (current included).",
            entity="card_id",
            window=DAY,
            include_current=True,
            where=Filter("channel", "==", "ecom"),
        ),
        FeatureDef(
            "card_small_amount_count_1h",
            "count",
            "Transactions under 2.00 with the card in the last hour (card testing; "
            "current included).",
            entity="card_id",
            window=HOUR,
            include_current=True,
            where=Filter("amount", "<", 2.0),
        ),
        FeatureDef(
            "card_known_fraud_count_30d",
            "fraud_count",
            "The card's earlier transactions in the last 30 days with a fraud label already "
            "reported at the transaction time (a card in criminal hands keeps being used).",
            entity="card_id",
            window=30 * DAY,
        ),
    ]
    return features


def _risk(entity: Entity, noun: str) -> list[FeatureDef]:
    features: list[FeatureDef] = []
    for window in (DAY, 7 * DAY, 30 * DAY):
        w = f"{window // DAY}d"
        features += [
            FeatureDef(
                f"{noun}_tx_count_{w}",
                "count",
                f"Earlier transactions at the {noun} in the last {w} (current excluded).",
                entity=entity,
                window=window,
            ),
            FeatureDef(
                f"{noun}_fraud_rate_{w}",
                "fraud_rate",
                f"Share of the {noun}'s transactions in the last {w} (current excluded) "
                "with a fraud label already reported at the transaction time; 0 when none.",
                entity=entity,
                window=window,
            ),
        ]
    matured = f"{LABEL_MATURITY // DAY}d"
    for window in (7 * DAY, 30 * DAY):
        w = f"{window // DAY}d"
        features.append(
            FeatureDef(
                f"{noun}_matured_fraud_rate_{w}",
                "fraud_rate",
                f"Share of the {noun}'s transactions from {w} before the last {matured} "
                f"(their labels have had {matured} to arrive) with a fraud label reported "
                "by the transaction time; 0 when none.",
                entity=entity,
                window=window,
                delay=LABEL_MATURITY,
            )
        )
    return features


def _context() -> list[FeatureDef]:
    features = [
        FeatureDef("tx_amount", "value", "Transaction amount.", column="amount"),
        FeatureDef("tx_amount_log1p", "log1p", "log(1 + amount).", column="amount"),
        FeatureDef("tx_hour", "hour", "Hour of day of the transaction, UTC (0-23)."),
        FeatureDef("tx_is_night", "is_night", "1 between 00:00 and 05:59 UTC."),
        FeatureDef("tx_is_weekend", "is_weekend", "1 on Saturday or Sunday, UTC."),
    ]
    features += [
        FeatureDef(
            f"channel_{channel}",
            "equals",
            f"1 when the channel is {channel!r} (one-hot).",
            column="channel",
            value=channel,
        )
        for channel in CHANNELS
    ]
    features += [
        FeatureDef(
            f"entry_mode_{mode}",
            "equals",
            f"1 when the entry mode is {mode!r} (a riskier way to capture card details).",
            column="entry_mode",
            value=mode,
        )
        for mode in ("keyed", "magstripe")
    ]
    features += [
        FeatureDef(
            "mcc_code",
            "code",
            "Merchant category code as a number (-1 when not digits).",
            column="mcc",
        ),
        FeatureDef(
            "distance_from_home_km",
            "distance_home",
            "Great-circle distance between the card holder's home and the merchant, km "
            "(-1 when either location is unknown, e.g. e-commerce).",
        ),
    ]
    return features


FEATURES: tuple[FeatureDef, ...] = (
    *_card_velocity(),
    *_card_behaviour(),
    *_risk("terminal_id", "terminal"),
    *_risk("merchant_id", "merchant"),
    *_context(),
)


def check_features(features: tuple[FeatureDef, ...] | list[FeatureDef]) -> None:
    """Refuse a spec the engines cannot serve (duplicate or clashing names)."""
    names = [f.name for f in features]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate feature names: {duplicates}")
    clashes = sorted(set(names) & set(IDENTITY_COLUMNS))
    if clashes:
        raise ValueError(f"feature names clash with identity columns: {clashes}")


def feature_names(features: tuple[FeatureDef, ...] = FEATURES) -> list[str]:
    """Model input order: the order of the spec."""
    return [f.name for f in features]


def spec_hash(features: tuple[FeatureDef, ...] = FEATURES) -> str:
    """Short SHA-256 of the declarations and the engines' semantics version."""
    payload = json.dumps(
        {"semantics": SEMANTICS_VERSION, "features": [f.to_dict() for f in features]},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def describe_features(features: tuple[FeatureDef, ...] = FEATURES) -> list[dict[str, Any]]:
    """Name, dtype and description of each feature (plus its definition), in model order."""
    described = []
    for f in features:
        entry = f.to_dict()
        entry["description"] = f.description
        described.append(
            {"name": f.name, "dtype": f.dtype, "description": f.description}
            | {k: v for k, v in entry.items() if k not in ("name", "dtype", "description")}
        )
    return described


def max_retention(features: tuple[FeatureDef, ...] = FEATURES) -> timedelta:
    """The longest look-back of any feature: older state can be forgotten."""
    return max((f.retention for f in features), default=timedelta(0))
