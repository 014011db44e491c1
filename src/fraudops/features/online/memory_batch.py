"""The memory store's side of the vectorised batch path (:mod:`.batch`): one entity type's
held rows for a batch's keys laid out as one :class:`~.batch.History`, and the rows kept
written back after the batch.

Per key the work is a few slices of its packed value (no per-row Python); the rows of all
keys are joined and decoded by numpy at once.
"""

from __future__ import annotations

from array import array
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraudops.features.online.batch import Column, History, TimeSearch, runs
from fraudops.features.online.memory_state import Entries, Times, forget_frauds
from fraudops.features.online.packed import HEADER, NARROW, Packing

State = Times | Entries
_DTYPES = {"float": np.float64, "str": np.uint16, "flag": np.int8}


@dataclass
class Gathered:
    """A history and where it came from: the state of each of its keys (new ones not yet
    in the store) and how many of each key's rows were held before the batch."""

    history: History
    keys: list[str]
    states: list[State]
    new: list[bool]
    held: np.ndarray


def gather(
    packing: Packing | None,
    states: MutableMapping[str, State],
    keys: list[str],
    ts: np.ndarray,
    stored: list[Column],
) -> Gathered | None:
    """The rows of the batch's keys, or None when a transaction is late for its key (its
    time before a row already held or sent earlier in the batch) or a key's codes are wide:
    the single-call path handles those."""
    number: dict[str, int] = {}
    segment = np.array([number.setdefault(k, len(number)) for k in keys], dtype=np.int64)
    order = np.argsort(segment, kind="stable")
    per_key = np.bincount(segment, minlength=len(number))
    kinds = packing.kinds if packing is not None else ()
    segment_list = segment.tolist()
    blocks = _block_order(packing)
    parts: list[list[Any]] = [[] for _ in blocks]
    held_rows: list[int] = []
    key_states: list[State] = []
    new: list[bool] = []
    # the hottest loop of the batch path: one pass per key, no per-row work
    header, sizes = HEADER.unpack_from, [size for _, size in blocks]
    appends = [part.append for part in parts]
    for key in number:
        state = states.get(key)
        new.append(state is None)
        if state is None:
            state = Entries(packing) if packing is not None else Times()
            held_rows.append(0)
        elif type(state) is Entries:
            data = state.data
            rows, _, width = header(data)
            if width != NARROW:
                return None
            view, offset = memoryview(data), HEADER.size  # slices of a view copy nothing
            for append, size in zip(appends, sizes, strict=True):
                end = offset + size * rows
                append(view[offset:end])
                offset = end
            held_rows.append(rows)
        else:
            assert isinstance(state, Times)
            appends[0](state.ts)
            held_rows.append(len(state.ts))
        key_states.append(state)

    held = np.array(held_rows, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(held + per_key)))
    _, held_at = runs(starts[:-1], held)
    first_of_key = np.concatenate(([0], np.cumsum(per_key)))[:-1]
    by_key = segment[order]
    own = np.empty(len(keys), dtype=np.int64)
    own[order] = starts[by_key] + held[by_key] + np.arange(len(keys)) - first_of_key[by_key]

    times = np.empty(int(starts[-1]), dtype=np.int64)
    if len(held_at):
        times[held_at] = np.frombuffer(b"".join(parts[0]), dtype=np.int64)
    times[own] = ts
    # each key's rows must be in time order: held ones are; the batch's must follow them
    after = (starts[:-1] + held)[held > 0]
    if np.any(np.diff(ts[order])[by_key[1:] == by_key[:-1]] < 0) or np.any(
        times[after - 1] > times[after]
    ):
        return None

    columns: list[np.ndarray] = []
    for kind_index, kind in enumerate(kinds):
        column = np.empty(len(times), dtype=np.float64 if kind == "float" else np.int64)
        if kind == "str":
            assert packing is not None
            code_of = [state.code for state in key_states]  # type: ignore[union-attr]
            codes = [code_of[k](v) for k, v in zip(segment_list, stored[kind_index], strict=True)]
            if codes and max(codes) > 0xFFFF:
                return None
            column[own] = codes
        else:
            column[own] = stored[kind_index]
        block = blocks.index((kind_index, _size(kind)))
        if len(held_at):
            column[held_at] = np.frombuffer(b"".join(parts[block]), dtype=_DTYPES[kind])
        columns.append(column)

    fraud_rows: list[int] = []
    fraud_ts: list[int] = []
    fraud_known: list[int] = []
    for k, state in enumerate(key_states):
        if state.frauds:
            held_frauds = list(state.frauds.values())
            for row in order[first_of_key[k] : first_of_key[k] + per_key[k]].tolist():
                fraud_rows += [row] * len(held_frauds)
                fraud_ts += [t for t, _ in held_frauds]
                fraud_known += [known for _, known in held_frauds]
    history = History(
        times,
        columns,
        starts,
        segment,
        own,
        np.array(fraud_rows, dtype=np.int64),
        np.array(fraud_ts, dtype=np.int64),
        np.array(fraud_known, dtype=np.int64),
    )
    return Gathered(history, list(number), key_states, new, held)


