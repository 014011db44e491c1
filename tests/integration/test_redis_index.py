"""The Redis store's transaction-id index: compact day hashes that labels and retries find."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import polars as pl
import pytest
import redis

from features_support import replay
from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.online import OnlineFeatureEngine, RedisOnlineStore
from fraudops.features.online.packed import HEADER
from fraudops.features.online.times import US_PER_DAY, to_epoch_us
from fraudops.schema import label_feed_from_transactions

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(redis_server: str) -> Iterator[str]:
    name = f"idx-{uuid.uuid4().hex[:12]}"
    yield name
    cleanup = RedisOnlineStore(redis_server, prefix=name)
    OnlineFeatureEngine(cleanup)
    cleanup.clear()
    cleanup.close()


def test_index_hashes_are_listpacks_and_labels_find_older_days(
    redis_server: str, prefix: str
) -> None:
    # ~510 transactions a day over 12 days: sized, ~8 buckets a day of ~64 ids each
    # (configured for 1,024 a day: that count serves only a first day with no volume known)
    transactions = generate(SimulationConfig(customers=300, days=12, seed=5)).sort(
        "timestamp", "transaction_id"
    )
    start = transactions["timestamp"].min()
    assert start is not None
    history = transactions.filter(pl.col("timestamp") < start + timedelta(days=10))
    live = transactions.slice(history.height)
    store = RedisOnlineStore(redis_server, prefix=prefix, index_buckets=1024)
    engine = OnlineFeatureEngine(store)
    engine.backfill(history, label_feed_from_transactions(history))  # bulk: load()
    replay(engine, live)  # live: the per-transaction script

    client = redis.Redis.from_url(redis_server, decode_responses=True)
    index_keys = list(client.scan_iter(match=f"{store._ns}idx:*", count=1000))
    hashes = [key for key in index_keys if not key.endswith((":days", ":count"))]
    days = {int(key.split(":")[-2]) for key in hashes}
    assert len(days) >= 12
    assert len(hashes) <= 10 * len(days)
    sizes = [client.hlen(key) for key in hashes]
    assert sum(sizes) == transactions.height  # every id once
    assert sum(sizes) / len(sizes) > 40
    encodings = {client.object("encoding", key) for key in index_keys}
    assert encodings == {"listpack"}

    # loading the live part again adds nothing: the load finds, in Python, the ids the
    # script indexed (same bucket, same fingerprint)
    def card_rows() -> int:
        card = store.layout.entities[0]
        values = store._raw.mget([store._entity_keys(card, c)[0] for c in cards])
        return sum(int(HEADER.unpack_from(v)[0]) for v in values if isinstance(v, bytes))

    cards = transactions["card_id"].unique().to_list()
    assert card_rows() == transactions.height
    engine.backfill(live)
    assert card_rows() == transactions.height

    # a label for a transaction of the first day (bulk-loaded, 11 days before the last
    # transaction) finds it: its fraud lands, with the exact time, at its card and terminal
    old = transactions.filter(pl.col("is_fraud") == 0).row(0, named=True)
    reported = transactions["timestamp"].max() + timedelta(hours=1)
    assert engine.ingest_label(old["transaction_id"], 1, reported) is True
    expected = f"{to_epoch_us(old['timestamp'])}:{to_epoch_us(reported)}"
    tracked = [e for e in store.layout.entities if e.frauds]
    assert tracked
    for layout in tracked:
        _, fraud_key = store._entity_keys(layout, old[layout.entity])
        assert client.hget(fraud_key, old["transaction_id"]) == expected
    # one from the live part too; an unknown id is kept pending
    recent = live.row(live.height // 2, named=True)
    assert engine.ingest_label(recent["transaction_id"], 0, reported) is True
    assert engine.ingest_label("never-seen", 1, reported) is False
    assert client.exists(f"{store._ns}pending:never-seen")
    client.close()


def test_each_day_keeps_its_bucket_count(redis_server: str, prefix: str) -> None:
    base = {"card_id": "c1", "merchant_id": "m1", "terminal_id": "t1", "amount": 5.0}
    first = {**base, "transaction_id": "a", "timestamp": "2026-03-01T10:00:00+00:00"}
    second = {**base, "transaction_id": "b", "timestamp": "2026-03-03T10:00:00+00:00"}
    eight = RedisOnlineStore(redis_server, prefix=prefix, index_buckets=8)
    three = RedisOnlineStore(redis_server, prefix=prefix, index_buckets=3)
    engines = OnlineFeatureEngine(eight), OnlineFeatureEngine(three)
    engines[0].process(first)  # the first day listed: the configured 8 buckets
    engines[1].process(second)  # sized from the busiest day held (1 id): 1 bucket

    def rows() -> int:
        card_key, _ = eight._entity_keys(eight.layout.entities[0], "c1")
        value = eight._raw.get(card_key)
        assert isinstance(value, bytes)
        return int(HEADER.unpack_from(value)[0])

    assert rows() == 2
    # each replica finds both ids (a retry is scored, not added again)
    for engine in engines:
        assert engine.store.knows("a")
        assert engine.store.knows("b")
        engine.process(first)
        engine.process(second)
    assert rows() == 2
    listed = eight.client.hgetall(f"{eight._ns}idx:days")
    day = to_epoch_us(first["timestamp"]) // US_PER_DAY
    assert listed == {str(day): "8", str(day + 2): "1"}
    assert eight.client.hgetall(f"{eight._ns}idx:count") == {str(day): "1", str(day + 2): "1"}
    assert engines[1].ingest_label("a", 1, "2026-03-04T00:00:00+00:00") is True
    eight.close()
    three.close()


def test_a_store_warmed_in_two_loads_says_when_a_days_hashes_are_crowded(
    redis_server: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A bulk load lists each new day with one hash per 64 of its ids, and a listed day keeps
    its count: a second, larger load of the same days crowds their hashes past Redis's
    compact size. The store says so (the ids are all there; they only cost more)."""
    transactions = generate(SimulationConfig(customers=600, days=3, seed=8)).sort(
        "timestamp", "transaction_id"
    )
    cards = transactions["card_id"].unique().sort()
    small = transactions.filter(pl.col("card_id").is_in(cards.head(20).implode()))
    rest = transactions.filter(~pl.col("card_id").is_in(cards.head(20).implode()))
    store = RedisOnlineStore(redis_server, prefix=prefix)
    engine = OnlineFeatureEngine(store)
    with caplog.at_level("WARNING", logger="fraudops.features.online.redis_store"):
        engine.backfill(small)
        assert not caplog.records  # one load sizes its days for itself
        engine.backfill(rest)
    assert any("ids a hash" in r.getMessage() for r in caplog.records)
    last = rest.sort("timestamp").row(-1, named=True)["transaction_id"]
    assert store.knows(last)
    store.close()
