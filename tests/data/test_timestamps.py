"""Timestamps as exports write them: ISO 8601 variants and epochs, into UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from fraudops.cli import app
from fraudops.data import store
from fraudops.data.timestamps import parse_timestamps
from fraudops.data.validate import QUARANTINE_REASON, validate_batch
from fraudops.schema import ALL_COLUMNS, conform

MOMENT = datetime(2024, 11, 1, 0, 0, 1, 390630, tzinfo=UTC)
SECOND = datetime(2024, 11, 1, 0, 0, 1, tzinfo=UTC)


def _parse(values: list[str | None], **kwargs: str) -> list[datetime | None]:
    return parse_timestamps(pl.Series(values, dtype=pl.String), **kwargs).to_list()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-11-01 00:00:01.390630+00:00", MOMENT),  # pandas' to_csv
        ("2024-11-01T00:00:01.390630Z", MOMENT),
        ("2024-11-01T00:00:01.390630z", MOMENT),
        ("2024-11-01T02:00:01.390630+02:00", MOMENT),
        ("2024-10-31 19:00:01.390630-0500", MOMENT),
        ("2024-10-31 19:00:01.390630-05", MOMENT),
        ("2024-11-01 00:00:01,390630Z", MOMENT),
        ("2024-11-01T00:00:01.390630123Z", MOMENT),  # nanoseconds, kept to the microsecond
        ("2024-11-01 00:00:01", SECOND),
        ("2024-11-01T00:00:01", SECOND),
        ("  2024-11-01T00:00:01Z  ", SECOND),
        ("2024-11-01 00:00", datetime(2024, 11, 1, tzinfo=UTC)),
        ("2024-11-01", datetime(2024, 11, 1, tzinfo=UTC)),
        ("1730419201", SECOND),  # epoch seconds
        ("1730419201.39063", MOMENT),
        ("1730419201390", datetime(2024, 11, 1, 0, 0, 1, 390000, tzinfo=UTC)),  # milliseconds
        ("1730419201390630", MOMENT),  # microseconds
    ],
)
def test_each_form_parses_to_the_same_utc_instant(text: str, expected: datetime) -> None:
    assert _parse([text]) == [expected]


def test_forms_mix_row_by_row_and_unreadable_values_are_null() -> None:
    values = [
        "2024-11-01 00:00:01+00:00",
        "1730419201",
        "yesterday",
        None,
        "20241101",
        "2024-13-01",
    ]
    assert _parse(values) == [SECOND, SECOND, None, None, None, None]


def test_naive_values_are_in_the_mapping_zone_and_marked_ones_keep_their_offset() -> None:
    parsed = _parse(
        ["2024-07-01 12:00:00", "2024-07-01 12:00:00Z", "2024-07-01T12:00:00+01:00"],
        timezone="Europe/Paris",
    )
    assert [p.hour for p in parsed if p] == [10, 12, 11]


def test_a_wall_time_skipped_by_daylight_saving_is_unreadable_not_shifted() -> None:
    assert _parse(["2024-03-31 02:30:00"], timezone="Europe/Paris") == [None]


def test_an_explicit_format_is_the_only_one_tried() -> None:
    parsed = _parse(
        ["01/11/2024 01:00:01", "2024-11-01 00:00:01"],
        timestamp_format="%d/%m/%Y %H:%M:%S",
        timezone="Europe/Paris",
    )
    assert parsed == [SECOND, None]
    with_offset = _parse(["01/11/2024 01:00:01 +0100"], timestamp_format="%d/%m/%Y %H:%M:%S %z")
    assert with_offset == [SECOND]


def test_an_unreadable_timestamp_is_quarantined_naming_the_value(
    small_transactions: pl.DataFrame,
) -> None:
    text = small_transactions.head(50).with_columns(pl.col("timestamp").cast(pl.String))
    text = text.with_columns(
        timestamp=pl.when(pl.int_range(pl.len()) == 7)
        .then(pl.lit("31/02/2026 25:00"))
        .otherwise("timestamp")
    )
    result = validate_batch(text)
    assert result.quarantine.height == 1
    reason = result.quarantine[QUARANTINE_REASON][0]
    assert reason == "type:timestamp='31/02/2026 25:00'"
    assert result.quarantine["timestamp"][0] == "31/02/2026 25:00"
    assert result.report["failures_by_check"] == {"type:timestamp": 1}


def test_generated_data_written_by_pandas_to_csv_ingests_without_loss(tmp_path: Path) -> None:
    """``fraudops data generate`` -> pandas ``to_csv`` -> ingest, identity mapping."""
    runner = CliRunner()
    raw = tmp_path / "raw"
    generate = "data generate --customers 300 --days 3 --start 2024-11-01 --fraud-rate 0.05"
    result = runner.invoke(app, [*generate.split(), "--out", str(raw)])
    assert result.exit_code == 0, result.output
    generated = store.read_dataset(str(raw))
    csv = tmp_path / "export.csv"
    generated.to_pandas().to_csv(csv, index=False)
    assert "+00:00" in csv.read_text().splitlines()[1]  # what pandas writes
    mapping = tmp_path / "identity.yaml"
    mapping.write_text(yaml.safe_dump({"columns": {name: name for name in ALL_COLUMNS}}))
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["data", "ingest", "--input", str(csv), "--mapping", str(mapping), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["quarantined_rows"] == 0
    assert report["totals"]["rows"] == generated.height
    clean = store.read_dataset(str(out / "clean")).sort("transaction_id")
    assert clean.equals(conform(generated).sort("transaction_id"))
    # labels came through too: frauds, their scenarios and their report times
    assert clean["fraud_scenario"].drop_nulls().len() > 0
    assert clean["label_available_at"].drop_nulls().len() > 0
