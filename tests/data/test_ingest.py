"""Ingestion of an export whose column names and formats differ from ours."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from fraudops.cli import app
from fraudops.data import store
from fraudops.data.ingest import (
    ColumnMapping,
    MappingError,
    apply_mapping,
    load_mapping,
    map_export,
    read_export,
)
from fraudops.data.validate import validate_batch

EXPORT = """TX_ID;TX_DATETIME;CARD;SHOP;TX_AMOUNT;FRAUD_FLAG;KIND;CTRY
A1;01/04/2024 00:00:31;C596;S3156;57,16;N;CP;FR
A2;01/04/2024 00:02:10;C4961;S3412;81,51;Y;CNP;DE
A3;01/04/2024 00:07:56;C2;S1365;-146,00;N;CP;FR
A4;yesterday;C4128;S8737;64,49;N;CP;FR
A5;02/04/2024 09:07:56;C2;S1365;12,50;Y;CNP;ES
A5;02/04/2024 09:08:56;C2;S1365;12,50;N;CNP;ES
"""
MAPPING = """
columns:
  transaction_id: TX_ID
  timestamp: TX_DATETIME
  card_id: CARD
  merchant_id: SHOP
  amount: TX_AMOUNT
  is_fraud: FRAUD_FLAG
  channel: KIND
  country: CTRY
timestamp_format: "%d/%m/%Y %H:%M:%S"
timezone: Europe/Paris
defaults: {currency: USD}
values:
  channel: {CP: pos, CNP: ecom}
