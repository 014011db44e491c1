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


def test_compaction_merges_closed_days_and_loses_nothing(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    uri = str(tmp_path / "predictions")
    at = datetime(2026, 3, 1, 10, tzinfo=UTC)
    for i in range(5):
        frame = pl.DataFrame({"transaction_id": [f"a{i}", f"b{i}"], "timestamp": [at, at]})
        store.append_chunk(uri, "2026-03-01", frame, None)
    # a later chunk with one more column: the merged file keeps both schemas' rows
    store.append_chunk(
        uri,
        "2026-03-01",
        pl.DataFrame({"transaction_id": ["c"], "timestamp": [at], "score": [0.5]}),
        None,
    )
    store.append_chunk(uri, "2026-03-02", pl.DataFrame({"transaction_id": ["d"]}), None)
    store.append_chunk(uri, "2026-03-02", pl.DataFrame({"transaction_id": ["e"]}), None)
    before = store.read_chunks(uri)

    assert store.compact_chunks(uri, date(2026, 3, 2)) == {"2026-03-01": 6}
    assert len(list((tmp_path / "predictions" / "date=2026-03-01").iterdir())) == 1
    # the open day (2026-03-02) is left alone
    assert len(list((tmp_path / "predictions" / "date=2026-03-02").iterdir())) == 2
    after = store.read_chunks(uri)
    assert sorted(after["transaction_id"]) == sorted(before["transaction_id"])
    assert after.filter(pl.col("transaction_id") == "c")["score"].to_list() == [0.5]
    # idempotent, and a late chunk for a compacted day is merged on the next run
    assert store.compact_chunks(uri, date(2026, 3, 2)) == {}
    store.append_chunk(uri, "2026-03-01", pl.DataFrame({"transaction_id": ["late"]}), None)
    assert store.compact_chunks(uri, date(2026, 3, 3)) == {"2026-03-01": 2, "2026-03-02": 2}
    assert sorted(store.read_chunks(uri)["transaction_id"]) == sorted(
        [*before["transaction_id"], "late"]
    )
    assert store.compact_chunks(str(tmp_path / "missing"), date(2026, 3, 3)) == {}
