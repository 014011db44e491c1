"""The memory store's transaction-id index: the longest single call (a rebuild) as it grows.

    .venv/bin/python benchmarks/bench_txindex.py [--ids 4000000] [--rounds 3]

A rebuild (the table past 60 % full, or the dead prefix of the log half of it) runs while
the store's lock is held: the request that triggers it waits for it. The script adds
``--ids`` ids one by one (as live traffic does), then keeps adding while evicting the
oldest (steady state: each compaction rebuilds with every live id), and reports the worst
single call of each phase and the time of one rebuild of the full index. Beside it, a
plain ``dict`` of id -> (time, keys), what a user would write first: its worst insert (a
resize) and its size. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc

from fraudops.features.online.txindex import TxIndex

KEYS = ("card-0000042", "term-000107-0", "merch-000107")


def worst_add(index: TxIndex, first: int, count: int, evict_lag: int | None) -> float:
    worst = 0.0
    clock = time.perf_counter
    for k in range(first, first + count):
        begin = clock()
        index.add(f"tx-{k:012d}", k, KEYS)
        if evict_lag is not None:
            index.evict_before(k - evict_lag)
        worst = max(worst, clock() - begin)
    return worst


def dict_worst_insert(ids: int) -> tuple[float, float]:
    table: dict[str, tuple[int, tuple[str, ...]]] = {}
    worst = 0.0
    clock = time.perf_counter
    tracemalloc.start()
    for k in range(ids):
        begin = clock()
        table[f"tx-{k:012d}"] = (k, KEYS)
        worst = max(worst, clock() - begin)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return worst, size / ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=4_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    growth, steady, rebuild = [], [], []
    for _ in range(args.rounds):
        index = TxIndex(len(KEYS))
        growth.append(worst_add(index, 0, args.ids, None))
        steady.append(worst_add(index, args.ids, args.ids, args.ids))
        begin = time.perf_counter()
        index._rebuild()  # the operation measured
        rebuild.append(time.perf_counter() - begin)
        print(
            f"growth worst {growth[-1] * 1000:.0f} ms, steady worst {steady[-1] * 1000:.0f} ms, "
            f"rebuild of {len(index):,} ids {rebuild[-1] * 1000:.0f} ms",
            file=sys.stderr,
        )
    dict_worst, dict_bytes = dict_worst_insert(args.ids)
    print(
        json.dumps(
            {
                "ids": args.ids,
                "growth_worst_call_ms": [round(v * 1000) for v in growth],
                "steady_worst_call_ms": [round(v * 1000) for v in steady],
                "rebuild_ms": [round(v * 1000) for v in rebuild],
                "dict_worst_insert_ms": round(dict_worst * 1000),
                "dict_bytes_per_id": round(dict_bytes),
            }
        )
    )


if __name__ == "__main__":
    main()
