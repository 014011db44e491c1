"""Compact entity state: an entity's recent transactions packed into one ``bytes`` value.

Python lists of boxed ints, floats and string references cost ~100-160 bytes per stored
transaction; the same history packed costs the raw fields. One value, column blocks after
a small header::

    header   rows (uint32), table size at which to compact it (uint32), code width (1 byte)
    ts       rows x int64 (epoch µs, oldest first)
    floats   rows x float64 per numeric column (exact: the features sum these doubles)
    codes    rows x uint16 (or uint32) per string column: positions in the entity's table
    flags    rows x uint8 per filter

String values live once per entity in a table (position 0 is ``None``); a row stores its
position. The table only grows when the entity meets a new value, and is compacted (values
no live row uses dropped) whenever it has grown by half since the last compaction, so it
stays within 1.5x the entity's live distinct values at amortised O(1). Codes widen from 16
to 32 bits for an entity with more than 65,535 distinct live values.

The memory store keeps the value and the table as Python objects; the Redis store keeps
the value with the table appended (``\\x1f``-separated) and edits it in Lua (:mod:`.lua`).
Decoding gives the lists :class:`~fraudops.features.online.layout.EntityView` always held.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from operator import itemgetter
from typing import Any, Literal

from fraudops.features.online.layout import EntityLayout

HEADER = struct.Struct("<IIB")
NARROW, WIDE = 2, 4
_CODE_FORMAT: dict[int, Literal["H", "I"]] = {NARROW: "H", WIDE: "I"}
_MIN_COMPACT_AT = 16


def compact_at(live: int) -> int:
    """The table size that triggers the next compaction, given its live values."""
    return max(_MIN_COMPACT_AT, live + live // 2)


class Packing:
    """How the entries of one entity type are packed (derived from its layout)."""

    __slots__ = ("flags", "floats", "kinds", "strings")

    def __init__(self, layout: EntityLayout) -> None:
        self.kinds = layout.kinds
        self.floats = [i for i, k in enumerate(self.kinds) if k == "float"]
        self.strings = [i for i, k in enumerate(self.kinds) if k == "str"]
        self.flags = [i for i, k in enumerate(self.kinds) if k == "flag"]

    def empty(self) -> bytes:
        return HEADER.pack(0, _MIN_COMPACT_AT, NARROW)

    def sizes(self, width: int) -> list[int]:
        """Bytes per row of each block, in value order (ts, floats, codes, flags)."""
        return [8] + [8] * len(self.floats) + [width] * len(self.strings) + [1] * len(self.flags)

    def rows(self, data: bytes) -> int:
        return int(HEADER.unpack_from(data)[0])

    def times(self, data: bytes) -> memoryview:
        """The rows' timestamps (a read-only int sequence over ``data``)."""
        rows = HEADER.unpack_from(data)[0]
        return memoryview(data)[HEADER.size : HEADER.size + 8 * rows].cast("q")

    def decode(
        self, data: bytes, table: list[str | None] | tuple[str | None, ...], start: int = 0
    ) -> tuple[list[int], list[list[Any]]]:
        """Timestamps and per-kind columns of rows ``start:`` (flags as 0/1)."""
        rows, _, width = HEADER.unpack_from(data)
        view = memoryview(data)
        offset = HEADER.size
        ts = view[offset + 8 * start : offset + 8 * rows].cast("q").tolist()
        offset += 8 * rows
        columns: list[list[Any]] = [[] for _ in self.kinds]
        for i in self.floats:
            columns[i] = view[offset + 8 * start : offset + 8 * rows].cast("d").tolist()
            offset += 8 * rows
        code = _CODE_FORMAT[width]
        for i in self.strings:
            codes = view[offset + width * start : offset + width * rows].cast(code).tolist()
            if len(codes) > 1:  # one C call: itemgetter of several positions gives a tuple
                columns[i] = list(itemgetter(*codes)(table))
            else:
                columns[i] = [table[c] for c in codes]
            offset += width * rows
        for i in self.flags:
            columns[i] = view[offset + start : offset + rows].tolist()
            offset += rows
        return ts, columns

    def splice(
        self, data: bytes, drop: int, row: tuple[Any, ...] | None, codes: list[int]
    ) -> bytes:
        """``data`` without its first ``drop`` rows and, when ``row`` is given (ts, then
        the values in kind order, strings already replaced by ``codes``), with it inserted
        in time order (after rows of the same time)."""
        rows, compact, width = HEADER.unpack_from(data)
        if row is not None and codes and max(codes) > 0xFFFF and width == NARROW:
            data = self.widen(data)
            rows, compact, width = HEADER.unpack_from(data)
        at = rows
        if row is not None:
            times = self.times(data)
            if rows and times[rows - 1] > row[0]:  # a late transaction: keep time order
                at = bisect_right(times, row[0])
            at = max(at, drop)
        new: list[bytes] = []
        if row is not None:
            new.append(struct.pack("<q", row[0]))
            new += [struct.pack("<d", row[1 + i]) for i in self.floats]
            code = "<" + _CODE_FORMAT[width]
            new += [struct.pack(code, c) for c in codes]
            new += [b"\x01" if row[1 + i] else b"\x00" for i in self.flags]
        view = memoryview(data)
        out: list[bytes | memoryview] = [
            HEADER.pack(rows - drop + (row is not None), compact, width)
        ]
        offset = HEADER.size
        for k, size in enumerate(self.sizes(width)):
            out.append(view[offset + size * drop : offset + size * at])
            if new:
                out.append(new[k])
            out.append(view[offset + size * at : offset + size * rows])
            offset += size * rows
        return b"".join(out)

    def widen(self, data: bytes) -> bytes:
        """The same rows with 32-bit codes."""
        rows, compact, _ = HEADER.unpack_from(data)
        view = memoryview(data)
        codes_at = HEADER.size + 8 * rows * (1 + len(self.floats))
        codes_end = codes_at + NARROW * rows * len(self.strings)
        wide = view[codes_at:codes_end].cast("H").tolist()
        return b"".join(
            [
                HEADER.pack(rows, compact, WIDE),
                view[HEADER.size : codes_at],
                struct.pack(f"<{len(wide)}I", *wide),
                view[codes_end:],
            ]
        )

    def used_codes(self, data: bytes) -> set[int]:
        rows, _, width = HEADER.unpack_from(data)
        codes_at = HEADER.size + 8 * rows * (1 + len(self.floats))
        view = memoryview(data)[codes_at : codes_at + width * rows * len(self.strings)]
        return set(view.cast(_CODE_FORMAT[width]))

    def compact(self, data: bytes, table: list[str | None]) -> tuple[bytes, list[str | None]]:
        """Drop the table's values no row uses (codes renumbered, order kept)."""
        rows, _, width = HEADER.unpack_from(data)
        used = self.used_codes(data) | {0}
        kept = sorted(used)
        renumber = {old: new for new, old in enumerate(kept)}
        codes_at = HEADER.size + 8 * rows * (1 + len(self.floats))
        count = rows * len(self.strings)
        view = memoryview(data)
        code = _CODE_FORMAT[width]
        codes = [renumber[c] for c in view[codes_at : codes_at + width * count].cast(code)]
        new_table = [table[c] for c in kept]
        packed = b"".join(
            [
                HEADER.pack(rows, compact_at(len(new_table)), width),
                view[HEADER.size : codes_at],
                struct.pack(f"<{count}{code}", *codes),
                view[codes_at + width * count :],
            ]
        )
        return packed, new_table

    def compact_limit(self, data: bytes) -> int:
        return int(HEADER.unpack_from(data)[1])

    def pack(self, ts: list[int], columns: list[list[Any]]) -> tuple[bytes, list[str | None]]:
        """Rows given as columns (kind order), packed with a fresh table."""
        rows = len(ts)
        table: list[str | None] = [None]
        positions: dict[Any, int] = {None: 0}
        codes: list[int] = []
        for i in self.strings:
            for value in columns[i]:
                code = positions.get(value)
                if code is None:
                    code = positions[value] = len(table)
                    table.append(value)
                codes.append(code)
        width = NARROW if len(table) <= 0x10000 else WIDE
        parts = [HEADER.pack(rows, compact_at(len(table)), width), struct.pack(f"<{rows}q", *ts)]
        parts += [struct.pack(f"<{rows}d", *columns[i]) for i in self.floats]
        parts.append(struct.pack(f"<{len(codes)}{_CODE_FORMAT[width]}", *codes))
        parts += [bytes(1 if x else 0 for x in columns[i]) for i in self.flags]
        return b"".join(parts), table
