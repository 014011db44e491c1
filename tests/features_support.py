"""Helpers for feature parity tests: stream replay and hypothesis strategies.

Test support, not part of the installed package (it needs ``hypothesis``, a development
dependency); importable from every test folder because pytest puts ``tests/`` on the path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from hypothesis import strategies as st

from fraudops.features.definition import FeatureDef, Filter
from fraudops.features.online import OnlineFeatureEngine
from fraudops.schema import CHANNELS, ENTRY_MODES, LABEL_FEED_SCHEMA, conform

US = timedelta(microseconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def replay(
    engine: OnlineFeatureEngine,
    transactions: pl.DataFrame,
    labels: pl.DataFrame | None = None,
    ingest_at: Sequence[datetime] | None = None,
) -> np.ndarray:
    """Feed a history to the online engine as live traffic; return its feature vectors.

    Transactions are processed in ``(timestamp, transaction_id)`` order. Label event ``k``
    is ingested just before the first transaction at or after ``ingest_at[k]`` (default:
    its ``reported_at``), so events may be ingested early, out of order, and before their
    own transaction. Rows of the result follow the transaction order.
    """
    ordered = transactions.sort("timestamp", "transaction_id")
    events: list[tuple[datetime, int, int, dict[str, Any]]] = []
    if labels is not None:
        for k, event in enumerate(labels.to_dicts()):
            at = ingest_at[k] if ingest_at is not None else event["reported_at"]
            events.append((at, 0, k, event))
    rows = ordered.to_dicts()
    events += [(row["timestamp"], 1, k, row) for k, row in enumerate(rows)]
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    vectors = []
    for _, kind, _, payload in events:
        if kind == 0:
            engine.ingest_label(
                payload["transaction_id"], payload["is_fraud"], payload["reported_at"]
            )
        else:
            vectors.append(engine.process(payload))
    if not vectors:
        return np.empty((0, len(engine.feature_names)))
    return np.vstack(vectors)


@dataclass
class Stream:
    """A generated history: transactions, a label feed and when each label is ingested."""

    transactions: pl.DataFrame
    labels: pl.DataFrame
    ingest_at: list[datetime]


# Base times on UTC day, week and year edges (UTC has no DST, so "DST dates" are plain days).
BASES = (
    datetime(2026, 1, 3, 23, 30, tzinfo=UTC),  # Saturday night, just before midnight
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # EU DST change day, UTC unaffected
    datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),  # one µs before a new year
)
# Gaps that land transactions exactly on (and one µs around) window boundaries.
GAPS = (
    timedelta(0),
    US,
    timedelta(seconds=1),
    HOUR - US,
    HOUR,
    HOUR + US,
    DAY - US,
    DAY,
    7 * DAY,
    30 * DAY - US,
    30 * DAY,
    30 * DAY + US,
)
LABEL_DELAYS = (-HOUR, timedelta(0), US, HOUR, DAY, 7 * DAY, 30 * DAY, 45 * DAY)
LEADS = (timedelta(0), HOUR, 3 * DAY, 1000 * DAY)  # how early a label event is ingested


@st.composite
def streams(draw: st.DrawFn, max_size: int = 24) -> Stream:
    n = draw(st.integers(1, max_size))
    base = draw(st.sampled_from(BASES))
    gaps = draw(
        st.lists(
            st.one_of(
                st.sampled_from(GAPS),
                st.integers(0, 2 * 86_400_000_000).map(lambda us: us * US),
            ),
            min_size=n,
            max_size=n,
        )
    )
    ids = draw(st.permutations(list(range(n))))  # ids do not follow time: ties need sorting
    amount = st.one_of(
        st.sampled_from([0.5, 1.0, 1.99, 2.0, 10.0, 123.45, 1000.0]),
        st.integers(1, 500_000).map(lambda cents: cents / 100),
    )
    location = st.one_of(st.none(), st.floats(-60, 60).map(lambda x: round(x, 4)))
    rows: list[dict[str, Any]] = []
    times: list[datetime] = []
    t = base
    for k in range(n):
        t = t + gaps[k]
        times.append(t)
        rows.append(
            {
                "transaction_id": f"tx-{ids[k]:03d}",
                "timestamp": t,
                "card_id": draw(st.sampled_from(["card-a", "card-b", "card-c"])),
                "merchant_id": draw(st.sampled_from(["m-1", "m-2"])),
                "terminal_id": draw(st.sampled_from(["t-1", "t-2", "t-3", None])),
                "mcc": draw(st.sampled_from(["5411", "6011", "54x1", None])),
                "amount": draw(amount),
                "channel": draw(st.sampled_from([*CHANNELS, None])),
                "entry_mode": draw(st.sampled_from(ENTRY_MODES)),
                "country": draw(st.sampled_from(["FR", "DE", "US"])),
                "device_id": draw(st.sampled_from([None, "dev-1", "dev-2"])),
                "customer_lat": draw(location),
                "customer_lon": draw(location),
                "merchant_lat": draw(location),
                "merchant_lon": draw(location),
            }
        )
    transactions = conform(pl.DataFrame(rows, infer_schema_length=None))
    events: list[dict[str, Any]] = []
    ingest_at: list[datetime] = []
    for row, at in zip(rows, times, strict=True):
        for _ in range(draw(st.integers(0, 3)) if draw(st.booleans()) else 0):
            reported = at + draw(st.sampled_from(LABEL_DELAYS))
            events.append(
                {
                    "transaction_id": row["transaction_id"],
                    "is_fraud": draw(st.sampled_from([1, 1, 1, 0])),
                    "reported_at": reported,
                }
            )
            ingest_at.append(reported - draw(st.sampled_from(LEADS)))
    if draw(st.booleans()):  # a label for a transaction the stream never shows
        events.append({"transaction_id": "tx-ghost", "is_fraud": 1, "reported_at": base})
        ingest_at.append(base)
    labels = pl.DataFrame(events, schema=LABEL_FEED_SCHEMA)
    return Stream(transactions, labels, ingest_at)


# Kinds and options the default spec does not use: delays, filters on sums, maxima, means
# and distinct counts, a terminal that keeps per-transaction entries.
CUSTOM_SPEC = (
    FeatureDef("card_count_delayed", "count", "d", entity="card_id", window=DAY, delay=HOUR),
    FeatureDef(
        "card_sum_delayed",
        "sum",
        "d",
        entity="card_id",
        column="amount",
        window=DAY,
        delay=HOUR,
    ),
    FeatureDef("card_fraud_count_7d", "fraud_count", "d", entity="card_id", window=7 * DAY),
    FeatureDef(
        "terminal_fraud_count_delayed",
        "fraud_count",
        "d",
        entity="terminal_id",
        window=7 * DAY,
        delay=DAY,
    ),
    FeatureDef(
        "card_max_big_eur",
        "max",
        "d",
        entity="card_id",
        column="amount",
        window=7 * DAY,
        include_current=True,
        where=Filter("amount", ">=", 100.0),
    ),
    FeatureDef(
        "card_mean_not_fr",
        "mean",
        "d",
        entity="card_id",
        column="amount",
        window=7 * DAY,
        where=Filter("country", "!=", "FR"),
    ),
    FeatureDef(
        "card_distinct_ecom_merchants",
        "distinct",
        "d",
        entity="card_id",
        column="merchant_id",
        window=7 * DAY,
        include_current=True,
        where=Filter("channel", "==", "ecom"),
    ),
    FeatureDef(
        "terminal_distinct_cards",
        "distinct",
        "d",
        entity="terminal_id",
        column="card_id",
        window=DAY,
        include_current=True,
    ),
)
