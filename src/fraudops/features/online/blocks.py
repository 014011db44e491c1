"""Compiled feature blocks: each writes one or more features of the vector."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import reduce
from itertools import compress
from operator import add
from typing import Any

import numpy as np

from fraudops.features.definition import FeatureDef, Filter
from fraudops.features.online.layout import EntityView, TxRecord
from fraudops.features.online.times import US_PER_DAY, US_PER_HOUR
from fraudops.features.spec import EARTH_RADIUS_KM, NIGHT_END_HOUR

# A compiled block writes one or more features of the vector:
# (record, views, window bounds per entity, output list) -> None
Bounds = list[list[tuple[int, int]]]
Block = Callable[[TxRecord, list[EntityView], Bounds, list[float]], None]


def _test(where: Filter) -> Callable[[Any], bool]:
    value = where.value
    tests: dict[str, Callable[[Any], bool]] = {
        "==": lambda x: x == value,
        "!=": lambda x: x != value,
        "<": lambda x: x < value,
        "<=": lambda x: x <= value,
        ">": lambda x: x > value,
        ">=": lambda x: x >= value,
    }
    return tests[where.op]


def filter_fn(where: Filter) -> Callable[[Mapping[str, Any]], bool]:
    """The same predicate as the offline polars filter (null never passes)."""
    column, test = where.column, _test(where)

    def passes(fields: Mapping[str, Any]) -> bool:
        x = fields.get(column)
        return x is not None and bool(test(x))

    return passes


def filter_column(where: Filter, values: Sequence[Any]) -> list[bool]:
    """``filter_fn`` of a column of values (the batch path)."""
    test = _test(where)
    return [x is not None and bool(test(x)) for x in values]


def _haversine_km(fields: Mapping[str, Any]) -> float:
    return haversine_km(
        fields.get("customer_lat"),
        fields.get("customer_lon"),
        fields.get("merchant_lat"),
        fields.get("merchant_lon"),
    )


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> float:
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return -1.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    l1, l2 = math.radians(lon1), math.radians(lon2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(math.sqrt(a), 1.0))


def _code(value: Any) -> float:
    if isinstance(value, str) and 0 < len(value) <= 9 and value.isascii() and value.isdigit():
        return float(int(value))
    return -1.0


def context_value(f: FeatureDef) -> Callable[[TxRecord], float]:
    """A context feature from the transaction alone (mirrors offline.context_expr)."""
    column, target = f.column or "", f.value
    if f.kind == "value":
        return lambda r: float(r.fields.get(column) or 0.0)
    if f.kind == "log1p":
        return lambda r: math.log1p(float(r.fields.get(column) or 0.0))
    if f.kind == "hour":
        return lambda r: float(r.ts // US_PER_HOUR % 24)
    if f.kind == "is_night":
        return lambda r: 1.0 if r.ts // US_PER_HOUR % 24 < NIGHT_END_HOUR else 0.0
    if f.kind == "is_weekend":
        # 1970-01-01 was a Thursday (weekday 3 with Monday = 0)
        return lambda r: 1.0 if (r.ts // US_PER_DAY + 3) % 7 >= 5 else 0.0
    if f.kind == "equals":
        return lambda r: 1.0 if r.fields.get(column) == target else 0.0
    if f.kind == "code":
        return lambda r: _code(r.fields.get(column))
    if f.kind == "distance_home":
        return lambda r: _haversine_km(r.fields)
    raise ValueError(f"unknown context kind {f.kind!r}")


def context_column(f: FeatureDef, fields: Mapping[str, list[Any]], ts: np.ndarray) -> np.ndarray:
    """``context_value`` of every transaction of a batch: its fields as columns, its times
    as int64 epoch µs. The same arithmetic (``math``, integer division), so the same doubles."""
    column, target = fields.get(f.column or "", []), f.value
    if f.kind == "value":
        return np.array([float(x or 0.0) for x in column], dtype=np.float64)
    if f.kind == "log1p":
        return np.array([math.log1p(float(x or 0.0)) for x in column], dtype=np.float64)
    if f.kind == "hour":
        return (ts // US_PER_HOUR % 24).astype(np.float64)
    if f.kind == "is_night":
        return (ts // US_PER_HOUR % 24 < NIGHT_END_HOUR).astype(np.float64)
    if f.kind == "is_weekend":
        return ((ts // US_PER_DAY + 3) % 7 >= 5).astype(np.float64)
    if f.kind == "equals":
        return np.array([1.0 if x == target else 0.0 for x in column], dtype=np.float64)
    if f.kind == "code":
        codes: dict[Any, float] = {}  # a batch repeats few codes
        return np.array(
            [codes[x] if x in codes else codes.setdefault(x, _code(x)) for x in column],
            dtype=np.float64,
        )
    if f.kind == "distance_home":
        ends = ("customer_lat", "customer_lon", "merchant_lat", "merchant_lon")
        places = [fields[c] for c in ends]
        return np.array([haversine_km(*p) for p in zip(*places, strict=True)], dtype=np.float64)
    raise ValueError(f"unknown context kind {f.kind!r}")


def add_up(values: list[float]) -> float:
    """Left to right from 0.0, one IEEE addition at a time: the order the batch kernel's
    vectorised loop reproduces (Python 3.12's ``sum`` compensates, so it is not used there)."""
    return reduce(add, values, 0.0)


if sys.version_info < (3, 12):
    add_up = sum  # type: ignore[assignment]  # ~4x faster, and the same left-to-right adds


def fraud_block(e: int, items: list[tuple[int, str, int, int, int, int]]) -> Block:
    """Fraud counts and rates of one entity over several windows, in one pass.

    ``items``: (output index, kind, lo, hi, count source, source index); a window is
    (t-lo, t-hi] and a fraud counts when its label was known at t (``known_at <= t``).
    The count comes from the window bounds (source 0) or from the store (source 1).
    """
    windows = [(lo, hi) for _, _, lo, hi, _, _ in items]

    def frauds(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
        t = r.ts
        view = v[e]
        found = [0] * len(windows)
        if view.frauds:
            edges = [(t - lo, t - hi) for lo, hi in windows]
            for fts, known_at in view.frauds:
                if known_at <= t:
                    for w, (start, end) in enumerate(edges):
                        if start < fts <= end:
                            found[w] += 1
        for w, (i, kind, _, _, source, index) in enumerate(items):
            if kind == "fraud_count":
                out[i] = float(found[w])
                continue
            if source:
                count = view.counts[index]
            else:
                s, end = b[e][index]
                count = end - s
            out[i] = found[w] / count if count else 0.0

    return frauds


def context_block(items: list[tuple[int, Callable[[TxRecord], float]]]) -> Block:
    def context(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
        for i, value in items:
            out[i] = value(r)

    return context


def numeric_block(
    e: int, k: int, g: int, include_current: bool, c: int, targets: dict[str, int]
) -> Block:
    """Sum, mean, max and ratio-to-mean of one column over one (filtered) window."""
    i_sum, i_mean = targets.get("sum", -1), targets.get("mean", -1)
    i_max, i_ratio = targets.get("max", -1), targets.get("ratio_to_mean", -1)

    def numeric(r: TxRecord, v: list[EntityView], b: Bounds, out: list[float]) -> None:
        s, end = b[e][k]
        column = v[e].columns[c]
        values = column[s:end]
        current = r.stored[e][c]
        if g >= 0:
            values = list(compress(values, v[e].columns[g][s:end]))
            if include_current and r.stored[e][g]:
                values.append(current)
        elif include_current:
            values.append(current)
        n = len(values)
        total = float(add_up(values))
        mean = total / n if n else 0.0
        if i_sum >= 0:
            out[i_sum] = total
        if i_mean >= 0:
            out[i_mean] = mean
        if i_max >= 0:
            out[i_max] = float(max(values)) if n else 0.0
        if i_ratio >= 0:
            out[i_ratio] = current / mean if mean > 0 else 1.0

    return numeric
