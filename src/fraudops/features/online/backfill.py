"""Warm start: the state that stored history implies, prepared in bulk with polars."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from fraudops.features.definition import NUMERIC_COLUMNS, FeatureDef, Filter
from fraudops.features.online.layout import BackfillData, StoreLayout
from fraudops.features.online.times import BEFORE_EVERYTHING
from fraudops.features.spec import FEATURES, max_retention


def warm_up_days(features: Sequence[FeatureDef] = FEATURES) -> int:
    """Whole days of history a warm start (or a stored window scored offline) needs: the
    longest look-back of any feature. Older history changes no feature value."""
    return math.ceil(max_retention(tuple(features)) / timedelta(days=1))


WARM_UP_DAYS = warm_up_days()  # of the spec's features


def backfill_data(
    layout: StoreLayout, transactions: pl.DataFrame, labels: pl.DataFrame | None = None
) -> BackfillData:
    """What a store of ``layout`` holds after ``transactions`` (and their ``labels``):
    each entity's last retention window, the transaction index and pending labels."""
    from fraudops.features.offline import fraud_known_at, prepare_transactions
    from fraudops.features.windows import NO_LABEL

    frame = prepare_transactions(transactions)
    ts = frame["timestamp"].dt.epoch("us")
    frame = frame.with_columns(
        ts.alias("__ts"),
        pl.Series("__known", fraud_known_at(frame, labels), dtype=pl.Int64),
    )
    # an empty history still carries labels of transactions yet to come
    now = int(ts.max()) if frame.height else BEFORE_EVERYTHING  # type: ignore[arg-type]
    entries: list[dict[str, tuple[list[str], list[int], list[list[Any]]]]] = []
    frauds: list[dict[str, dict[str, tuple[int, int]]]] = []
    for entity in layout.entities:
        recent = frame.filter(pl.col("__ts") > now - entity.retention_us)
        stored = [_stored_expr(c) for c in entity.columns] + [
            _backfill_filter(w) for w in entity.filters
        ]
        grouped = recent.group_by(entity.entity, maintain_order=True).agg(
            pl.col("transaction_id"),
            pl.col("__ts"),
            *[expr.alias(f"__s{i}") for i, expr in enumerate(stored)],
        )
        entries.append({row[0]: (row[1], row[2], list(row[3:])) for row in grouped.iter_rows()})
        by_entity: dict[str, dict[str, tuple[int, int]]] = {}
        if entity.frauds:
            labelled = recent.filter(pl.col("__known") != NO_LABEL).select(
                entity.entity, "transaction_id", "__ts", "__known"
            )
            for key, tx_id, t, known_at in labelled.iter_rows():
                by_entity.setdefault(key, {})[tx_id] = (t, known_at)
        frauds.append(by_entity)
    indexed = frame.filter(pl.col("__ts") > now - layout.index_retention_us).select(
        "transaction_id", "__ts", *[entity.entity for entity in layout.entities]
    )
    index = [(row[0], row[1], tuple(row[2:])) for row in indexed.iter_rows()]
    pending: dict[str, int] = {}
    if labels is not None and labels.height:
        unknown = (
            labels.filter(pl.col("is_fraud") == 1, pl.col("reported_at").is_not_null())
            .group_by("transaction_id")
            .agg(pl.col("reported_at").min().dt.epoch("us"))
            .join(frame.select("transaction_id"), on="transaction_id", how="anti")
            .filter(pl.col("reported_at") > now - layout.pending_retention_us)
        )
        pending = dict(unknown.iter_rows())
    return BackfillData(now, entries, frauds, index, pending)


def _stored_expr(column: str) -> pl.Expr:
    if column in NUMERIC_COLUMNS:
        return pl.col(column).cast(pl.Float64).fill_null(0.0)
    return pl.col(column)


def _backfill_filter(where: Filter) -> pl.Expr:
    from fraudops.features.windows import filter_expr

    return filter_expr(where)
