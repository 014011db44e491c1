"""Simulator throughput and memory: N transactions streamed day by day to parquet.

    .venv/bin/python benchmarks/bench_generate.py --customers 200000 --days 31

Last line: JSON with transactions, seconds, tx_per_s, peak_rss_mb (and the same figures
without writing, to separate simulation from parquet encoding).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time

from fraudops.data.generate import SimulationConfig, World, generate_day
from fraudops.data.store import record_partitions, write_partition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    config = SimulationConfig(customers=args.customers, days=args.days, seed=args.seed)

    started = time.perf_counter()
    world = World(config)
    simulated = 0
    for index in range(config.days):
        simulated += generate_day(world, index).height
    simulate_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        world = World(config)
        infos = []
        for index in range(config.days):
            frame = generate_day(world, index)
            infos.append(
                write_partition(folder, config.day_of(index), frame, update_manifest=False)
            )
        record_partitions(folder, infos)
        total_seconds = time.perf_counter() - started
    written = sum(info.rows for info in infos)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "transactions": written,
                "seconds": round(total_seconds, 2),
                "tx_per_s": round(written / total_seconds),
                "simulate_only_seconds": round(simulate_seconds, 2),
                "simulate_only_tx_per_s": round(simulated / simulate_seconds),
                "peak_rss_mb": round(peak_rss_mb),
            }
        )
    )


if __name__ == "__main__":
    main()
