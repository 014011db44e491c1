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
from datetime import timedelta
from typing import Any

from fraudops.features.definition import (
    Entity,
    FeatureDef,
    Filter,
)
from fraudops.schema import CHANNELS, FALLBACKS, TRANSACTION_FIELDS

# Bumped when an engine's interpretation of the same declarations changes, so the spec hash
# (which versions feature tables and online state) changes with it.
SEMANTICS_VERSION = "1"

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
COLUMN_FALLBACKS: dict[str, str] = dict(FALLBACKS)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


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
