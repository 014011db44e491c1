"""Partitioned store: round trip, atomic idempotent rewrites, manifest hashes."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fraudops.data import store


def test_round_trip_by_day(tmp_path: Path, small_transactions: pl.DataFrame) -> None:
    uri = str(tmp_path / "ds")
    infos = store.write_dataset(uri, small_transactions)
    assert len(infos) == 8
    assert store.list_partitions(uri)[0] == "2026-03-01"
    back = store.read_dataset(uri)
    assert back.sort("timestamp", "transaction_id").equals(
        small_transactions.sort("timestamp", "transaction_id")
    )


def test_rewriting_a_day_replaces_it_and_never_duplicates(
    tmp_path: Path, small_transactions: pl.DataFrame
) -> None:
    uri = str(tmp_path / "ds")
    store.write_dataset(uri, small_transactions)
    first = store.read_manifest(uri)
    store.write_dataset(uri, small_transactions)
    assert store.read_dataset(uri).height == small_transactions.height
    assert store.read_manifest(uri) == first  # same content, same hashes
    day = small_transactions.filter(pl.col("timestamp").dt.day() == 2)
    store.write_partition(uri, "2026-03-02", day.head(10))
    manifest = store.read_manifest(uri)
    assert manifest["partitions"]["2026-03-02"]["rows"] == 10
    assert manifest["dataset_hash"] != first["dataset_hash"]
    assert manifest["rows"] == first["rows"] - day.height + 10
    assert not list(Path(uri).rglob("*.tmp-*"))  # no temporary files left behind


def test_manifest_hash_is_the_content_hash(
    tmp_path: Path, small_transactions: pl.DataFrame
) -> None:
    import hashlib

    uri = str(tmp_path / "ds")
    store.write_dataset(uri, small_transactions)
    manifest = store.read_manifest(uri)
    entry = manifest["partitions"]["2026-03-01"]
    content = (Path(uri) / entry["path"]).read_bytes()
    assert hashlib.sha256(content).hexdigest() == entry["sha256"]


def test_read_a_date_range(tmp_path: Path, small_transactions: pl.DataFrame) -> None:
    from datetime import date

    uri = str(tmp_path / "ds")
    store.write_dataset(uri, small_transactions)
    part = store.read_dataset(uri, start=date(2026, 3, 2), end=date(2026, 3, 3))
    assert set(part["timestamp"].dt.day().unique()) == {2, 3}
    assert store.read_dataset(str(tmp_path / "missing")).height == 0
