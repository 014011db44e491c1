"""The memory store's transaction-id index: id -> (time, entity keys) in ~40 bytes an id.

A dict of id strings to tuples costs ~300 bytes per transaction (the id string, the dict
slot, a tuple of the time and a tuple of keys, an eviction-order entry) — more than the
card's whole packed history. Here an id is a 64-bit hash in a log of parallel arrays
(hash, time, one interned key id per entity) appended in arrival order, found through an
open-addressing table of log positions:

* eviction advances the log's head (entries leave in arrival order, as they came);
  positions before the head are dead and are skipped by lookups, their slots reused;
* the dead prefix is dropped when it is half the log (the table's positions shifted down,
  the dead ones left as tombstones), and the table is rebuilt, with numpy, when it is 60 %
  full — amortised O(1) a transaction;
* ids are compared by their hash (``hash(str)``, per process: this index is never shared or
  persisted). Two ids with one 64-bit hash — odds about n² / 2⁶⁵, under 1 in 10,000 for 40
  million live ids — would be taken for one: a retry, or a label found on the other's keys.
"""

from __future__ import annotations

from array import array

import numpy as np

_EMPTY = -1  # a table slot never used since the last rebuild
_DEAD = -2  # a slot whose id left with a compacted log prefix (below every live position)
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
            self._compact()

    def _compact(self) -> None:
        """Drop the log's dead prefix without rehashing: the table's live positions shift
        down by it and its dead ones become tombstones, which lookups walk past and adds
        reuse as they reuse any dead slot. A pass over the table, not a placement of every
        live id: steady traffic compacts once per log's worth of ids, under the lock."""
        head = self._head
        table = np.frombuffer(self._table, dtype=np.int32)  # edited in place
        empty, dead = table == _EMPTY, table < head
        table -= head
        table[dead] = _DEAD
        table[empty] = _EMPTY
        del table, empty, dead
        self._drop_dead_prefix()  # its view of the hashes is dropped at once

    def _rebuild(self) -> None:
        """Drop the dead prefix and rehash the live ids into a table ~30 % full."""
        hashes = self._drop_dead_prefix()
        size = self._min_table
        while size * _MAX_FILL / 2 < len(hashes):  # at most ~30 % full after a rebuild
            size *= 2
        self._table = array("i", place(hashes, size).tobytes())
        self._filled = len(hashes)
        del hashes  # the view pins the log: the next add appends to it

    def _drop_dead_prefix(self) -> np.ndarray:
        """Drop the log's dead prefix (the table is the caller's) and, once they are half
        the names, the key names only dead ids used; returns a view of the live ids'
        hashes (release it before the next ``add``: an exported array cannot grow)."""
        head, w = self._head, self._width
        del self._hashes[:head]  # one move of the live tail each, no copy out and back
        del self._times[:head]
        del self._keys[: head * w]
        self._head = 0
        keys = np.frombuffer(self._keys, dtype=np.int32)
        used = np.zeros(len(self._names), dtype=bool)  # a mark per name, not a sort of ids
        used[keys] = True
        if 2 * int(np.count_nonzero(used)) < len(self._names):
            renumbered = (np.cumsum(used) - 1).astype(np.int32)[keys]
            self._keys = array("i", renumbered.tobytes())
            self._names = [self._names[k] for k in np.flatnonzero(used).tolist()]
            self._ids = {name: k for k, name in enumerate(self._names)}
        return np.frombuffer(self._hashes, dtype=np.int64)


def place(hashes: np.ndarray, size: int) -> np.ndarray:
    """An open-addressing table (linear probing) of ``size`` slots holding the positions of
    ``hashes``, built in numpy.

    Entries go in by home slot (ties by position): each takes its home or, if an earlier
    one is there, the slot after the previous entry — ``final[i] = max(home[i],
    final[i-1] + 1)``, a running maximum — so every slot between an id's home and its place
    is taken, which is all a lookup needs. One sort of the n homes, not a round of
    ``np.unique`` per probe step: this runs while the index's lock is held. A run that
    passes the last slot wraps to the first empty slots (few: a rebuilt table is at most
    ~30 % full).
    """
    table = np.full(size, _EMPTY, dtype=np.int32)
    if not len(hashes):
        return table
    steps = np.arange(len(hashes), dtype=np.int64)
    # one sort of (home, position) pairs: a table has < 2**31 slots and positions
    by_home = np.sort(((hashes & (size - 1)) << 32) | steps)
    order = by_home & 0xFFFFFFFF
    final = np.maximum.accumulate((by_home >> 32) - steps) + steps
    inside = int(np.searchsorted(final, size))  # final rises: the ones inside come first
    table[final[:inside]] = order[:inside]
    slot = 0
    for position in order[inside:].tolist():
        while table[slot] != _EMPTY:
            slot += 1
        table[slot] = position
        slot += 1
    return table
