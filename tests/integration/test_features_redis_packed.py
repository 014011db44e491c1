"""The Redis store's packed values (edited in Lua) against the memory store's (edited in
Python): the same rows, the same features, bounded tables, 16- to 32-bit codes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from fraudops.features.definition import FeatureDef
from fraudops.features.online import (
    BackfillData,
    MemoryOnlineStore,
    OnlineFeatureEngine,
    RedisOnlineStore,
)
from fraudops.features.online.packed import HEADER
from fraudops.features.online.redis_store import _table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SPEC = (
    FeatureDef(
        "card_distinct_merchants_30d",
        "distinct",
        "d",
        entity="card_id",
        column="merchant_id",
        window=30 * DAY,
        include_current=True,
    ),
    FeatureDef(
        "card_new_merchant_30d",
        "is_new",
        "d",
        entity="card_id",
        column="merchant_id",
        window=30 * DAY,
    ),
    FeatureDef(
        "card_amount_sum_30d",
        "sum",
        "d",
        entity="card_id",
        column="amount",
        window=30 * DAY,
        include_current=True,
    ),
)


@pytest.fixture
def store(redis_server: str) -> Iterator[RedisOnlineStore]:
    redis_store = RedisOnlineStore(redis_server, prefix=f"test-{uuid.uuid4().hex[:12]}")
    yield redis_store
    redis_store.clear()
    redis_store.close()


def tx(k: int, at: timedelta, merchant: str) -> dict[str, Any]:
    return {
        "transaction_id": f"tx-{k}",
        "timestamp": T0 + at,
        "card_id": "c1",
        "merchant_id": merchant,
        "terminal_id": "t1",
        "amount": 0.1 * (k % 97) + 1e-7 * k,
    }


def test_tables_are_compacted_and_features_match_memory(store: RedisOnlineStore) -> None:
    """A card meeting a new merchant every few hours for 60 days: rows leave the window,
    the table is compacted many times, and late transactions are inserted in order."""
    in_redis = OnlineFeatureEngine(store, SPEC)
    in_memory = OnlineFeatureEngine(MemoryOnlineStore(), SPEC)
    rows = [tx(k, k * timedelta(hours=5), f"m{k % 211}") for k in range(290)]
    for k in range(20, 290, 37):  # some arrive late, after the next ones
        rows[k], rows[k - 1] = rows[k - 1], rows[k]
    for row in rows:
        assert np.array_equal(in_redis.process(row), in_memory.process(row))
    value = store._raw.get(store._entity_keys(store.layout.entities[0], "c1")[0])
    rows_held = HEADER.unpack_from(value)[0]
    assert rows_held == 144  # 30 days of one transaction every 5 hours
    table = _table(in_redis.store._packings[0], value)  # type: ignore[attr-defined]
    assert len(table) <= 16 + rows_held * 3 // 2


def test_codes_widen_in_lua_past_65535_values(store: RedisOnlineStore) -> None:
    """65,535 distinct merchants fill 16-bit codes; the next one widens them to 32 bits."""
    count = 65_535
    times = [int(T0.timestamp() * 1e6) + k for k in range(count)]
    ids = [f"old-{k}" for k in range(count)]
    columns = [[f"m{k}" for k in range(count)], [1.0] * count]
    engines = [OnlineFeatureEngine(s, SPEC) for s in (store, MemoryOnlineStore())]
    for engine in engines:
        assert engine.layout.entities[0].columns == ("merchant_id", "amount")
        entries: list[dict[str, tuple[list[str], list[int], list[list[Any]]]]] = [
            {"c1": (ids, times, columns)}
        ]
        engine.store.load(BackfillData(times[-1], entries, [{}], [], {}))
    key = store._entity_keys(store.layout.entities[0], "c1")[0]
    assert HEADER.unpack_from(store._raw.get(key))[2] == 2
    for k, merchant in enumerate(["brand-new", "m7", "brand-new", "another"]):
        row = tx(k, DAY + k * timedelta(seconds=1), merchant)
        vectors = [engine.process(row) for engine in engines]
        assert np.array_equal(vectors[0], vectors[1])
    assert HEADER.unpack_from(store._raw.get(key))[2] == 4
    assert vectors[0][0] == count + 2  # every merchant, and the two new ones
