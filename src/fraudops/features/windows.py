"""Windowed features of one entity over the whole history, by index arithmetic.

Vectorised over the whole history: no Python loop runs per row. Per entity (card,
terminal, merchant) the rows are put in ``(entity, timestamp, transaction_id)`` order once;
then every window is a pair of row indices ``[start, end)`` found by binary search on a
composite ``(entity, time)`` key, and

- counts and sums are differences of (per-entity) prefix sums,
- maxima come from a sparse table (range-maximum query, O(n log w)),
- distinct counts subtract, from the rows in the window, those whose previous occurrence
  of the same value is also in the window (a difference array over the rows each
  repetition affects),
- label-aware fraud counts add each labelled fraud to the rows that have it in their
  window *and* whose time is at or after the label's report time (again a difference
  array), so a label reported after a transaction never reaches that transaction.
"""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta

import numpy as np
import polars as pl

from fraudops.features.definition import FeatureDef, Filter

logger = logging.getLogger(__name__)

NO_LABEL = np.iinfo(np.int64).max  # "no fraud reported": later than any timestamp
_US = 1_000_000
# Composite keys are entity_code * span + time; stay well inside int64.
_KEY_LIMIT = 1 << 62


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _row_bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _group_rows(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by value, in row order within a group: ``(order, dense code per
    position in that order)``.

    Sorting 10M strings (or arg-sorting 10M hashes stably) is slow; sorting plain 64-bit
    integers is fast. So the key is the top bits of a 64-bit hash with the row number in
    the low bits: one ``np.sort`` of unique integers groups equal values and keeps row
    order within a group. A second, independent hash proves no two values shared a
    group; on a collision (rare: it needs two values equal on the kept hash bits) an
    exact, slower encoding is used instead.
    """
    n = series.len()
    bits = _row_bits(n)
    row_mask = np.uint64((1 << bits) - 1)
    rows = np.arange(n, dtype=np.uint64)
    keys = (series.hash(seed=0).to_numpy() & ~row_mask) | rows
    keys.sort()
    order = (keys & row_mask).astype(np.int64)
    boundary = np.empty(n, dtype=bool)
    boundary[:1] = True
    np.not_equal(keys[1:] >> np.uint64(bits), keys[:-1] >> np.uint64(bits), out=boundary[1:])
    del keys
    check = series.hash(seed=1).to_numpy()[order]
    if bool(np.any(~boundary[1:] & (check[1:] != check[:-1]))):
        logger.warning("hash collision while grouping %s; using an exact encoding", series.name)
        exact = series.cast(pl.Categorical).to_physical().cast(pl.Int64).fill_null(-1)
        codes = exact.to_numpy()
        order = np.argsort(codes, kind="stable")
        boundary[1:] = codes[order][1:] != codes[order][:-1]
    return order, np.cumsum(boundary, dtype=np.int64) - 1


def _dense_codes(series: pl.Series) -> np.ndarray:
    """Dense int64 codes of a column, -1 for null."""
    order, grouped = _group_rows(series)
    codes = np.empty(order.size, dtype=np.int64)
    codes[order] = grouped
    nulls = series.is_null().to_numpy()
    if nulls.any():
        codes[nulls] = -1
    return codes


class _History:
    """One entity's rows in ``(entity, time, id)`` order, with window-bound searches."""

    def __init__(self, entity: pl.Series, ts: np.ndarray) -> None:
        # rows of an entity stay in time order (the frame is in time order)
        self.order, self.codes = _group_rows(entity)
        self.ts = ts[self.order]
        n = self.n = ts.size
        boundary = np.empty(n, dtype=bool)
        boundary[:1] = True
        np.not_equal(self.codes[1:], self.codes[:-1], out=boundary[1:])
        starts = np.flatnonzero(boundary)
        self.group_start = np.repeat(starts, np.diff(np.append(starts, n)))
        self.row = np.arange(n, dtype=np.int64)
        # keys: code * span + (ts - base); a query time is clipped into [base, base+span)
        # which keeps it inside its own entity's key range
        self.base = int(self.ts.min()) - 1 if n else 0
        self.span = int(self.ts.max()) - self.base + 2 if n else 1
        self._bounds: dict[tuple[int, int, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._keys: list[tuple[int, int, int, int, np.ndarray]] = []
        codes_per_chunk = max(1, _KEY_LIMIT // self.span)
        chunk_starts = np.flatnonzero(boundary & (self.codes % codes_per_chunk == 0))
        edges = [*chunk_starts.tolist(), n]
        if not edges or edges[0] != 0:
            edges.insert(0, 0)
        for lo, hi in itertools.pairwise(edges):
            if hi > lo:
                code0 = int(self.codes[lo])
                keys = (self.codes[lo:hi] - code0) * self.span + (self.ts[lo:hi] - self.base)
                self._keys.append((lo, hi, code0, int(self.codes[hi - 1]), keys))

    def search(self, rows: np.ndarray, times: np.ndarray, side: str) -> np.ndarray:
        """Per query: index of the first row of ``rows``' entity with ts > time (side
        "right") or ts >= time (side "left"), within that entity's rows."""
        codes = self.codes if rows is self.row else self.codes[rows]
        query = np.clip(times, self.base, self.base + self.span - 1)
        query -= self.base
        if len(self._keys) == 1:  # the usual case: one key range holds every entity
            lo, _, code0, _, keys = self._keys[0]
            query += (codes - code0) * self.span
            found: np.ndarray = np.searchsorted(keys, query, side=side)  # type: ignore[call-overload]
            found += lo
            return found
        out = np.empty(rows.size, dtype=np.int64)
        for lo, _hi, code0, code1, keys in self._keys:
            sel = (codes >= code0) & (codes <= code1)
            chunk = (codes[sel] - code0) * self.span + query[sel]
            out[sel] = lo + np.searchsorted(keys, chunk, side=side)  # type: ignore[call-overload]
        return out

    def bounds(self, f: FeatureDef) -> tuple[np.ndarray, np.ndarray]:
        """Window ``[start, end)`` of every row, in this history's row order (cached)."""
        assert f.window is not None
        window, delay = _us(f.window), _us(f.delay)
        key = (window, delay, f.include_current)
        if key not in self._bounds:
            # only the latest window is kept: features are computed window by window
            self._bounds.clear()
            start = self.search(self.row, self.ts - delay - window, "right")
            if delay:
                end = self.search(self.row, self.ts - delay, "right")
            else:
                end = self.row + 1 if f.include_current else self.row.copy()
            self._bounds[key] = (start, end)
        return self._bounds[key]

    def scatter(self, values: np.ndarray, dtype: type[np.generic] = np.float64) -> np.ndarray:
        """Back from history order to the frame's row order."""
        out = np.empty(self.n, dtype=dtype)
        out[self.order] = values
        return out


def _range_max(values: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """max(values[start:end]) per query (-inf when empty), with a sparse table.

    Level k holds max(values[x : x + 2**k]); a range of length L is covered by two
    overlapping blocks of level floor(log2 L). Only one level is kept in memory at a time.
    """
    out = np.full(start.size, -np.inf)
    length = end - start
    nonempty = length > 0
    if not nonempty.any():
        return out
    # level = floor(log2(length)), exact on integers; -1 marks an empty range
    level_of = np.full(start.size, -1, dtype=np.int8)
    level_of[nonempty] = np.frexp(length[nonempty].astype(np.float64))[1] - 1
    top = int(level_of.max())
    # queries grouped by level once (a radix sort of int8), not one full scan per level
    by_level = np.argsort(level_of, kind="stable")
    edges = np.searchsorted(level_of[by_level], np.arange(-1, top + 2), side="left")
    table = values.astype(np.float64, copy=True)
    for level in range(top + 1):
        sel = by_level[edges[level + 1] : edges[level + 2]]
        if sel.size:
            width = 1 << level
            out[sel] = np.maximum(table[start[sel]], table[end[sel] - width])
        if level < top:
            half = 1 << level
            m = table.size - half
            if m > 0:
                np.maximum(table[:m], table[half:], out=table[:m])
    return out


def _prefix(values: np.ndarray) -> np.ndarray:
    """Exclusive prefix sums: p[k] = sum(values[:k])."""
    out = np.zeros(values.size + 1, dtype=np.result_type(values.dtype, np.int64))
    np.cumsum(values, out=out[1:])
    return out


def _running_sum(h: _History, values: np.ndarray) -> np.ndarray:
    """Inclusive running sum that restarts at each entity.

    Restarting keeps rounding at the scale of one entity's history (a global running sum
    over 10M amounts would lose ~1e-7 on every window sum).
    """
    running: np.ndarray = (
        pl.DataFrame({"g": h.codes, "v": values})
        .select(pl.col("v").cum_sum().over("g"))
        .to_series()
        .to_numpy()
    )
    return running


def _window_sum(h: _History, running: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """sum(values[start:end]) per row from the entity's running sum of values."""
    first = h.group_start
    upper = np.where(end > first, running[np.maximum(end - 1, 0)], 0.0)
    lower = np.where(start > first, running[np.maximum(start - 1, 0)], 0.0)
    result: np.ndarray = upper - lower
    return result


def _previous_same(h: _History, value_codes: np.ndarray) -> np.ndarray:
    """Index of the previous row of the same entity with the same value (-1 if none)."""
    width = int(value_codes.max()) + 2 if value_codes.size else 1
    pair = h.codes * width + (value_codes + 1)
    bits = _row_bits(h.n)
    if int(pair.max(initial=0)).bit_length() + bits <= 63:
        # (pair, row) packed in one integer: a plain sort groups pairs in row order
        packed = np.sort((pair << bits) | h.row)
        order = packed & ((1 << bits) - 1)
        pair_sorted = packed >> bits
        del packed
    else:
        order = np.argsort(pair, kind="stable")
        pair_sorted = pair[order]
    previous = np.full(h.n, -1, dtype=np.int64)
    same = pair_sorted[1:] == pair_sorted[:-1]
    previous[order[1:][same]] = order[:-1][same]
    return previous


def _covering(count: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """How many of the row ranges [lo, hi] (inclusive) cover each row."""
    keep = lo <= hi
    diff = np.bincount(lo[keep], minlength=count + 1) - np.bincount(
        hi[keep] + 1, minlength=count + 1
    )
    return np.cumsum(diff[:count])


def filter_expr(where: Filter) -> pl.Expr:
    column = pl.col(where.column)
    ops = {
        "==": column == where.value,
        "!=": column != where.value,
        "<": column < where.value,
        "<=": column <= where.value,
        ">": column > where.value,
        ">=": column >= where.value,
    }
    return ops[where.op].fill_null(False)


class EntityWindows:
    """Computes one entity's windowed features over the prepared frame."""

    def __init__(self, frame: pl.DataFrame, entity: str, ts: np.ndarray) -> None:
        self.frame = frame
        self.h = _History(frame[entity], ts)
        self._sorted: dict[str, np.ndarray] = {}
        self._previous: dict[str, np.ndarray] = {}
        self._sums: dict[str, np.ndarray] = {}

    def sorted_column(self, name: str) -> np.ndarray:
        if name not in self._sorted:
            if name.startswith("codes:"):
                values = _dense_codes(self.frame[name.removeprefix("codes:")])
            else:
                values = self.frame[name].cast(pl.Float64).fill_null(0.0).to_numpy()
            self._sorted[name] = values[self.h.order]
        return self._sorted[name]

    def mask(self, where: Filter | None) -> np.ndarray | None:
        if where is None:
            return None
        key = f"mask:{where.label()}"
        if key not in self._sorted:
            values = self.frame.select(filter_expr(where)).to_series().to_numpy()
            self._sorted[key] = values[self.h.order]
        return self._sorted[key]

    def window_sum(self, f: FeatureDef) -> np.ndarray:
        """Sum of ``f.column`` over ``f``'s (filtered) window; shared by sum, mean, ratio."""
        assert f.column is not None
        assert f.window is not None
        key = f"{f.window}:{f.delay}:{f.include_current}:{f.column}:{f.where}"
        if key not in self._sums:
            self._sums.clear()  # windows come one after another: keep only the latest
            start, end = self.h.bounds(f)
            self._sums[key] = _window_sum(self.h, self.running_sum(f.column, f.where), start, end)
        return self._sums[key]

    def running_sum(self, column: str, where: Filter | None) -> np.ndarray:
        key = f"running:{column}:{where.label() if where else ''}"
        if key not in self._sorted:
            values = self.sorted_column(column)
            mask = self.mask(where)
            if mask is not None:
                values = np.where(mask, values, 0.0)
            self._sorted[key] = _running_sum(self.h, values)
        return self._sorted[key]

    def previous(self, column: str) -> np.ndarray:
        if column not in self._previous:
            self._previous[column] = _previous_same(self.h, self.sorted_column(f"codes:{column}"))
        return self._previous[column]

    def compute(self, f: FeatureDef, fraud_known_at: np.ndarray | None) -> np.ndarray:
        h = self.h
        start, end = h.bounds(f)
        mask = self.mask(f.where)
        if f.kind in ("count", "fraud_rate"):
            count = _count(mask, start, end)
            if f.kind == "count":
                return h.scatter(count, np.int32)
            assert fraud_known_at is not None
            frauds = self._fraud_count(start, end, fraud_known_at)
            rate = np.divide(frauds, count, out=np.zeros(h.n), where=count > 0)
            return h.scatter(rate)
        if f.kind == "fraud_count":
            assert fraud_known_at is not None
            return h.scatter(self._fraud_count(start, end, fraud_known_at), np.int32)
        if f.kind in ("sum", "mean", "ratio_to_mean"):
            assert f.column is not None
            total = self.window_sum(f)
            if f.kind == "sum":
                return h.scatter(total)
            count = _count(mask, start, end)
            mean = np.divide(total, count, out=np.zeros(h.n), where=count > 0)
            if f.kind == "mean":
                return h.scatter(mean)
            amount = self.sorted_column(f.column)
            ratio = np.divide(amount, mean, out=np.ones(h.n), where=mean > 0)
            return h.scatter(ratio)
        if f.kind == "max":
            assert f.column is not None
            values = self.sorted_column(f.column)
            if mask is not None:
                values = np.where(mask, values, -np.inf)
            top = _range_max(values, start, end)
            return h.scatter(np.where(np.isneginf(top), 0.0, top))
        if f.kind == "distinct":
            assert f.column is not None
            return h.scatter(self._distinct(f.column, mask, start, end), np.int32)
        if f.kind == "is_new":
            assert f.column is not None
            present = self.sorted_column(f"codes:{f.column}") >= 0
            new = present & (self.previous(f.column) < start)
            return h.scatter(new, np.int8)
        if f.kind == "seconds_since_prev":
            assert f.window is not None
            cap = f.window.total_seconds()
            has_previous = h.row > h.group_start
            gap = np.full(h.n, cap)
            rows = np.flatnonzero(has_previous)
            gap[rows] = np.minimum((h.ts[rows] - h.ts[rows - 1]) / _US, cap)
            return h.scatter(gap)
        raise ValueError(f"unknown windowed kind {f.kind!r}")

    def _distinct(
        self, column: str, mask: np.ndarray | None, start: np.ndarray, end: np.ndarray
    ) -> np.ndarray:
        codes = self.sorted_column(f"codes:{column}")
        valid = codes >= 0
        if mask is not None:
            valid &= mask
            codes = np.where(valid, codes, -1)
            previous = _previous_same(self.h, codes)
        else:
            previous = self.previous(column)
        present = _prefix(valid.astype(np.int64))
        in_window = present[end] - present[start]
        # a row j repeats a value seen at p = previous[j]; it is a duplicate in the window
        # of every row i with start_i <= p and end_i > j (start and end never decrease)
        repeats = np.flatnonzero(valid & (previous >= 0))
        first_row = np.searchsorted(end, repeats, side="right")
        last_row = np.searchsorted(start, previous[repeats], side="right") - 1
        duplicates = _covering(self.h.n, first_row, last_row)
        result: np.ndarray = in_window - duplicates
        return result

    def _fraud_count(
        self, start: np.ndarray, end: np.ndarray, fraud_known_at: np.ndarray
    ) -> np.ndarray:
        """Frauds in each row's window whose label was known at the row's time."""
        h = self.h
        if "known" not in self._sorted:  # shared by every window of this entity
            self._sorted["known"] = fraud_known_at[h.order]
        known = self._sorted["known"]
        frauds = np.flatnonzero(known != NO_LABEL)
        # rows whose window holds fraud j: end_i > j and start_i <= j ...
        first_row = np.searchsorted(end, frauds, side="right")
        last_row = np.searchsorted(start, frauds, side="right") - 1
        # ... and whose time is at or after the report (same entity by construction)
        reported_row = h.search(frauds, known[frauds], "left")
        return _covering(h.n, np.maximum(first_row, reported_row), last_row)


def _count(mask: np.ndarray | None, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    if mask is None:
        result: np.ndarray = end - start
        return result
    present = _prefix(mask.astype(np.int64))
    counted: np.ndarray = present[end] - present[start]
    return counted
