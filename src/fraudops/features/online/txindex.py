"""The memory store's transaction-id index: id -> (time, entity keys) in ~40 bytes an id.

A dict of id strings to tuples costs ~300 bytes per transaction (the id string, the dict
slot, a tuple of the time and a tuple of keys, an eviction-order entry) — more than the
card's whole packed history. Here an id is a 64-bit hash in a log of parallel arrays
(hash, time, one interned key id per entity) appended in arrival order, found through an
open-addressing table of log positions:

* eviction advances the log's head (entries leave in arrival order, as they came);
  positions before the head are dead and are skipped by lookups, their slots reused;
* the dead prefix is dropped and the table rebuilt, with numpy, when the prefix is half the
  log or the table is 60 % full — amortised O(1) a transaction;
* ids are compared by their hash (``hash(str)``, per process: this index is never shared or
  persisted). Two ids with one 64-bit hash — odds about n² / 2⁶⁵, under 1 in 10,000 for 40
  million live ids — would be taken for one: a retry, or a label found on the other's keys.
"""

from __future__ import annotations

from array import array

import numpy as np

_EMPTY = -1  # a table slot never used since the last rebuild
_MIN_TABLE = 1024
_MAX_FILL = 0.6  # table slots in use (live or dead) before a rebuild
_COMPACT_FROM = 4096  # dead log entries worth dropping


class TxIndex:
    """Transaction ids with their time and one key per entity, kept in arrival order."""

    def __init__(
        self, width: int, *, min_table: int = _MIN_TABLE, compact_from: int = _COMPACT_FROM
    ) -> None:
        self._width = width
        self._min_table, self._compact_from = min_table, compact_from
        self._hashes = array("q")
        self._times = array("q")
        self._keys = array("i")  # ``width`` key ids per entry
        self._names: list[str] = []  # key id -> key
        self._ids: dict[str, int] = {}  # key -> key id
        self._head = 0  # first live log position
        self._table = array("i", [_EMPTY]) * self._min_table
        self._filled = 0  # table slots not empty

    def __len__(self) -> int:
        return len(self._hashes) - self._head

    def __contains__(self, tx_id: str) -> bool:
        return self._find(hash(tx_id)) >= 0

    def get(self, tx_id: str) -> tuple[int, tuple[str, ...]] | None:
        """The transaction's time and entity keys, or None if it is not (or no longer) held."""
        p = self._find(hash(tx_id))
        if p < 0:
            return None
        names, w = self._names, self._width
        return self._times[p], tuple(names[k] for k in self._keys[p * w : p * w + w])

    def _find(self, h: int) -> int:
        table, hashes, head = self._table, self._hashes, self._head
        mask = len(table) - 1
        i = h & mask
        while True:
            p = table[i]
            if p == _EMPTY:
                return -1
            if p >= head and hashes[p] == h:
                return p
            i = (i + 1) & mask

    def add(self, tx_id: str, ts: int, keys: tuple[str, ...]) -> None:
        """Hold ``tx_id`` (the caller checks it is new: a held id is not replaced)."""
        h = hash(tx_id)
        p = len(self._hashes)
        self._hashes.append(h)
        self._times.append(ts)
        self._keys.extend([self._key_id(k) for k in keys])
        table, head = self._table, self._head
        mask = len(table) - 1
        i = h & mask
        while True:  # the first empty or dead slot of the probe sequence
            q = table[i]
            if q == _EMPTY:
                self._filled += 1
                break
            if q < head:
                break
            i = (i + 1) & mask
        table[i] = p
        if self._filled > _MAX_FILL * len(table):
            self._rebuild()

    def _key_id(self, key: str) -> int:
        k = self._ids.get(key)
        if k is None:
            k = self._ids[key] = len(self._names)
            self._names.append(key)
        return k

    def evict_before(self, limit: int) -> None:
        """Forget the ids at the head of the log whose time is ``<= limit`` (stopping at
        the first later one, as the arrival order allows)."""
        times, head, end = self._times, self._head, len(self._times)
        while head < end and times[head] <= limit:
            head += 1
        self._head = head
        if head >= self._compact_from and head * 2 >= end:
            self._rebuild()

    def _rebuild(self) -> None:
        """Drop the dead prefix and unused key names, and rehash the live ids."""
        head, w = self._head, self._width
        hashes = np.frombuffer(self._hashes, dtype=np.int64)[head:]
        times = np.frombuffer(self._times, dtype=np.int64)[head:]
        used, key_ids = np.unique(
            np.frombuffer(self._keys, dtype=np.int32)[head * w :], return_inverse=True
        )
        self._names = [self._names[k] for k in used.tolist()]
        self._ids = {name: k for k, name in enumerate(self._names)}
        self._hashes = array("q", hashes.tobytes())
        self._times = array("q", times.tobytes())
        self._keys = array("i", key_ids.astype(np.int32).tobytes())
        self._head = 0
        size = self._min_table
        while size * _MAX_FILL / 2 < len(hashes):  # at most ~30 % full after a rebuild
            size *= 2
        self._table = array("i", place(hashes, size).tobytes())
        self._filled = len(hashes)


def place(hashes: np.ndarray, size: int) -> np.ndarray:
    """An open-addressing table (linear probing) of ``size`` slots holding the positions of
    ``hashes``, built in numpy.

    Each round every unplaced position tries its next slot; among those wanting one empty
    slot the lowest position takes it, the others move on — so every slot between an id's
    home and its place is taken, which is all a lookup needs.
    """
    table = np.full(size, _EMPTY, dtype=np.int32)
    positions = np.arange(len(hashes), dtype=np.int32)
    slots = hashes & (size - 1)
    while len(positions):
        free = table[slots] == _EMPTY
        _, first = np.unique(slots[free], return_index=True)  # lowest position per slot
        winners = np.flatnonzero(free)[first]
        table[slots[winners]] = positions[winners]
        placed = np.zeros(len(positions), dtype=bool)
        placed[winners] = True
        positions, slots = positions[~placed], (slots[~placed] + 1) & (size - 1)
    return table