def may_meet_eviction(
    gathered: Gathered, ts: np.ndarray, now_before: np.ndarray, retention_us: int
) -> bool:
    """Whether one exchange after another could evict a key before a transaction of the
    batch that would still see its rows: only a transaction older than the store's clock
    at its turn (``now_before``) can, and only when its key's latest row before it (held,
    or earlier in the batch) is then ``retention_us`` old. Such a batch goes one
    transaction at a time."""
    late = ts < now_before
    if not late.any():
        return False
    history = gathered.history
    own = history.own[late]
    has_previous = own > history.starts[history.segment[late]]
    previous = history.ts[np.maximum(own - 1, 0)]
    return bool(np.any(has_previous & (previous <= now_before[late] - retention_us)))


def commit(
    gathered: Gathered,
    packing: Packing | None,
    states: MutableMapping[str, State],
    retention_us: int,
) -> None:
    """Write each key's rows back, without those that left its longest window by its last
    transaction of the batch (what one ``exchange`` after another leaves)."""
    history = gathered.history
    starts = history.starts
    ends = starts[1:]
    keys = np.arange(len(gathered.keys), dtype=np.int64)
    limits = history.ts[ends - 1] - retention_us  # each key's last row is from the batch
    kept = TimeSearch(history, int(limits.min())).up_to(keys, limits)  # searched before
    blobs: list[bytes] = [history.ts.tobytes()]
    blocks = _block_order(packing)
    kinds = packing.kinds if packing is not None else ()
    for kind_index, _ in blocks[1:]:
        dtype: Any = _DTYPES[kinds[kind_index]]
        blobs.append(history.columns[kind_index].astype(dtype).tobytes())
    sizes = [size for _, size in blocks]
    for k, (key, state, new) in enumerate(
        zip(gathered.keys, gathered.states, gathered.new, strict=True)
    ):
        a, b = int(kept[k]), int(ends[k])
        if isinstance(state, Times):
            state.ts = array("q", blobs[0][8 * a : 8 * b])
        else:
            assert packing is not None
            compact = packing.compact_limit(state.data)
            state.data = b"".join(
                [HEADER.pack(b - a, compact, NARROW)]
                + [blob[size * a : size * b] for blob, size in zip(blobs, sizes, strict=True)]
            )
            if len(state.table) >= compact:
                state.data, state.table = packing.compact(state.data, state.table)
                state.reindex()
        if a > starts[k] and state.frauds:
            forget_frauds(state, int(limits[k]))
        if new:
            states[key] = state


def _size(kind: str) -> int:
    return {"float": 8, "str": NARROW, "flag": 1}[kind]


def _block_order(packing: Packing | None) -> list[tuple[int, int]]:
    """The packed value's blocks in order: (kind index, bytes a row); -1 is the times."""
    if packing is None:
        return [(-1, 8)]
    kinds = packing.floats + packing.strings + packing.flags
    return [(-1, 8)] + [(i, _size(packing.kinds[i])) for i in kinds]
