"""Online feature engine: one transaction in, its feature vector out, state updated.

The engine interprets the same declarations as the offline engine
(:mod:`fraudops.features.spec`) with the same semantics, one transaction at a time, over
a small state per entity:

- card (and any entity with per-transaction features): the entity's recent transactions
  (time, the columns its features read, filter flags), oldest first, packed
  (:mod:`.packed`: ~24 bytes per transaction for the default spec);
- terminal and merchant: the times of their recent transactions (windowed counts) and
  their frauds ``(time, known_at)`` once a label arrives;
- an index ``transaction_id -> (time, entity keys)`` so a label event finds the terminal
  and merchant it concerns, and "pending" labels that arrived before their transaction.

State older than the longest window (plus delay) is evicted; the index is kept for a label
horizon beyond that. Labels may arrive late and out of order: the store keeps each fraud's
report time and a feature at time ``t`` counts it only when ``known_at <= t``, so the
result equals the offline engine whenever every label event is ingested no later than its
``reported_at`` (and transactions are processed in ``(timestamp, transaction_id)`` order).

Backends: :class:`MemoryOnlineStore` (embedded default, one process) and
:class:`RedisOnlineStore` (``redis://``; shared by API replicas; one Lua script call per
transaction reads and updates all of its state atomically).

Modules: :mod:`.times` (epoch microseconds), :mod:`.layout` (what each entity's state
holds, derived from the spec), :mod:`.store` (the backend interface), :mod:`.memory`,
:mod:`.redis_store`, :mod:`.lua` and :mod:`.redis_index` (the backends), :mod:`.packed`
(the compact encoding of an entity's entries both backends keep), :mod:`.blocks` and :mod:`.engine`
(features compiled from the spec), :mod:`.backfill` (warm start from history).
"""

from __future__ import annotations

from fraudops.features.online.backfill import WARM_UP_DAYS, warm_up_days
from fraudops.features.online.engine import OnlineFeatureEngine
from fraudops.features.online.layout import (
    BackfillData,
    EntityLayout,
    EntityView,
    StoreLayout,
    TxRecord,
    build_layout,
)
from fraudops.features.online.memory import MemoryOnlineStore
from fraudops.features.online.redis_index import DEFAULT_INDEX_BUCKETS
from fraudops.features.online.redis_store import RedisOnlineStore
from fraudops.features.online.store import OnlineStore
from fraudops.features.online.times import to_epoch_us

__all__ = [
    "WARM_UP_DAYS",
    "BackfillData",
    "EntityLayout",
    "EntityView",
    "MemoryOnlineStore",
    "OnlineFeatureEngine",
    "OnlineStore",
    "RedisOnlineStore",
    "StoreLayout",
    "TxRecord",
    "build_layout",
    "open_online_store",
    "to_epoch_us",
    "warm_up_days",
]


def open_online_store(
    uri: str, timeout_seconds: float | None = None, index_buckets: int = DEFAULT_INDEX_BUCKETS
) -> OnlineStore:
    """``memory://`` (this process) or ``redis://host:port/db`` (shared); a networked store
    gives up on a call after ``timeout_seconds`` without retrying when it is given (the
    API's setting: a payment cannot wait), else uses its client's defaults.
    ``index_buckets``: Redis hashes of the transaction-id index's first day
    (:mod:`.redis_index`; later days get one per 64 ids of the busiest day held)."""
    if uri.startswith("memory://") or uri == "memory":
        return MemoryOnlineStore()
    if uri.startswith(("redis://", "rediss://", "unix://")):
        return RedisOnlineStore(uri, timeout_seconds=timeout_seconds, index_buckets=index_buckets)
    raise ValueError(f"unknown online store URI {uri!r}: use memory:// or redis://host:port/db")