label_delay_days: 14
"""


@pytest.fixture
def export(tmp_path: Path) -> tuple[Path, Path]:
    # the export uses ';' and decimal commas: normalise like a user would in a one-liner
    csv = tmp_path / "bank_export.csv"
    lines = [line.replace(",", ".").replace(";", ",") for line in EXPORT.splitlines()]
    csv.write_text("\n".join(lines) + "\n")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    return csv, mapping


def test_ingest_maps_validates_and_stores(tmp_path: Path, export: tuple[Path, Path]) -> None:
    csv, mapping = export
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "data",
            "ingest",
            "--input",
            str(csv),
            "--mapping",
            str(mapping),
            "--out",
            str(out),
            "--max-bad-fraction",
            "0.6",
        ],
    )
    assert result.exit_code == 0, result.output
    clean = store.read_dataset(str(out / "clean")).sort("transaction_id")
    assert clean["transaction_id"].to_list() == ["A1", "A2", "A5"]
    a2 = clean.row(1, named=True)
    assert a2["is_fraud"] == 1
    assert a2["currency"] == "USD"
    assert a2["channel"] == "ecom"
    assert a2["customer_id"] == "C4961"  # defaults to card_id
    assert a2["terminal_id"] == "S3412"  # defaults to merchant_id
    assert a2["timestamp"].isoformat() == "2024-03-31T22:02:10+00:00"  # Paris -> UTC
    assert (a2["label_available_at"] - a2["timestamp"]).days == 14
    quarantine = store.read_dataset(str(out / "quarantine")).sort("TX_ID")
    assert quarantine["TX_ID"].to_list() == ["A3", "A4", "A5"]
    a4 = quarantine.filter(pl.col("TX_ID") == "A4").row(0, named=True)
    assert a4["TX_DATETIME"] == "yesterday"
    assert a4["quarantine_reason"] == "type:timestamp='yesterday'"
    report = json.loads((out / "report.json").read_text())
    assert report["totals"] == {
        "rows": 6,
        "valid_rows": 3,
        "quarantined_rows": 3,
        "bad_fraction": 0.5,
    }


def test_too_many_bad_rows_fail_and_write_no_clean_data(
    tmp_path: Path, export: tuple[Path, Path]
) -> None:
    csv, mapping = export
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["data", "ingest", "--input", str(csv), "--mapping", str(mapping), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "max-bad-fraction" in result.output
    assert "type:timestamp (1 rows)" in " ".join(result.output.split())
    assert not (out / "clean").exists()
    assert (out / "report.json").exists()


def test_a_missing_required_field_is_named(export: tuple[Path, Path], tmp_path: Path) -> None:
    csv, _ = export
    mapping = tmp_path / "partial.yaml"
    mapping.write_text("columns: {transaction_id: TX_ID, timestamp: TX_DATETIME, card_id: CARD}\n")
    with pytest.raises(MappingError, match=r"\['merchant_id', 'amount'\]"):
        apply_mapping(read_export(str(csv)), load_mapping(mapping))


def test_a_mapped_column_absent_from_the_export_is_named(
    export: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, _ = export
    mapping = tmp_path / "typo.yaml"
    mapping.write_text(MAPPING.replace("TX_AMOUNT", "AMOUNT_EUR"))
    with pytest.raises(MappingError, match="amount -> 'AMOUNT_EUR'"):
        apply_mapping(read_export(str(csv)), load_mapping(mapping))


def test_unknown_canonical_field_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    unknown = tmp_path / "u.yaml"
    unknown.write_text("columns: {amont: X}\n")
    with pytest.raises(MappingError, match="unknown canonical field"):
        load_mapping(unknown)
    broken = tmp_path / "b.yaml"
    broken.write_text("columns: [\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(broken)


def test_cli_reports_a_missing_file_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "data",
            "ingest",
            "--input",
            str(tmp_path / "nope.csv"),
            "--mapping",
            str(tmp_path / "nope.yaml"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 1
    assert "mapping file not found" in result.output
    assert "Traceback" not in result.output


SCENARIO_EXPORT = """id,when,card,shop,amount,fraud,scenario
B1,2024-11-01T10:00:00Z,C1,S1,10.00,0,0
B2,2024-11-01T11:00:00Z,C2,S1,20.00,1,card_testing
B3,2024-11-01T12:00:00Z,C3,S2,30.00,0,none
B4,2024-11-01T13:00:00Z,C4,S2,40.00,1,CT
"""
SCENARIO_MAPPING = {
    "columns": {
        "transaction_id": "id",
        "timestamp": "when",
        "card_id": "card",
        "merchant_id": "shop",
        "amount": "amount",
        "is_fraud": "fraud",
        "fraud_scenario": "scenario",
    }
}


def _map(tmp_path: Path, extra: dict[str, object]) -> tuple[pl.DataFrame, pl.DataFrame]:
    csv = tmp_path / "scenarios.csv"
    csv.write_text(SCENARIO_EXPORT)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump({**SCENARIO_MAPPING, **extra}))
    typed, unreadable = map_export(read_export(str(csv)), load_mapping(mapping))
    return validate_batch(typed, unreadable=unreadable).quarantine, typed


def test_an_export_writing_0_for_no_scenario_is_fixed_in_the_mapping(tmp_path: Path) -> None:
    quarantine, _ = _map(tmp_path, {})
    assert quarantine["transaction_id"].to_list() == ["B1", "B3"]
    assert set(quarantine["quarantine_reason"]) == {"scenario_only_for_fraud:fraud_scenario"}
    fixed = {
        "null_values": {"fraud_scenario": ["0", "none"]},
        "values": {"fraud_scenario": {"CT": "card_testing"}},
    }
    quarantine, typed = _map(tmp_path, fixed)
    assert quarantine.height == 0
    assert typed["fraud_scenario"].to_list() == [None, "card_testing", None, "card_testing"]


def test_a_value_map_to_null_and_a_null_list_for_every_field(tmp_path: Path) -> None:
    quarantine, typed = _map(tmp_path, {"values": {"fraud_scenario": {0: None, "none": None}}})
    assert quarantine.height == 0
    assert typed["fraud_scenario"].null_count() == 2
    _, typed = _map(tmp_path, {"null_values": ["none", "0"]})
    # "0" is also a non-fraud label: a list for every field nulls it too
    assert typed["fraud_scenario"].null_count() == 2
    assert typed["is_fraud"].to_list() == [None, 1, None, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("values: {channel: {no: pos}}", "read by YAML as a boolean"),
        ("null_values: {channel: [~]}", "null is not a value"),
        ("null_values: {chanel: ['0']}", "unknown canonical field"),
        ("timezone: Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_mapping_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump(SCENARIO_MAPPING) + text + "\n")
    with pytest.raises(MappingError, match=message):
        load_mapping(mapping)


def test_the_readme_mapping_example_loads() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("# mapping.yaml — canonical field: your column\n", 1)[1]
    mapping = ColumnMapping.model_validate(yaml.safe_load(block.split("```", 1)[0]))
    assert mapping.null_values["fraud_scenario"] == ["0", "none"]
    assert mapping.values["device_id"] == {"00000000": None}
