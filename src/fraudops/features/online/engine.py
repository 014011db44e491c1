"""The online engine: one transaction in, its feature vector out, state updated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import compress
from typing import Any

import numpy as np
import polars as pl

from fraudops.features.definition import LABEL_KINDS, NUMERIC_COLUMNS, FeatureDef
from fraudops.features.online.backfill import backfill_data
from fraudops.features.online.batch import BatchKernel, BatchRows
from fraudops.features.online.blocks import (
    Block,
    Bounds,
    context_block,
    context_value,
    filter_fn,
    fraud_block,
    numeric_block,
)
from fraudops.features.online.layout import (
    EntityLayout,
    EntityView,
    TxRecord,
    build_layout,
    entries_up_to,
    interned,
    stored_value,
)
from fraudops.features.online.resilient import StoreUnavailableError
from fraudops.features.online.store import OnlineStore
from fraudops.features.online.times import duration_us, to_epoch_us
from fraudops.features.spec import (
    COLUMN_DEFAULTS,
    COLUMN_FALLBACKS,
    FEATURES,
    check_features,
    feature_names,
    spec_hash,
)

# Smaller batches go one exchange each: the vectorised pass has a fixed cost of a few
# dozen numpy calls per entity type (a chosen bound, not tuned by a benchmark).
BATCH_FROM = 8


class OnlineFeatureEngine:
    """Feature vectors for incoming transactions, from and into an :class:`OnlineStore`.

    ``process`` is the API's hot path: plain Python over a small state, with the feature
    order, window bounds and the grouping of features that share a window precompiled
    from the spec.
    """

    def __init__(self, store: OnlineStore, features: Sequence[FeatureDef] = FEATURES) -> None:
        self.features = tuple(features)
        check_features(self.features)
        self.feature_names = feature_names(self.features)
        self.spec_hash = spec_hash(self.features)
        self.layout = build_layout(self.features, self.spec_hash)
        self.store = store
        store.configure(self.layout)
        entities = self.layout.entities
        self._position = {layout.entity: i for i, layout in enumerate(entities)}
        self._filters = [[filter_fn(w) for w in layout.filters] for layout in entities]
        self._slots: list[list[tuple[int, int]]] = [[] for _ in entities]
        self._blocks = self._compile()
        # per entity: the distinct window edges to search, and each slot's pair of edges
        self._bound_plan: list[tuple[list[int], list[tuple[int, int]]]] = []
        for slots in self._slots:
            offsets = sorted({offset for slot in slots for offset in slot})
            pairs = [(offsets.index(lo), offsets.index(hi)) for lo, hi in slots]
            self._bound_plan.append((offsets, pairs))
        needed = {"card_id", "merchant_id", "terminal_id", "customer_id"} | {
            layout.entity for layout in entities
        }
        for f in self.features:
            needed |= {c for c in (f.column, f.where.column if f.where else None) if c}
            if f.kind == "distance_home":
                needed |= {"customer_lat", "customer_lon", "merchant_lat", "merchant_lon"}
        self._fields = sorted(needed)
        # precomputed for the hot path: (name, default, is numeric) per field read
        self._field_specs = [
            (n, COLUMN_DEFAULTS.get(n), n in NUMERIC_COLUMNS) for n in self._fields
        ]
        self._fallbacks = [
            (name, source)
            for name, source in COLUMN_FALLBACKS.items()
            if name in needed and source in needed
        ]
        # what a transaction's features read when the store is unreachable: no history
        self._no_history = [
            EntityView([], [[] for _ in layout.kinds], [0] * len(layout.count_ranges), [])
            for layout in entities
        ]
        self.stateful = np.array([f.windowed for f in self.features], dtype=bool)
        self._entity_specs = [
            (layout.entity, layout.columns, filters)
            for layout, filters in zip(entities, self._filters, strict=True)
        ]
        kernel = BatchKernel(self.features, self.layout, self._field_specs, self._fallbacks)
        self._kernel = kernel if kernel.supports else None

    # -- compilation -------------------------------------------------------------------

    def _slot(self, e: int, f: FeatureDef) -> int:
        assert f.window is not None
        bounds = (duration_us(f.window + f.delay), duration_us(f.delay))
        slots = self._slots[e]
        if bounds not in slots:
            slots.append(bounds)
        return slots.index(bounds)

    def _compile(self) -> list[Block]:
        blocks: list[Block] = []
        context = [(i, context_value(f)) for i, f in enumerate(self.features) if not f.windowed]
        if context:
            blocks.append(context_block(context))
        # sums, means, maxima and ratios over the same filtered window share one pass
        numeric: dict[tuple[int, int, int, bool, int], dict[str, int]] = {}
        # every label feature of an entity shares one pass over its frauds
        labelled: dict[int, list[tuple[int, str, int, int, int, int]]] = {}
        for i, f in enumerate(self.features):
            if not f.windowed:
                continue
            assert f.entity is not None
            assert f.window is not None
            e = self._position[f.entity]
            layout = self.layout.entities[e]
            if f.kind in LABEL_KINDS:
                lo, hi = duration_us(f.window + f.delay), duration_us(f.delay)
                if layout.entries:  # the count comes from the window's bounds
                    source, index = 0, self._slot(e, f)
                else:  # the count comes from the store
                    source, index = 1, layout.count_ranges.index((lo, hi))
                labelled.setdefault(e, []).append((i, f.kind, lo, hi, source, index))
                continue
            if not layout.entries:
                blocks.append(self._counted(i, f, e, layout))
                continue
            k = self._slot(e, f)
            c = layout.columns.index(f.column) if f.column else -1
            g = len(layout.columns) + layout.filters.index(f.where) if f.where else -1
            if f.kind in ("sum", "mean", "max", "ratio_to_mean"):
                numeric.setdefault((e, k, g, f.include_current, c), {})[f.kind] = i
            else:
                blocks.append(self._windowed(i, f, e, k, c, g))
        blocks += [numeric_block(*key, targets) for key, targets in numeric.items()]
        blocks += [fraud_block(e, items) for e, items in labelled.items()]
        return blocks

    def _windowed(self, i: int, f: FeatureDef, e: int, k: int, c: int, g: int) -> Block:
        """A feature over an entity's entries that is not a numeric aggregate."""
        inc, kind = f.include_current, f.kind
        if kind == "count" and g < 0:

            def count(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                s, end = b[e][k]
                out[i] = float(end - s + inc)

            return count
        if kind == "count":

            def count_where(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                s, end = b[e][k]
                out[i] = float(sum(v[e].columns[g][s:end]) + (inc and r.stored[e][g]))

            return count_where
        if kind == "distinct":

            def distinct(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                s, end = b[e][k]
                values = v[e].columns[c][s:end]
                if g >= 0:
                    values = list(compress(values, v[e].columns[g][s:end]))
                seen = set(values)
                if inc and (g < 0 or r.stored[e][g]):
                    seen.add(r.stored[e][c])
                seen.discard(None)
                out[i] = float(len(seen))

            return distinct
        if kind == "is_new":

            def is_new(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                current = r.stored[e][c]
                if current is None:
                    out[i] = 0.0
                    return
                s, end = b[e][k]
                out[i] = 0.0 if current in v[e].columns[c][s:end] else 1.0

            return is_new
        if kind == "seconds_since_prev":
            assert f.window is not None
            cap = f.window.total_seconds()

            def since(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
                end = b[e][k][1]
                out[i] = min((r.ts - v[e].ts[end - 1]) / 1_000_000, cap) if end else cap

            return since
        raise ValueError(f"unknown windowed kind {kind!r}")

    def _counted(self, i: int, f: FeatureDef, e: int, layout: EntityLayout) -> Block:
        """A count of an entity whose store keeps only counts and frauds."""
        assert f.window is not None
        r_index = layout.count_ranges.index((duration_us(f.window + f.delay), duration_us(f.delay)))
        inc = f.include_current

        def count(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
            out[i] = float(v[e].counts[r_index] + inc)

        return count

    # -- hot path ----------------------------------------------------------------------

    def _record(self, tx: Mapping[str, Any]) -> TxRecord:
        try:
            tx_id = str(tx["transaction_id"])
            ts = to_epoch_us(tx["timestamp"])
        except KeyError as missing:
            raise ValueError(f"transaction lacks {missing.args[0]!r}") from None
        fields: dict[str, Any] = {}
        get = tx.get
        for name, default, numeric in self._field_specs:
            value = get(name)
            if value is None:
                value = default
            elif numeric:
                value = float(value)
            else:  # ids and codes repeat across transactions: one shared copy in the state
                value = interned(value)
            fields[name] = value
        for name, source in self._fallbacks:
            if fields[name] is None:
                fields[name] = fields[source]
        keys = []
        stored = []
        for entity, columns, filters in self._entity_specs:
            key = fields[entity]
            if key is None:
                raise ValueError(f"transaction {tx_id!r} lacks {entity!r}")
            keys.append(str(key))
            values = [fields[c] for c in columns]
            if None in values:
                values = [stored_value(c, v) for c, v in zip(columns, values, strict=True)]
            stored.append(tuple(values) + tuple(test(fields) for test in filters))
        return TxRecord(tx_id, ts, tuple(keys), tuple(stored), fields)

    def _compute(self, record: TxRecord, views: list[EntityView], known: bool) -> np.ndarray:
        t = record.ts
        bounds: Bounds = []
        for view, (offsets, pairs) in zip(views, self._bound_plan, strict=True):
            if pairs:
                at = [entries_up_to(view.ts, t - offset) for offset in offsets]
                bounds.append([(at[i], at[j]) for i, j in pairs])
            else:
                bounds.append([])
        out = [0.0] * len(self.features)
        for block in self._blocks:
            block(record, views, bounds, out)
        return np.array(out, dtype=np.float64)

    def process(self, tx: Mapping[str, Any]) -> np.ndarray:
        """The transaction's feature vector (``feature_names`` order); then update state.

        A transaction id the store already knows (a retry) is scored against the state
        but not added twice.
        """
        return self.store.exchange(self._record(tx), self._compute)

    def _vectorised(self, txs: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
        """The batch's vectors through the vectorised pass (:mod:`.batch`), or None when
        the store has none or a transaction does not parse (then nothing changed)."""
        if self._kernel is None or not self.store.batches or len(txs) < BATCH_FROM:
            return None
        rows = self._kernel.parse(txs)
        return None if rows is None else self._in_pieces(txs, rows)

    def _in_pieces(self, txs: Sequence[Mapping[str, Any]], rows: BatchRows) -> np.ndarray:
        """One pass when the store takes the batch; a batch it hands back (a retry, a
        label waiting for one of its transactions, a late one) is halved, in order, so
        only a few transactions around the one it cannot take go one at a time."""
        assert self._kernel is not None
        vectors = self.store.exchange_batch(rows, self._kernel)
        if vectors is not None:
            return vectors
        if len(rows) < 2 * BATCH_FROM:
            records = [self._record(tx) for tx in txs]
            return np.vstack(self.store.exchange_many(records, self._compute))
        half = len(rows) // 2
        return np.vstack(
            [
                self._in_pieces(txs[:half], rows.part(0, half)),
                self._in_pieces(txs[half:], rows.part(half, len(rows))),
            ]
        )

    def process_many(self, txs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Feature vectors of several transactions, processed in the given order."""
        if not txs:
            return np.empty((0, len(self.features)), dtype=np.float64)
        vectors = self._vectorised(txs)
        if vectors is not None:
            return vectors
        records = [self._record(tx) for tx in txs]
        return np.vstack(self.store.exchange_many(records, self._compute))

    def process_or_degrade(self, txs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, str | None]:
        """``process_many``, or, when the store is unavailable, the vectors computed
        without history (context features exact; windowed velocity and risk features as
        for a first-seen entity, ``stateful`` marks them) and the reason."""
        records: list[TxRecord] = []
        try:
            vectors = self._vectorised(txs)
            if vectors is not None:
                return vectors, None
            records = [self._record(tx) for tx in txs]
            if not records:
                return np.empty((0, len(self.features)), dtype=np.float64), None
            if len(records) == 1:
                return self.store.exchange(records[0], self._compute).reshape(1, -1), None
            return np.vstack(self.store.exchange_many(records, self._compute)), None
        except StoreUnavailableError as exc:
            views = self._no_history
            records = records or [self._record(tx) for tx in txs]
            return np.vstack([self._compute(r, views, False) for r in records]), str(exc)

    def ingest_label(self, transaction_id: str, is_fraud: int, reported_at: datetime | str) -> bool:
        """Record a label event; True if the transaction is known to the store.

        A fraud label counts for features at times >= ``reported_at`` (never earlier),
        whatever the order labels arrive in; the earliest report of a fraud wins. A label
        for a transaction not seen yet is kept (for the label horizon) and applied when the
        transaction arrives. ``is_fraud = 0`` changes no feature.
        """
        reported_us = to_epoch_us(reported_at)
        if int(is_fraud) == 1:
            return self.store.add_fraud_label(str(transaction_id), reported_us)
        return self.store.knows(str(transaction_id))

    def ready(self) -> bool:
        """Whether the store is reachable."""
        return self.store.ping()

    # -- warm start --------------------------------------------------------------------

    def backfill(self, transactions: pl.DataFrame, labels: pl.DataFrame | None = None) -> int:
        """Load the state that stored history implies (its last retention window).

        Returns the number of transactions now indexed. Use it on an empty store before
        serving, so a freshly started server does not see every card as new; transactions
        processed afterwards get the same features the offline engine computes over the
        whole history.
        """
        data = backfill_data(self.layout, transactions, labels)
        self.store.load(data)
        return len(data.index)
