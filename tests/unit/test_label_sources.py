"""The label feed's second source: analyst verdicts beside chargebacks. Training counts an
analyst's fraud verdict from its report time; monitoring reads a feed whose older chunks
have no ``source`` column and newer ones do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from fraudops.data import store
from fraudops.data.logs import AppendLog
from fraudops.models.labels import labels_known_at, with_label_feed
from fraudops.monitoring.performance import known_fraud_ids

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "transaction_id": ["a", "b", "c"],
            "timestamp": [T0, T0, T0],
            "is_fraud": [1, 0, 0],
            "label_available_at": [T0 + timedelta(days=20), None, None],
        },
        schema_overrides={
            "is_fraud": pl.Int8,
            "label_available_at": pl.Datetime("us", "UTC"),
            "timestamp": pl.Datetime("us", "UTC"),
        },
    )


def feed(rows: list[tuple[str, int, datetime, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=["transaction_id", "is_fraud", "reported_at", "source"], orient="row"
    )


def test_an_analyst_verdict_counts_from_its_report_time() -> None:
    analyst = feed(
        [
            ("a", 1, T0 + timedelta(days=1), "analyst"),  # before the chargeback
            ("b", 1, T0 + timedelta(days=2), "analyst"),  # never charged back
            ("c", 0, T0 + timedelta(days=1), "analyst"),  # genuine: nothing changes
        ]
    )
    joined = with_label_feed(frame(), analyst)
    assert joined.columns == frame().columns
    assert joined.schema == frame().schema
    assert joined["is_fraud"].to_list() == [1, 1, 0]
    assert joined["label_available_at"].to_list() == [
        T0 + timedelta(days=1),
        T0 + timedelta(days=2),
        None,
    ]
    day3 = T0 + timedelta(days=3)
    assert labels_known_at(joined, day3).tolist() == [1, 1, 0]
    assert labels_known_at(frame(), day3).tolist() == [0, 0, 0]  # chargebacks alone: nothing


def test_a_feed_without_frauds_or_no_feed_leaves_the_frame_alone() -> None:
    assert with_label_feed(frame(), None).equals(frame())
    genuine_only = feed([("a", 0, T0, "analyst")])
    assert with_label_feed(frame(), genuine_only).equals(frame())


def test_monitoring_reads_a_feed_with_and_without_the_source_column(tmp_path: Path) -> None:
    uri = str(tmp_path / "label_feed")
    old = AppendLog(uri)
    old.append([{"transaction_id": "a", "is_fraud": 1, "reported_at": T0, "timestamp": T0}])
    old.flush()
    new = AppendLog(uri)
    later = T0 + timedelta(hours=1)
    new.append(
        [
            {
                "transaction_id": "b",
                "is_fraud": 1,
                "reported_at": later,
                "timestamp": later,
                "source": "analyst",
            }
        ]
    )
    new.flush()
    labels = store.read_chunks(uri, None, None)
    assert set(labels["source"].to_list()) == {None, "analyst"}
    frauds = known_fraud_ids(labels.select("transaction_id", "is_fraud", "reported_at"), later)
    assert sorted(frauds.to_list()) == ["a", "b"]
