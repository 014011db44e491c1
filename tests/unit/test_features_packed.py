"""Packed entity state: round trips, time order, table compaction and wide codes."""

from __future__ import annotations

import random

from fraudops.features.definition import Filter
from fraudops.features.online.layout import EntityLayout
from fraudops.features.online.packed import HEADER, Packing

LAYOUT = EntityLayout(
    entity="card_id",
    retention_us=1_000,
    columns=("amount", "merchant_id", "country"),
    filters=(Filter("channel", "==", "ecom"),),
    entries=True,
    frauds=False,
    count_ranges=(),
)
PACKING = Packing(LAYOUT)


def add(data: bytes, table: list[str | None], drop: int, t: int, values: tuple) -> bytes:
    codes = []
    for i in PACKING.strings:
        if values[i] is None:
            codes.append(0)
            continue
        if values[i] not in table:
            table.append(values[i])
        codes.append(table.index(values[i]))
    return PACKING.splice(data, drop, (t, *values), codes)


def test_rows_come_back_in_time_order_with_exact_values() -> None:
    rows = [
        (t, (random.random() * 1e4, f"m{t % 7}", None if t % 3 else "FR", t % 2 == 0))
        for t in range(50)
    ]
    shuffled = random.Random(1).sample(rows, len(rows))
    data, table = PACKING.empty(), [None]
    for t, values in shuffled:  # late transactions are inserted in time order
        data = add(data, table, 0, t, values)
    ts, columns = PACKING.decode(data, table)
    assert ts == list(range(50))
    assert columns[0] == [v[0] for _, v in rows]  # float64: bit-exact
    assert columns[1] == [v[1] for _, v in rows]
    assert columns[2] == [v[2] for _, v in rows]
    assert columns[3] == [int(v[3]) for _, v in rows]
    later, kept = PACKING.decode(data, table, start=45)
    assert later == list(range(45, 50))
    assert kept[1] == columns[1][45:]
    repacked, fresh_table = PACKING.pack(ts, columns)
    assert PACKING.decode(repacked, fresh_table) == (ts, columns)


def test_equal_times_keep_arrival_order_and_drop_trims_the_front() -> None:
    data, table = PACKING.empty(), [None]
    for k, merchant in enumerate(["a", "b", "c"]):
        data = add(data, table, 0, 10 + (k > 0), (1.0, merchant, None, False))
    data = add(data, table, 0, 11, (2.0, "d", None, True))
    ts, columns = PACKING.decode(data, table)
    assert ts == [10, 11, 11, 11]
    assert columns[1] == ["a", "b", "c", "d"]
    data = add(data, table, 2, 12, (3.0, "e", None, False))
    ts, columns = PACKING.decode(data, table)
    assert ts == [11, 11, 12]
    assert columns[1] == ["c", "d", "e"]
    assert columns[3] == [0, 1, 0]


def test_table_is_compacted_to_the_live_values() -> None:
    data, table = PACKING.empty(), [None]
    for t in range(200):  # a new merchant every time, only the last 10 rows kept
        data = add(data, table, 1 if t >= 10 else 0, t, (1.0, f"m{t}", "FR", False))
        if len(table) >= PACKING.compact_limit(data):
            data, table = PACKING.compact(data, table)
    ts, columns = PACKING.decode(data, table)
    assert ts == list(range(190, 200))
    assert columns[1] == [f"m{t}" for t in range(190, 200)]
    assert len(table) < 1 + 11 + 11 // 2 + 16  # within 1.5x the live values (and a floor)


def test_codes_widen_past_65535_distinct_values() -> None:
    count = 70_000
    ts = list(range(count))
    columns = [[0.5] * count, [f"m{t}" for t in ts], ["FR"] * count, [0] * count]
    data, table = PACKING.pack(ts, columns)
    assert HEADER.unpack_from(data)[2] == 4
    narrow, narrow_table = PACKING.pack(ts[:10], [c[:10] for c in columns])
    assert HEADER.unpack_from(narrow)[2] == 2
    narrow_table += [f"x{k}" for k in range(70_000)]
    wide = PACKING.splice(
        narrow,
        0,
        (10, 0.5, "x69999", "FR", True),
        [narrow_table.index("x69999"), narrow_table.index("FR")],
    )
    assert HEADER.unpack_from(wide)[2] == 4
    got_ts, got = PACKING.decode(wide, narrow_table)
    assert got_ts == list(range(11))
    assert got[1][-1] == "x69999"
    assert got[1][:10] == columns[1][:10]
    assert PACKING.decode(data, table) == (ts, columns)
