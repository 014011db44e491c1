"""Validation: the quarantine invariant, each check, and batch rejection."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudops.data.validate import QUARANTINE_REASON, repeated_after_first, validate_batch

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


def test_an_unreadable_value_is_named_and_not_reported_as_null(day_one: pl.DataFrame) -> None:
    text = day_one.with_columns(pl.col("amount").cast(pl.String))
    result = validate_batch(_corrupt(text, 9, amount="twelve euros"), DAY)
    assert result.quarantine[QUARANTINE_REASON].to_list() == ["type:amount='twelve euros'"]
    assert result.report["failures_by_check"] == {"type:amount": 1}


def test_padded_numbers_read_and_blank_text_is_missing(day_one: pl.DataFrame) -> None:
    text = day_one.with_columns(pl.col("amount", "customer_lat").cast(pl.String))
    text = _corrupt(text, 4, amount=" 12.5 ", customer_lat="  ")
    result = validate_batch(text, DAY)
    assert result.quarantine.height == 0
    row = result.clean.row(4, named=True)
    assert row["amount"] == 12.5
    assert row["customer_lat"] is None


def test_every_row_failing_one_check_is_quarantined_with_that_reason(
    day_one: pl.DataFrame,
) -> None:
    bad = day_one.with_columns(channel=pl.lit("telepathy"))
    result = validate_batch(bad, DAY)
    assert result.clean.height == 0
    reason = "isin(['pos', 'contactless', 'ecom', 'atm']):channel"
    assert result.quarantine[QUARANTINE_REASON].unique().to_list() == [reason]
    assert result.report["failures_by_check"] == {reason: day_one.height}
    assert result.quarantine["channel"].unique().to_list() == ["telepathy"]


CORRUPTIONS: dict[str, dict[str, object]] = {
    "negative_amount": {"amount": -5.0},
    "huge_amount": {"amount": 5e7},
    "nan_amount": {"amount": float("nan")},
    "inf_amount": {"amount": float("inf")},
    "null_amount": {"amount": None},
    "bad_channel": {"channel": "x"},
    "null_channel": {"channel": None},
    "empty_card": {"card_id": ""},
    "null_id": {"transaction_id": None},
    "bad_mcc": {"mcc": "54x1"},
    "empty_mcc": {"mcc": ""},
    "lower_currency": {"currency": "eur"},
    "bad_lat": {"customer_lat": 123.0},
    "nan_lat": {"merchant_lat": float("nan")},
    "late": {"timestamp": datetime(2026, 3, 5, tzinfo=UTC)},
    "null_time": {"timestamp": None},
    "scenario_genuine": {"fraud_scenario": "card_testing", "is_fraud": 0},
    "scenario_unlabelled": {"fraud_scenario": "x", "is_fraud": None},
    "label_early": {"label_available_at": datetime(2026, 2, 1, tzinfo=UTC), "is_fraud": 1},
    "label_genuine": {"label_available_at": datetime(2026, 3, 3, tzinfo=UTC), "is_fraud": 0},
    "is_fraud_3": {"is_fraud": 3},
}


@settings(max_examples=12, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=199),
            st.sampled_from([*CORRUPTIONS, "dup"]),
        ),
        max_size=40,
    )
)
def test_the_polars_checks_fail_the_same_rows_for_the_same_reasons_as_pandera(
    small_transactions: pl.DataFrame, edits: list[tuple[int, str]]
) -> None:
    from validation_reference import pandera_reasons

    frame = small_transactions.filter(pl.col("timestamp") < DAY[1]).head(200)
    for row, kind in edits:
        if kind == "dup":
            frame = pl.concat([frame, frame.slice(row, 1)])
        else:
            frame = _corrupt(frame, row, **CORRUPTIONS[kind])
    result = validate_batch(frame, DAY)
    assert result.bad_mask is not None
    rows = result.bad_mask.arg_true().to_list()
    ours = {
        i: set(r.split("; "))
        for i, r in zip(rows, result.quarantine[QUARANTINE_REASON], strict=True)
    }
    expected = pandera_reasons(frame, DAY)
    assert ours == expected
    counts: dict[str, int] = {}
    for names in expected.values():
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    assert result.report["failures_by_check"] == counts


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", ""])), max_size=30))
def test_repeats_after_the_first_are_found_as_polars_finds_them(values: list[str | None]) -> None:
    series = pl.Series(values, dtype=pl.String)
    expected = series.is_not_null() & ~series.is_first_distinct()
    assert repeated_after_first(series).to_list() == expected.to_list()


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
