"""Online feature latency: lookup + update per transaction, memory and Redis.

    .venv/bin/python benchmarks/bench_online_features.py --customers 2000 --transactions 20000

The store is first warmed with 30 days of simulated history (``backfill``), so every card
scored has its 30-day history; then the next day's transactions are processed one by one
(``OnlineFeatureEngine.process``, the API's hot path) and each call is timed. Redis runs on
loopback: the URL given with --redis-url, else a throw-away ``redis-server`` started on a
free port. Last line: JSON with p50/p99/max per backend (milliseconds), and a bare Redis
PING round trip measured the same way (the floor the machine sets for any Redis call).

State size (``--state-cards 100000,1000000``): synthetic 30-day histories (a Poisson number
of transactions per card, mean ``--tx-per-card``) are bulk-loaded through the store's
``load()`` in chunks of cards, and the state they leave is measured: in memory, the bytes
Python still holds afterwards (``tracemalloc``, every object, dict and key included; RSS
delta beside it), per part (card state, terminal and merchant state, transaction index);
in Redis, ``MEMORY USAGE`` summed over every key the store wrote, per key kind. Up to
``--traced-cards`` cards the memory figures are traced (exact); above, tracing millions of
objects takes too long and the figures are RSS deltas (allocator slack included).
``--state-index-cards`` caps the card count up to which the transaction index is loaded
too (it holds every id of the longest window and scales linearly with the cards: larger
runs load the entity state only, and the index figure per card of the smaller run holds).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import polars as pl

from fraudops.data.generate import SimulationConfig, World, generate_day
from fraudops.features.online import OnlineFeatureEngine, OnlineStore, open_online_store
from fraudops.schema import conform, label_feed_from_transactions


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_url(given: str | None) -> Iterator[str | None]:
    if given:
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def measure(
    store: OnlineStore, history: pl.DataFrame, live: list[dict[str, Any]]
) -> dict[str, Any]:
    engine = OnlineFeatureEngine(store)
    store.clear()
    started = time.perf_counter()
    engine.backfill(history, label_feed_from_transactions(history))
    backfill_seconds = time.perf_counter() - started
    for row in live[:500]:  # warm-up: code paths, connections, allocator
        engine.process(row)
    wall = np.empty(len(live) - 500)
    cpu = np.empty(len(live) - 500)
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    server = getattr(store, "client", None)  # Redis: its own time in the scripts, below
    if server is not None:
        server.config_resetstat()
    for k, row in enumerate(live[500:]):
        begin, begin_cpu = clock(), cpu_clock()
        engine.process(row)
        cpu[k] = cpu_clock() - begin_cpu
        wall[k] = clock() - begin
    script = server.info("commandstats").get("cmdstat_evalsha") if server is not None else None
    ms, cpu_ms = wall / 1e6, cpu / 1e6
    # fraud labels for transactions of the whole history (found through the id index)
    labelled = history.sample(n=min(1_000, history.height), seed=0)["transaction_id"].to_list()
    reported = live[-1]["timestamp"]
    label_wall = np.empty(len(labelled))
    for k, tx_id in enumerate(labelled):
        begin = clock()
        engine.ingest_label(tx_id, 1, reported)
        label_wall[k] = clock() - begin
    label_ms = label_wall / 1e6
    store.clear()
    return {
        "transactions": int(ms.size),
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "max_ms": round(float(ms.max()), 4),
        "mean_ms": round(float(ms.mean()), 4),
        # CPU time of this process only: the engine's own cost, whatever else runs on the
        # machine (for Redis it leaves out the server and the wait for its reply)
        "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 4),
        "cpu_p99_ms": round(float(np.percentile(cpu_ms, 99)), 4),
        "backfill_seconds": round(backfill_seconds, 2),
        # Redis runs one script per transaction on its single command thread: its time
        # there bounds the transactions/s one Redis primary takes from all workers
        **(
            {
                "server_script_us_per_tx": round(float(script["usec_per_call"]), 1),
                "server_tx_per_s_bound": round(1e6 / float(script["usec_per_call"])),
            }
            if script
            else {}
        ),
        "labels": len(labelled),
        "label_p50_ms": round(float(np.percentile(label_ms, 50)), 4),
        "label_p99_ms": round(float(np.percentile(label_ms, 99)), 4),
    }


def ping_latency(url: str, calls: int = 5_000) -> dict[str, float]:
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(500):
        client.ping()
    timings = np.empty(calls)
    for k in range(calls):
        begin = time.perf_counter_ns()
        client.ping()
        timings[k] = time.perf_counter_ns() - begin
    client.close()
    ms = timings / 1e6
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
    }


# -- state size ----------------------------------------------------------------------------

STATE_DAYS = 30
SYNTHETIC_START_US = 1_767_225_600_000_000  # 2026-01-01 UTC in µs


def synthetic_history(cards: int, first_card: int, mean_tx: float, seed: int) -> pl.DataFrame:
    """30 days of card traffic: Poisson(mean_tx) transactions per card, merchants shared
    across cards (about one per 20 cards, two terminals each), a home country per card, a
    device on e-commerce transactions, a few frauds reported days later."""
    rng = np.random.default_rng(seed + first_card)
    counts = rng.poisson(mean_tx, cards)
    card = np.repeat(np.arange(first_card, first_card + cards), counts)
    n = card.size
    ts = SYNTHETIC_START_US + rng.integers(0, STATE_DAYS * 86_400_000_000, n)
    merchants = max(cards * 10 // 20, 50)
    merchant = rng.zipf(1.3, n) % merchants
    ecom = rng.random(n) < 0.3
    countries = np.array(["FR", "DE", "BE", "NL", "ES", "IT", "PT", "GB"])
    abroad = rng.random(n) < 0.05
    country = countries[np.where(abroad, rng.integers(0, 8, n), card % 8)]
    fraud = rng.random(n) < 0.005
    frame = pl.DataFrame(
        {
            "transaction_id": [f"tx-{first_card:07d}-{k:09d}" for k in range(n)],
            "timestamp": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
            "card_id": [f"card-{c:07d}" for c in card],
            "merchant_id": [f"merch-{m:06d}" for m in merchant],
            "terminal_id": [f"term-{m:06d}-{m % 2}" for m in merchant],
            "amount": np.round(rng.lognormal(3.3, 1.0, n), 2),
            "channel": np.where(ecom, "ecom", "pos"),
            "country": country,
            "device_id": [f"dev-{c:07d}" if e else None for c, e in zip(card, ecom, strict=True)],
            "is_fraud": fraud.astype(np.int8),
            "label_available_at": pl.Series(
                np.where(fraud, ts + rng.integers(1, 20, n) * 86_400_000_000, 0)
            ).cast(pl.Datetime("us", "UTC")),
        }
    ).with_columns(
        pl.when(pl.col("is_fraud") == 1)
        .then(pl.col("label_available_at"))
        .alias("label_available_at")
    )
    return conform(frame)


def load_synthetic(
    engine: OnlineFeatureEngine,
    cards: int,
    mean_tx: float,
    with_index: bool,
    seed: int,
    chunk: int = 50_000,
    indexed: list[int] | None = None,
) -> Iterator[str]:
    """Load the synthetic state through ``store.load`` in chunks of cards, in three passes
    (card state, terminal and merchant state, index); yields each pass's name once loaded.
    ``indexed`` (a one-item list) is increased by the number of transaction ids indexed."""
    from fraudops.features.online.backfill import backfill_data

    layout = engine.layout
    slots = range(len(layout.entities))
    card_slot = [e.entity for e in layout.entities].index("card_id")
    passes = ["card", "entities", "index"] if with_index else ["card", "entities"]
    for phase in passes:
        for first in range(0, cards, chunk):
            history = synthetic_history(min(chunk, cards - first), first, mean_tx, seed)
            data = backfill_data(layout, history, label_feed_from_transactions(history))
            keep = {"card": {card_slot}, "entities": set(slots) - {card_slot}}.get(phase, set())
            for slot in slots:
                if slot not in keep:
                    data.entries[slot], data.frauds[slot] = {}, {}
            if phase != "index":
                data.index, data.pending = [], {}
            elif indexed is not None:
                indexed[0] += len(data.index)
            engine.store.load(data)
            del data, history
        yield phase


try:  # the Redis key layout's tag (absent before the compact state)
    from fraudops.features.online.redis_store import STATE_FORMAT
except ImportError:
    STATE_FORMAT = ""


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def memory_state_size(
    cards: int, mean_tx: float, with_index: bool, seed: int, traced: bool
) -> dict[str, Any]:
    """Bytes the memory store holds after loading the synthetic state, per part: traced
    by ``tracemalloc`` (exact, slow on millions of objects) or as RSS deltas."""
    import ctypes
    import gc
    import tracemalloc

    libc = ctypes.CDLL("libc.so.6")
    # first use imports modules and fills caches: not state, so paid before measuring
    for _ in load_synthetic(OnlineFeatureEngine(open_online_store("memory://")), 50, 5, True, 1):
        pass
    store = open_online_store("memory://")
    engine = OnlineFeatureEngine(store)
    transactions = 0
    gc.collect()
    libc.malloc_trim(0)
    rss_before = rss_bytes()

    def held() -> int:
        gc.collect()
        if traced:
            return int(tracemalloc.get_traced_memory()[0])
        libc.malloc_trim(0)
        return rss_bytes()

    if traced:
        tracemalloc.start()
    parts: dict[str, int] = {}
    previous = held()
    started = time.perf_counter()
    for phase in load_synthetic(engine, cards, mean_tx, with_index, seed):
        current = held()
        parts[phase] = current - previous
        previous = current
    seconds = time.perf_counter() - started
    if traced:
        tracemalloc.stop()
    gc.collect()
    libc.malloc_trim(0)
    rss_delta = rss_bytes() - rss_before
    sizes = store.size()  # type: ignore[attr-defined]
    transactions = sizes["card_id"]
    total = sum(parts.values())
    result: dict[str, Any] = {
        "cards": cards,
        "measured_by": "tracemalloc" if traced else "rss",
        "load_seconds": round(seconds, 1),
        "card_transactions": transactions,
        "index_loaded": with_index,
        "bytes_per_card": round(total / cards),
        "card_state_bytes_per_card": round(parts["card"] / cards),
        "terminal_merchant_bytes_per_card": round(parts["entities"] / cards),
        "index_bytes_per_card": round(parts["index"] / cards) if with_index else None,
        "card_state_bytes_per_transaction": round(parts["card"] / transactions, 1),
        "rss_delta_bytes_per_card": round(rss_delta / cards),
    }
    del engine, store
    gc.collect()
    return result


def key_kinds(client: Any, namespace: str) -> tuple[int, dict[str, int]]:
    """The store's keys under ``namespace``: their count and ``MEMORY USAGE`` per kind
    (card, terminal_merchant, idx, pending)."""
    kinds: dict[str, int] = {}
    keys = 0
    batch: list[bytes] = []

    def measure_batch() -> None:
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.memory_usage(key, samples=0)
        for key, used in zip(batch, pipe.execute(), strict=True):
            name = key.decode()[len(namespace) :]
            kind = name.split(":", 1)[0]
            if kind in ("card_id", "terminal_id", "merchant_id"):
                kind = "card" if kind == "card_id" else "terminal_merchant"
            kinds[kind] = kinds.get(kind, 0) + int(used or 0)
        batch.clear()

    for key in client.scan_iter(match=f"{namespace}*", count=5_000):
        batch.append(key)
        keys += 1
        if len(batch) >= 10_000:
            measure_batch()
    measure_batch()
    return keys, kinds


def redis_state_size(
    url: str, cards: int, mean_tx: float, with_index: bool, seed: int, index_buckets: int
) -> dict[str, Any]:
    """``MEMORY USAGE`` summed over every key the Redis store wrote, per key kind. The
    store is configured with ``index_buckets`` (0: one per 64 transactions a day: the count
    live traffic gives a day; the loaded days are listed with it too, below)."""
    import redis

    if index_buckets == 0:
        index_buckets = max(1, math.ceil(cards * mean_tx / STATE_DAYS / 64))
    try:
        store = open_online_store(url, index_buckets=index_buckets)
    except TypeError:  # a store before the index took a bucket count
        store = open_online_store(url)
    engine = OnlineFeatureEngine(store)
    store.clear()
    client = redis.Redis.from_url(url)
    namespace = f"fraudops:{engine.layout.namespace}:"
    namespace += f"{STATE_FORMAT}:" if STATE_FORMAT else ""
    if with_index:
        # A bulk load lists each new day with one index hash per 64 of its ids, and a
        # listed day keeps its count. Loaded in chunks of cards, the first chunk would list
        # every day for its share of the ids alone (at 1M cards, ~1,000 ids a hash: past
        # Redis's listpack limit). List the days as one load of the whole portfolio does.
        first_day = SYNTHETIC_START_US // 86_400_000_000
        per_day = max(1, math.ceil(cards * mean_tx / STATE_DAYS / 64))
        client.hset(
            f"{namespace}idx:days",
            mapping={str(day): per_day for day in range(first_day, first_day + STATE_DAYS)},
        )
    indexed = [0]
    for _ in load_synthetic(engine, cards, mean_tx, with_index, seed, indexed=indexed):
        pass
    keys, kinds = key_kinds(client, namespace)
    counts = [int(c) for c in client.hvals(f"{namespace}idx:days") or []]
    listed = round(sum(counts) / len(counts), 1) if counts else None
    total = sum(kinds.values())
    index = kinds.get("idx", 0) + kinds.get("pending", 0)
    result: dict[str, Any] = {
        "cards": cards,
        "keys": keys,
        "index_buckets_configured": index_buckets,
        "index_buckets_per_day": listed,
        "index_loaded": with_index,
        "bytes_per_card": round(total / cards),
        "card_state_bytes_per_card": round(kinds.get("card", 0) / cards),
        "terminal_merchant_bytes_per_card": round(kinds.get("terminal_merchant", 0) / cards),
        "index_bytes_per_card": round(index / cards) if with_index else None,
        "index_ids": indexed[0],
        "index_bytes_per_transaction": round(kinds.get("idx", 0) / indexed[0], 1)
        if indexed[0]
        else None,
        "pending_bytes_per_card": round(kinds.get("pending", 0) / cards),
        "used_memory_mb": round(int(client.info("memory")["used_memory"]) / 2**20),
    }
    store.clear()
    client.close()
    store.close()
    return result


def state_sizes(args: argparse.Namespace, url: str | None) -> dict[str, Any]:
    sizes: dict[str, Any] = {"tx_per_card_mean": args.tx_per_card, "memory": [], "redis": []}
    for cards in [int(c) for c in args.state_cards.split(",") if c]:
        with_index = cards <= args.state_index_cards
        traced = cards <= args.traced_cards
        if "memory" in args.state_stores:
            sizes["memory"].append(
                memory_state_size(cards, args.tx_per_card, with_index, args.seed, traced)
            )
        if url and "redis" in args.state_stores:
            sizes["redis"].append(
                redis_state_size(
                    url, cards, args.tx_per_card, with_index, args.seed, args.index_buckets
                )
            )
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--state-cards", default="", help="e.g. 100000,1000000 (none: skip)")
    parser.add_argument("--state-index-cards", type=int, default=100_000)
    parser.add_argument("--tx-per-card", type=float, default=40.0)
    parser.add_argument("--traced-cards", type=int, default=20_000, help="tracemalloc up to")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--index-buckets", type=int, default=0, help="Redis index hashes a day (0: sized)"
    )
    parser.add_argument(
        "--state-stores", default="memory,redis", help="which stores' state to measure"
    )
    args = parser.parse_args()
    if args.skip_latency:
        with redis_url(args.redis_url) as url:
            print(json.dumps({"state": state_sizes(args, url)}))
        return

    config = SimulationConfig(customers=args.customers, days=32, seed=args.seed)
    world = World(config)
    history = pl.concat([generate_day(world, day) for day in range(30)])
    live_frame = pl.concat([generate_day(world, day) for day in (30, 31)])
    live = live_frame.sort("timestamp", "transaction_id").head(args.transactions + 500).to_dicts()
    per_card = history.group_by("card_id").len()["len"]
    measured_cards = pl.Series([row["card_id"] for row in live[500:]])
    history_of_measured = (
        pl.DataFrame({"card_id": measured_cards})
        .join(history.group_by("card_id").len(), on="card_id", how="left")["len"]
        .fill_null(0)
    )
    result: dict[str, Any] = {
        "history_transactions": history.height,
        "history_days": 30,
        "card_history_median": float(per_card.median() or 0),
        "scored_card_history_p99": float(history_of_measured.quantile(0.99) or 0),
        "memory": measure(open_online_store("memory://"), history, live),
    }
    with redis_url(args.redis_url) as url:
        result["redis"] = measure(open_online_store(url), history, live) if url else None
        if url:  # the machine's floor: a bare PING round trip, measured the same way
            result["redis_ping"] = ping_latency(url)
        if args.state_cards:
            result["state"] = state_sizes(args, url)
    result["memory_p99_ms"] = result["memory"]["p99_ms"]
    result["redis_p99_ms"] = result["redis"]["p99_ms"] if result["redis"] else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
