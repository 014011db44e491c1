"""The data commands end to end through the CLI, including their error paths."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from fraudops.cli import app
from fraudops.data import store

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "data" in result.output


def test_generate_validate_and_rerun_idempotently(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "validated"
    args = [
        "data",
        "generate",
        "--customers",
        "300",
        "--days",
        "3",
        "--start",
        "2026-02-01",
        "--seed",
        "3",
        "--out",
        str(raw),
    ]
    assert runner.invoke(app, args).exit_code == 0
    first = store.read_manifest(str(raw))
    assert runner.invoke(app, args).exit_code == 0  # same seed: same files, same hash
    assert store.read_manifest(str(raw)) == first
    assert store.list_partitions(str(raw)) == ["2026-02-01", "2026-02-02", "2026-02-03"]

    result = runner.invoke(app, ["data", "validate", "--input", str(raw), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] is True
    assert report["totals"]["rows"] == first["rows"]
    assert store.read_dataset(str(out / "clean")).height == first["rows"]


def test_validate_rejects_a_bad_batch_and_writes_no_clean_data(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "validated"
    runner.invoke(app, ["data", "generate", "--customers", "200", "--days", "1", "--out", str(raw)])
    day = store.list_partitions(str(raw))[0]
    frame = store.read_dataset(str(raw))
    broken = frame.with_columns(
        amount=pl.when(pl.int_range(pl.len()) % 5 == 0).then(-1.0).otherwise(pl.col("amount"))
    )
    store.write_partition(str(raw), day, broken)
    result = runner.invoke(
        app,
        ["data", "validate", "--input", str(raw), "--out", str(out), "--max-bad-fraction", "0.1"],
    )
    assert result.exit_code == 1
    assert "nothing was written" in result.output
    assert not (out / "clean").exists()
    quarantined = store.read_dataset(str(out / "quarantine"))
    assert quarantined.height == broken.filter(pl.col("amount") < 0).height


def test_bad_arguments_get_a_clear_message(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["data", "generate", "--start", "yesterday", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "--start must be a date" in result.output
    result = runner.invoke(app, ["data", "generate", "--customers", "2"])
    assert result.exit_code == 2  # typer's own range check
    result = runner.invoke(
        app, ["score", "--input", str(tmp_path), "--out", str(tmp_path / "o"), "--reasons", "x"]
    )
    assert result.exit_code == 1
    assert "reasons must be one of flagged, all, none" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_cli_imports_no_heavy_library_until_a_command_runs() -> None:
    """``fraudops --help`` stays fast: data, ML and web libraries load inside commands."""
    import subprocess
    import sys

    heavy = ("polars", "pandas", "numpy", "mlflow", "sklearn", "lightgbm", "fastapi", "uvicorn")
    code = f"import sys, fraudops.cli; print(sorted(set({heavy!r}) & set(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_version_and_bare_invocation() -> None:
    from fraudops import __version__

    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0, version.output
    assert version.output.strip() == f"fraudops {__version__}"
    bare = runner.invoke(app, [])  # click answers a bare group with its help (exit 2)
    assert "Commands" in bare.output
    options_only = runner.invoke(app, ["--log-level", "INFO"])
    assert options_only.exit_code == 0
    assert "Commands" in options_only.output


def test_a_folder_named_with_glob_characters_is_a_path_not_a_pattern(tmp_path: Path) -> None:
    """``[``, ``]``, ``*`` and ``?`` are valid in folder names; a reader that globbed the
    path would find nothing there (or another folder's files)."""
    home = tmp_path / "fraud team [eu-west] *?"
    raw = home / "raw"
    args = ["data", "generate", "--customers", "200", "--days", "2", "--out", str(raw)]
    assert runner.invoke(app, [*args, "--start", "2026-02-01", "--seed", "4"]).exit_code == 0
    rows = store.read_manifest(str(raw))["rows"]
    assert store.read_dataset(str(raw)).height == rows

    log = str(home / "predictions")
    frame = store.read_dataset(str(raw)).head(10)
    for _ in range(3):  # three chunks of one day, then compacted into one
        store.append_chunk(log, "2026-02-01", frame)
    assert store.read_chunks(log).height == 30
    store.compact_chunks(log, before=date(2026, 2, 2))
    assert len(list((home / "predictions" / "date=2026-02-01").iterdir())) == 1
    assert store.read_chunks(log).height == 30
