"""Online features of a whole batch in one vectorised pass.

``/v1/predict/batch`` and the closed loop score hundreds of transactions at a time, and one
``exchange`` a transaction costs ~100 µs of Python. Here a batch is parsed into columns
(:class:`BatchRows`); the store lays out, for each entity type, the rows of the batch's keys
as one array (:class:`History`: per key its held rows, then its rows of this batch in batch
order, so a batch's earlier transaction is history for its later one); and
:class:`BatchKernel` computes every feature of every transaction with numpy.

The vectors are bit for bit those of single calls in order
(``tests/unit/test_features_batch.py``): sums add the same doubles in the same order (a
loop over window positions, not a prefix-sum difference), counts, ratios and comparisons
are the same IEEE operations, and context features call the same ``math`` functions. A
store offers the fast path through ``exchange_batch``; what it does not cover (a retry, a
label waiting for its transaction, late traffic) takes the single-call path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraudops.features.definition import LABEL_KINDS, FeatureDef
from fraudops.features.online.blocks import context_column, filter_column
from fraudops.features.online.layout import StoreLayout, interned, stored_value
from fraudops.features.online.times import duration_us, to_epoch_us

# Composite sort keys (key number x span + time) must stay inside int64.
_KEY_SPACE = 1 << 62

# A column of a batch: one value per transaction
Column = list[Any]


@dataclass
class BatchRows:
    """A batch's transactions as columns (what ``OnlineFeatureEngine._record`` gives one
    transaction, for all of them)."""

    tx_ids: list[str]
    ts: np.ndarray  # int64 epoch µs
    fields: dict[str, Column]  # every field the features read, defaults applied
    keys: list[list[str]]  # per layout entity: the key of each transaction
    stored: list[list[Column]]  # per layout entity: its stored columns, then filter flags

    def __len__(self) -> int:
        return len(self.tx_ids)

    def part(self, start: int, end: int) -> BatchRows:
        """Transactions ``start:end`` of the batch."""
        return BatchRows(
            self.tx_ids[start:end],
            self.ts[start:end],
            {name: column[start:end] for name, column in self.fields.items()},
            [keys[start:end] for keys in self.keys],
            [[column[start:end] for column in columns] for columns in self.stored],
        )


@dataclass
class History:
    """One entity type's rows for the batch's keys, key after key: per key its held rows
    (time order), then its transactions of the batch (batch order, which must be time
    order). ``columns`` follow the layout's kinds: float64 values, int64 codes into the
    key's own value table (0 is ``None``; equal codes are equal values within a key), int8
    filter flags."""

    ts: np.ndarray
    columns: list[np.ndarray]
    starts: np.ndarray  # per key its first row, then the end (keys + 1 entries)
    segment: np.ndarray  # per transaction: its key's number
    own: np.ndarray  # per transaction: its row
    # the frauds held for each transaction's key: transaction number, time, known at
    fraud_rows: np.ndarray
    fraud_ts: np.ndarray
    fraud_known: np.ndarray


class TimeSearch:
    """Searches of a history's rows by key and time: the rows sorted by one int64
    composite (key number x span + time since ``earliest``), built once."""

    def __init__(self, history: History, earliest: int) -> None:
        """``earliest``: no limit searched will be before it. Raises
        :class:`TooWideError` when the times are too far apart for the composite
        (never for days of traffic; the caller takes the one-by-one path)."""
        lengths = np.diff(history.starts)
        self.base = min(int(history.ts.min()), earliest) if len(history.ts) else earliest
        last = int(history.ts.max()) if len(history.ts) else earliest
        self.span = last - self.base + 1
        if self.span * max(len(lengths), 1) >= _KEY_SPACE:
            raise TooWideError
        keys = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        self.keyed = keys * self.span + (history.ts - self.base)

    def up_to(self, segment: np.ndarray, limits: np.ndarray) -> np.ndarray:
        """Per query, the row after key ``segment``'s rows with ts <= its ``limit``
        (``earliest`` <= limit <= the history's last time)."""
        return np.searchsorted(self.keyed, segment * self.span + (limits - self.base), side="right")


class _Edges:
    """Window edges of every transaction in one entity's history, searched once per
    distinct offset: ``at(o)`` = the row after the key's rows with ts <= t - o that came
    before the transaction (rows older than the retention are never inside a window)."""

    def __init__(self, history: History, ts: np.ndarray, retention_us: int) -> None:
        self.history, self.ts, self.retention = history, ts, retention_us
        self.search = TimeSearch(history, int(ts.min()) - retention_us)
        self._at: dict[int, np.ndarray] = {}

    def at(self, offset: int) -> np.ndarray:
        offset = min(offset, self.retention)
        found = self._at.get(offset)
        if found is None:
            h = self.history
            found = np.minimum(self.search.up_to(h.segment, self.ts - offset), h.own)
            self._at[offset] = found
        return found

    def window(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows [start, end) of each transaction's window (t - lo, t - hi]."""
        return self.at(lo), self.at(hi)


class TooWideError(Exception):
    """A batch's times are too far apart for the vectorised search."""


def sequential_sums(values: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """``values[start:start + length]`` of each transaction added left to right from 0.0,
    as the single-call path adds them: one vector addition per window position, over the
    transactions whose window is that long (longest first)."""
    n = len(start)
    sums = np.zeros(n, dtype=np.float64)
    if not n or not length.any():
        return sums
    order = np.argsort(-length, kind="stable")
    first, lengths = start[order], length[order]
    longer = np.searchsorted(-lengths, -np.arange(int(lengths[0])), side="left")
    acc = np.zeros(n, dtype=np.float64)
    for j, k in enumerate(longer.tolist()):  # k transactions have a window longer than j
        acc[:k] += values[first[:k] + j]
    sums[order] = acc
    return sums


def window_max(values: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The largest of ``values[start:start + length]`` per transaction (-inf if empty)."""
    n = len(start)
    if not n:
        return np.empty(0, dtype=np.float64)
    padded = np.append(values, -np.inf)  # reduceat needs every start to be an index
    edges = np.empty(2 * n, dtype=np.int64)
    edges[0::2], edges[1::2] = start, start + length
    found = np.maximum.reduceat(padded, edges)[0::2]
    return np.where(length > 0, found, -np.inf)


def runs(start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (run, position) of the runs ``start[k] : start[k] + length[k]``, run after
    run: the run numbers and the positions (e.g. every row of every window)."""
    owner = np.repeat(np.arange(len(start), dtype=np.int64), length)
    skip = np.repeat(start - (np.cumsum(length) - length), length)
    return owner, np.arange(len(owner), dtype=np.int64) + skip


def _ratio(numerator: np.ndarray, denominator: np.ndarray, empty: float) -> np.ndarray:
    out = np.full(len(numerator), empty, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


# A compiled op writes some columns of the output: (rows, histories, edges, out) -> None
Op = Callable[[BatchRows, list[History], list[_Edges], np.ndarray], None]


class BatchKernel:
    """The spec's features compiled to vectorised ops over a batch (mirrors the engine's
    per-transaction blocks; ``supports`` is False for a spec using a kind it lacks)."""

    def __init__(
        self,
        features: Sequence[FeatureDef],
        layout: StoreLayout,
        field_specs: Sequence[tuple[str, Any, bool]],
        fallbacks: Sequence[tuple[str, str]],
    ) -> None:
        self.features = tuple(features)
        self.layout = layout
        self._field_specs = list(field_specs)
        self._fallbacks = list(fallbacks)
        self._position = {e.entity: i for i, e in enumerate(layout.entities)}
        self.supports = True
        self._ops = self._compile()

    # -- parsing ----------------------------------------------------------------------

    def parse(self, txs: Sequence[Mapping[str, Any]]) -> BatchRows | None:
        """The batch as columns, or None when a transaction is malformed (the single-call
        parse then names the problem)."""
        try:
            tx_ids = [str(tx["transaction_id"]) for tx in txs]
            ts = np.array([to_epoch_us(tx["timestamp"]) for tx in txs], dtype=np.int64)
            fields: dict[str, Column] = {}
            for name, default, numeric in self._field_specs:
                column = [tx.get(name) for tx in txs]
                if numeric:
                    fields[name] = [default if v is None else float(v) for v in column]
                else:  # ids and codes repeat: one shared copy in the state
                    fields[name] = [default if v is None else interned(v) for v in column]
        except (KeyError, TypeError, ValueError, OverflowError):
            return None
        for name, source in self._fallbacks:
            column = fields[name]
            if None in column:
                fields[name] = [
                    s if v is None else v for v, s in zip(column, fields[source], strict=True)
                ]
        keys: list[list[str]] = []
        stored: list[list[Column]] = []
        for entity in self.layout.entities:
            column = fields[entity.entity]
            if None in column:
                return None
            keys.append([str(k) for k in column])
            values: list[Column] = []
            for name in entity.columns:
                column = fields[name]
                values.append([stored_value(name, v) for v in column] if None in column else column)
            values += [filter_column(where, fields[where.column]) for where in entity.filters]
            stored.append(values)
        return BatchRows(tx_ids, ts, fields, keys, stored)

    # -- compilation ------------------------------------------------------------------

    def _compile(self) -> list[Op]:
        ops: list[Op] = []
        numeric: dict[tuple[int, int, int, int, bool, int], dict[str, int]] = {}
        frauds: dict[int, list[tuple[int, str, int, int]]] = {}
        for i, f in enumerate(self.features):
            if not f.windowed:
                ops.append(self._context(i, f))
                continue
            assert f.entity is not None
            assert f.window is not None
            e = self._position[f.entity]
            entity = self.layout.entities[e]
            lo, hi = duration_us(f.window + f.delay), duration_us(f.delay)
            if f.kind in LABEL_KINDS:
                frauds.setdefault(e, []).append((i, f.kind, lo, hi))
                continue
            c = entity.columns.index(f.column) if f.column and entity.entries else -1
            g = len(entity.columns) + entity.filters.index(f.where) if f.where else -1
            if f.kind in ("sum", "mean", "max", "ratio_to_mean"):
                numeric.setdefault((e, lo, hi, g, f.include_current, c), {})[f.kind] = i
            elif f.kind == "count":
                ops.append(_count(i, e, lo, hi, g, f.include_current))
            elif f.kind == "distinct":
                ops.append(_distinct(i, e, lo, hi, c, g, f.include_current))
            elif f.kind == "is_new":
                ops.append(_is_new(i, e, lo, hi, c))
            elif f.kind == "seconds_since_prev":
                ops.append(_since(i, e, hi, entity.retention_us, f.window.total_seconds()))
            else:
                self.supports = False
        ops += [_numeric(*key, targets) for key, targets in numeric.items()]
        ops += [_frauds(e, items) for e, items in frauds.items()]
        return ops

    @staticmethod
    def _context(i: int, f: FeatureDef) -> Op:
        def context(rows: BatchRows, h: list[History], b: list[_Edges], out: np.ndarray) -> None:
            out[:, i] = context_column(f, rows.fields, rows.ts)

        return context

    # -- computing --------------------------------------------------------------------

    def compute(self, rows: BatchRows, histories: Sequence[History]) -> np.ndarray | None:
        """The batch's feature vectors (``feature_names`` order), or None when its times
        are too far apart for the vectorised search."""
        out = np.zeros((len(rows), len(self.features)), dtype=np.float64)
        try:
            edges = [
                _Edges(h, rows.ts, e.retention_us)
                for h, e in zip(histories, self.layout.entities, strict=True)
            ]
            for op in self._ops:
                op(rows, list(histories), edges, out)
        except TooWideError:
            return None
        return out


def _count(i: int, e: int, lo: int, hi: int, g: int, inc: bool) -> Op:
    def count(rows: BatchRows, h: list[History], b: list[_Edges], out: np.ndarray) -> None:
        start, end = b[e].window(lo, hi)
        if g < 0:
            out[:, i] = end - start + int(inc)
            return
        flags = h[e].columns[g]
        passed = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
        current = flags[h[e].own] if inc else 0
        out[:, i] = passed[end] - passed[start] + current

    return count


def _numeric(e: int, lo: int, hi: int, g: int, inc: bool, c: int, targets: dict[str, int]) -> Op:
    """Sum, mean, max and ratio-to-mean of one column over one (filtered) window."""

    def numeric(rows: BatchRows, h: list[History], b: list[_Edges], out: np.ndarray) -> None:
        history = h[e]
        start, end = b[e].window(lo, hi)
        values = history.columns[c]
        current = values[history.own]
        length = end - start
        largest: np.ndarray | None = None
        if g >= 0:  # a filtered-out row adds +0.0, which leaves a sum as it is
            flags = history.columns[g] != 0
            passed = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
            counted = passed[end] - passed[start]
            totals = sequential_sums(np.where(flags, values, 0.0), start, length)
            largest = window_max(np.where(flags, values, -np.inf), start, length)
            with_current = flags[history.own] if inc else np.zeros(len(start), dtype=bool)
        else:
            counted = length
            totals = sequential_sums(values, start, length)
            if "max" in targets:
                largest = window_max(values, start, length)
            with_current = np.full(len(start), inc)
        totals = np.where(with_current, totals + current, totals)
        counted = counted + with_current
        means = _ratio(totals, counted, 0.0)
        if "sum" in targets:
            out[:, targets["sum"]] = totals
        if "mean" in targets:
            out[:, targets["mean"]] = means
        if "max" in targets:
            assert largest is not None
            largest = np.where(with_current, np.maximum(largest, current), largest)
            out[:, targets["max"]] = np.where(counted > 0, largest, 0.0)
        if "ratio_to_mean" in targets:
            out[:, targets["ratio_to_mean"]] = _ratio(current, means, 1.0)

    return numeric


def _distinct(i: int, e: int, lo: int, hi: int, c: int, g: int, inc: bool) -> Op:
    def distinct(rows: BatchRows, h: list[History], b: list[_Edges], out: np.ndarray) -> None:
        history = h[e]
        start, end = b[e].window(lo, hi)
        owner, at = runs(start, end - start)
        codes = history.columns[c]
        keep = codes[at] != 0  # None is not a value
        if g >= 0:
            keep &= history.columns[g][at] != 0
        pairs = [owner[keep] << 32 | codes[at][keep]]
        if inc:
            current = codes[history.own]
            counts = current != 0
            if g >= 0:
                counts &= history.columns[g][history.own] != 0
            pairs.append(np.flatnonzero(counts) << 32 | current[counts])
        unique = np.unique(np.concatenate(pairs))
        out[:, i] = np.bincount(unique >> 32, minlength=len(start))

    return distinct


def _is_new(i: int, e: int, lo: int, hi: int, c: int) -> Op:
    def is_new(rows: BatchRows, h: list[History], b: list[_Edges], out: np.ndarray) -> None:
        history = h[e]
        start, end = b[e].window(lo, hi)
        owner, at = runs(start, end - start)
        codes = history.columns[c]
        current = codes[history.own]
        seen = np.bincount(owner[codes[at] == current[owner]], minlength=len(start)) > 0
        out[:, i] = (current != 0) & ~seen

    return is_new


def _since(i: int, e: int, hi: int, retention_us: int, cap: float) -> Op:
    def since(rows: BatchRows, h: list[History], b: list[_Edges], out: np.ndarray) -> None:
        live, end = b[e].at(retention_us), b[e].at(hi)
        has_previous = end > live
        previous = h[e].ts[np.where(has_previous, end - 1, 0)]  # the batch's rows are in it
        seconds = np.minimum((rows.ts - previous) / 1_000_000, cap)
        out[:, i] = np.where(has_previous, seconds, cap)

    return since


def _frauds(e: int, items: list[tuple[int, str, int, int]]) -> Op:
    """Fraud counts and rates of one entity: a fraud counts when its label was known at
    the transaction's time and its transaction is inside the window."""

    def frauds(rows: BatchRows, h: list[History], b: list[_Edges], out: np.ndarray) -> None:
        history = h[e]
        owner = history.fraud_rows
        t = rows.ts[owner]
        known = history.fraud_known <= t
        for i, kind, lo, hi in items:
            inside = known & (t - lo < history.fraud_ts) & (history.fraud_ts <= t - hi)
            found = np.bincount(owner[inside], minlength=len(rows))
            if kind == "fraud_count":
                out[:, i] = found
                continue
            start, end = b[e].window(lo, hi)
            out[:, i] = _ratio(found.astype(np.float64), end - start, 0.0)

    return frauds
