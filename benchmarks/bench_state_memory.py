"""Online state per card: how much memory the spec's look-back of history takes.

    .venv/bin/python benchmarks/bench_state_memory.py --home HOME

HOME is a FRAUDOPS_HOME with stored transactions under HOME/data/raw. The script warms an
empty online store the way `fraudops serve --warm-from` does (the spec's look-back), first
the in-process memory store (resident memory before and after, in this process), then a
throw-away `redis-server` on loopback (its `used_memory` before and after, and `MEMORY
USAGE` per key kind: card, terminal and merchant, transaction-id index, pending labels),
and divides by the cards warmed. Last line: JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    import polars as pl
    from bench_online_features import STATE_FORMAT, key_kinds

    from fraudops.config import Settings
    from fraudops.data import store
    from fraudops.data.store import resolve_transactions_uri
    from fraudops.features.online import (
        WARM_UP_DAYS,
        MemoryOnlineStore,
        OnlineFeatureEngine,
        RedisOnlineStore,
    )
    from fraudops.serving.app import warm_online_store

    settings = Settings(home=args.home.resolve())
    raw = str(settings.home / "data" / "raw")
    uri = resolve_transactions_uri(raw, settings.storage_options())
    partitions = store.list_partitions(uri, settings.storage_options())
    history = store.read_dataset(uri, None, None, settings.storage_options())
    cards = history.filter(
        pl.col("timestamp") >= history["timestamp"].max() - pl.duration(days=WARM_UP_DAYS)
    )["card_id"].n_unique()
    del history
    result: dict[str, float] = {"cards": cards, "days": WARM_UP_DAYS, "partitions": len(partitions)}

    gc.collect()
    before = rss_bytes()
    engine = OnlineFeatureEngine(MemoryOnlineStore())
    warmed = warm_online_store(engine, settings, raw, WARM_UP_DAYS)
    gc.collect()
    time.sleep(2)  # the allocator returns the warm-up's temporary frames
    result["transactions"] = warmed
    result["memory_store_mb"] = round((rss_bytes() - before) / 2**20, 1)
    result["memory_store_kb_per_card"] = round((rss_bytes() - before) / cards / 1024, 1)
    del engine
    gc.collect()

    binary = shutil.which("redis-server")
    if binary is not None:
        import redis

        port = free_port()
        work = tempfile.mkdtemp(prefix="fraudops-redis-")
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", work],
            stdout=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.1)
            empty = int(client.info("memory")["used_memory"])
            url = f"redis://127.0.0.1:{port}/0"
            engine = OnlineFeatureEngine(RedisOnlineStore(url))
            warm_online_store(engine, settings, raw, WARM_UP_DAYS)
            used = int(client.info("memory")["used_memory"]) - empty
            result["redis_mb"] = round(used / 2**20, 1)
            result["redis_kb_per_card"] = round(used / cards / 1024, 1)
            namespace = f"fraudops:{engine.layout.namespace}:{STATE_FORMAT}:"
            result["redis_keys"], kinds = key_kinds(client, namespace)
            for kind, size in sorted(kinds.items()):
                result[f"redis_{kind}_bytes_per_card"] = round(size / cards)
        finally:
            server.terminate()
            server.wait(10)
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
