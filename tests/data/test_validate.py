"""Validation: the quarantine invariant, each check, and batch rejection."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudops.data.validate import QUARANTINE_REASON, validate_batch

DAY = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))


@pytest.fixture
def day_one(small_transactions: pl.DataFrame) -> pl.DataFrame:
    return small_transactions.filter(pl.col("timestamp") < DAY[1]).head(400)


def _corrupt(frame: pl.DataFrame, row: int, **values: object) -> pl.DataFrame:
    index = pl.int_range(pl.len())
    return frame.with_columns(
        [
            pl.when(index == row)
            .then(pl.lit(v, dtype=frame.schema[k]))
            .otherwise(pl.col(k))
            .alias(k)
            for k, v in values.items()
        ]
    )


def test_clean_data_passes_untouched(day_one: pl.DataFrame) -> None:
    result = validate_batch(day_one, DAY)
    assert result.quarantine.height == 0
    assert result.clean.equals(day_one)
    assert result.report["bad_fraction"] == 0.0


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"amount": -5.0}, "greater_than(0.0):amount"),
        ({"amount": 5e7}, "less_than_or_equal_to(1000000.0):amount"),
        ({"channel": "telepathy"}, "isin"),
        ({"card_id": None}, "not_nullable:card_id"),
        ({"mcc": "54x1"}, "str_matches"),
        ({"customer_lat": 123.0}, "in_range"),
        ({"timestamp": datetime(2026, 3, 5, tzinfo=UTC)}, "inside_batch_interval"),
        ({"fraud_scenario": "card_testing", "is_fraud": 0}, "scenario_only_for_fraud"),
    ],
)
def test_each_check_quarantines_the_bad_row_with_its_reason(
    day_one: pl.DataFrame, values: dict[str, object], reason: str
) -> None:
    result = validate_batch(_corrupt(day_one, 17, **values), DAY)
    assert result.quarantine.height == 1
    assert reason in result.quarantine[QUARANTINE_REASON][0]
    assert result.clean.height == day_one.height - 1
    assert result.quarantine["transaction_id"][0] == day_one["transaction_id"][17]


def test_label_before_transaction_is_inconsistent(day_one: pl.DataFrame) -> None:
    ts = day_one["timestamp"][3]
    bad = _corrupt(day_one, 3, is_fraud=1, label_available_at=ts - timedelta(hours=1))
    result = validate_batch(bad, DAY)
    assert "label_not_before_transaction" in result.quarantine[QUARANTINE_REASON][0]


def test_duplicate_ids_keep_the_first_and_quarantine_the_rest(day_one: pl.DataFrame) -> None:
    doubled = pl.concat([day_one, day_one.head(3)])
    result = validate_batch(doubled, DAY)
    assert result.quarantine.height == 3
    assert result.clean["transaction_id"].n_unique() == result.clean.height == day_one.height


def test_a_value_that_cannot_be_read_is_quarantined_as_it_arrived(day_one: pl.DataFrame) -> None:
    text = day_one.with_columns(pl.col("amount").cast(pl.String))
    text = _corrupt(text, 9, amount="twelve euros")
    result = validate_batch(text, DAY)
    assert result.quarantine["amount"].to_list() == ["twelve euros"]
    assert "type:amount" in result.quarantine[QUARANTINE_REASON][0]


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(st.integers(min_value=0, max_value=399), max_size=30),
    kinds=st.lists(
        st.sampled_from(["amount", "channel", "card_id", "dup"]), min_size=30, max_size=30
    ),
)
def test_nothing_is_lost_valid_plus_quarantined_equals_input(
    small_transactions: pl.DataFrame, rows: list[int], kinds: list[str]
) -> None:
    frame = small_transactions.filter(pl.col("timestamp") < DAY[1]).head(400)
    for row, kind in zip(rows, kinds, strict=False):
        if kind == "dup":
            frame = pl.concat([frame, frame.slice(row, 1)])
        else:
            frame = _corrupt(
                frame, row, **{kind: {"amount": 0.0, "channel": "x", "card_id": None}[kind]}
            )
    result = validate_batch(frame, DAY)
    assert result.clean.height + result.quarantine.height == frame.height
    ids_in = sorted(frame["transaction_id"].to_list())
    ids_out = sorted(
        result.clean["transaction_id"].to_list() + result.quarantine["transaction_id"].to_list()
    )
    assert ids_in == ids_out


def test_report_has_counts_null_rates_fraud_rate_and_amounts(day_one: pl.DataFrame) -> None:
    report = validate_batch(_corrupt(day_one, 0, amount=-1.0), DAY).report
    assert report["rows"] == 400
    assert report["quarantined_rows"] == 1
    assert report["failures_by_check"] == {"greater_than(0.0):amount": 1}
    assert set(report["null_rates"]) >= {"device_id", "amount"}
    assert 0 <= report["fraud_rate"] <= 1
    assert report["amount"]["min"] > 0


def test_a_days_report_is_the_same_bytes_when_the_day_is_validated_again(
    small_transactions: pl.DataFrame, tmp_path: Path
) -> None:
    """The report of a day is a function of that day: validating later days in between
    (the dataset grows) or ties between failure counts never change it."""
    from fraudops.data import store
    from fraudops.pipelines.data import validate_dataset

    raw, out = str(tmp_path / "raw"), str(tmp_path / "validated")
    days = sorted({t.date() for t in small_transactions["timestamp"]})[:3]
    for day in days:
        frame = small_transactions.filter(pl.col("timestamp").dt.date() == day)
        # two checks failing once each: a tie in failures_by_check
        frame = _corrupt(_corrupt(frame, 3, amount=-5.0), 9, channel="telepathy")
        store.write_partition(raw, str(day), frame)
    first, later = days[0], days[1:]
    report = Path(out) / "reports" / f"{first}.json"

    validate_dataset(raw, out, start=first, end=first)
    before = report.read_bytes()
    failures = json.loads(before)["batches"][str(first)]["failures_by_check"]
    assert len(failures) == 2  # one failure each: a tie, listed by name
    assert list(failures) == sorted(failures)
    assert list(json.loads(before)["clean_partitions"]) == [str(first)]
    for day in later:  # the clean dataset grows by two days
        validate_dataset(raw, out, start=day, end=day)
    validate_dataset(raw, out, start=first, end=first)
    assert report.read_bytes() == before
