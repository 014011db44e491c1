"""The partitioned store and the data CLI on an S3-compatible server (moto's).

The same contract tests/data/test_store.py proves on a local folder, on ``s3://``: a round
trip by day, a manifest whose hashes are the objects' content hashes, a rewrite that
replaces a day (never duplicates it), no temporary objects left behind, the append-only
logs the API writes, JSON documents, and ``fraudops data generate --out s3://…``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from fraudops.data import store
from fraudops.data.generate import SimulationConfig, generate

if TYPE_CHECKING:
    from conftest import S3Server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def transactions() -> pl.DataFrame:
    """Four days (moto keeps every object in memory and answers one request at a time)."""
    return generate(SimulationConfig(customers=300, days=4, start=date(2026, 3, 1), seed=7))


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.create_bucket(f"store-{uuid.uuid4().hex[:12]}")


def no_temporaries(keys: list[str]) -> bool:
    return not [key for key in keys if ".tmp" in key]


def test_round_trip_and_manifest_on_s3(
    s3_server: S3Server, bucket: str, transactions: pl.DataFrame
) -> None:
    uri, options = f"s3://{bucket}/ds", s3_server.storage_options()
    infos = store.write_dataset(uri, transactions, storage_options=options)
    assert len(infos) == 4
    keys = s3_server.keys(bucket)
    assert keys == sorted(
        ["ds/_manifest.json", *(f"ds/date={info.day}/part-0.parquet" for info in infos)]
    )
    manifest = store.read_manifest(uri, options)
    assert manifest["rows"] == transactions.height
    for day, entry in manifest["partitions"].items():
        content = s3_server.read(bucket, f"ds/{entry['path']}")
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], day
    assert store.list_partitions(uri, options) == sorted(manifest["partitions"])
    back = store.read_dataset(uri, storage_options=options)
    order = ["timestamp", "transaction_id"]
    assert back.sort(order).equals(transactions.sort(order))
    part = store.read_dataset(uri, date(2026, 3, 2), date(2026, 3, 3), options)
    assert set(part["timestamp"].dt.day().unique()) == {2, 3}
    assert store.read_dataset(f"s3://{bucket}/missing", storage_options=options).height == 0


def test_rewriting_a_day_on_s3_replaces_it(
    s3_server: S3Server, bucket: str, transactions: pl.DataFrame
) -> None:
    uri, options = f"s3://{bucket}/ds", s3_server.storage_options()
    store.write_dataset(uri, transactions, storage_options=options)
    first = store.read_manifest(uri, options)
    store.write_dataset(uri, transactions, storage_options=options)
    assert store.read_manifest(uri, options) == first  # same content, same hashes
    assert store.read_dataset(uri, storage_options=options).height == transactions.height

    day = transactions.filter(pl.col("timestamp").dt.day() == 2)
    store.write_partition(uri, "2026-03-02", day.head(10), options)
    manifest = store.read_manifest(uri, options)
    assert manifest["partitions"]["2026-03-02"]["rows"] == 10
    assert manifest["dataset_hash"] != first["dataset_hash"]
    assert manifest["rows"] == first["rows"] - day.height + 10
    assert store.read_dataset(uri, storage_options=options).height == manifest["rows"]
    keys = s3_server.keys(bucket)
    assert [k for k in keys if k.startswith("ds/date=2026-03-02/")] == [
        "ds/date=2026-03-02/part-0.parquet"
    ]
    assert no_temporaries(keys)


def test_append_only_logs_and_json_documents_on_s3(s3_server: S3Server, bucket: str) -> None:
    uri, options = f"s3://{bucket}/predictions", s3_server.storage_options()
    at = datetime(2026, 3, 1, 10, tzinfo=UTC)
    chunks = [
        pl.DataFrame({"transaction_id": ["a", "b"], "timestamp": [at, at], "score": [0.1, 0.2]}),
        pl.DataFrame({"transaction_id": ["c"], "timestamp": [at], "score": [0.9]}),
    ]
    for chunk in chunks:
        store.append_chunk(uri, "2026-03-01", chunk, options)
    store.append_chunk(
        uri, "2026-03-02", chunks[1].with_columns(transaction_id=pl.lit("d")), options
    )
    assert len(s3_server.keys(bucket, "predictions/date=2026-03-01/")) == 2
    logged = store.read_chunks(uri, date(2026, 3, 1), date(2026, 3, 1), options)
    assert sorted(logged["transaction_id"]) == ["a", "b", "c"]
    assert store.read_chunks(uri, storage_options=options).height == 4
    # a closed day's chunks become one object; nothing is lost
    assert store.compact_chunks(uri, date(2026, 3, 2), options) == {"2026-03-01": 2}
    assert len(s3_server.keys(bucket, "predictions/date=2026-03-01/")) == 1
    compacted = store.read_chunks(uri, date(2026, 3, 1), date(2026, 3, 1), options)
    assert sorted(compacted["transaction_id"]) == ["a", "b", "c"]

    document = f"s3://{bucket}/monitoring/records/2026-03-02T000000Z.json"
    assert not store.exists(document, options)
    store.write_json(document, {"as_of": at, "rows": 3}, options)
    assert store.exists(document, options)
    assert store.read_json(document, options) == {"as_of": at.isoformat(), "rows": 3}
    assert no_temporaries(s3_server.keys(bucket))


def test_cli_generates_partitions_and_manifest_on_s3(
    s3_server: S3Server, bucket: str, fraudops_cli: Callable[..., Any], tmp_path: Path
) -> None:
    env = {**s3_server.environment(), "FRAUDOPS_HOME": str(tmp_path / "home")}
    raw = f"s3://{bucket}/data/raw"
    command = ["data", "generate", "--customers", "60", "--days", "3", "--start", "2026-04-01"]
    fraudops_cli(env, *command, "--out", raw, cwd=tmp_path)
    manifest = json.loads(s3_server.read(bucket, "data/raw/_manifest.json"))
    days = ["2026-04-01", "2026-04-02", "2026-04-03"]
    assert sorted(manifest["partitions"]) == days
    assert s3_server.keys(bucket, "data/raw/") == sorted(
        ["data/raw/_manifest.json", *(f"data/raw/date={d}/part-0.parquet" for d in days)]
    )
    stored = store.read_dataset(raw, storage_options=s3_server.storage_options())
    assert stored.height == manifest["rows"] > 0
