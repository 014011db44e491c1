"""Batch scoring in process: where the time of a 1,000-transaction batch goes.

    .venv/bin/python benchmarks/bench_batch.py --home HOME [--rounds 10] [--size 1000]
        [--online-store redis://127.0.0.1:6379/0] [--merchants 1]

HOME is a FRAUDOPS_HOME with a registered champion and stored transactions under
HOME/data/raw. The script builds the API's state as `fraudops serve` does
(`serving.app.start_state`, warmed with the spec's look-back), then scores batches of
``--size`` transactions over 3,000 cards through `ScoringService.score`, the function
`/v1/predict/batch` calls, and times its parts. Last line: JSON with medians in ms.

Every transaction goes to the example's merchant and terminal unless ``--merchants N``
spreads them over N (a busy merchant's day of times grows by a batch each round). With
``--online-store`` a Redis URL (its database is emptied first), the JSON also gives
Redis's own time in the per-transaction script (``redis_script_us_per_tx``, from
``INFO commandstats``): one Redis primary runs one script at a time for all workers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import orjson

from fraudops.config import Settings
from fraudops.serving.app import build_state, start_state
from fraudops.serving.routes.predict import _to_dicts
from fraudops.serving.schemas import EXAMPLE_TRANSACTION, BatchIn


def batch(round_: int, size: int, merchants: int = 1) -> bytes:
    txs = [
        {
            **EXAMPLE_TRANSACTION,
            "transaction_id": f"b-{round_}-{i}",
            "card_id": f"card-{i % 3000:07d}",
            "amount": 5.0 + i % 400,
            **(
                {
                    "merchant_id": f"merch-{i % merchants:06d}",
                    "terminal_id": f"term-{i % merchants:06d}-0",
                }
                if merchants > 1
                else {}
            ),
        }
        for i in range(size)
    ]
    return orjson.dumps({"transactions": txs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--online-store", default="memory://")
    parser.add_argument("--merchants", type=int, default=1)
    args = parser.parse_args()
    home = args.home.resolve()
    redis_client = None
    if args.online_store.startswith("redis"):
        import redis

        redis_client = redis.Redis.from_url(args.online_store)
        redis_client.flushdb()
    settings = Settings(
        home=home,
        reload_interval_seconds=0,
        max_batch_size=args.size,
        online_store_uri=args.online_store,
    )
    state = build_state(settings)
    state.holder.reload(force=True)
    start_state(state, poll_registry=False, warm_from=str(home / "data" / "raw"))
    service = state.service
    if service is None or state.holder.current is None:
        raise SystemExit(f"no champion model under {home}")
    model = state.holder.current.model
    for round_ in range(3):  # warm-up
        service.score(
            _to_dicts(
                BatchIn.model_validate_json(batch(round_, args.size, args.merchants)).transactions
            )
        )
    parts: dict[str, list[float]] = {"parse": [], "features": [], "model": [], "total": []}
    if redis_client is not None:
        redis_client.config_resetstat()
    for round_ in range(3, 3 + args.rounds):
        body = batch(round_, args.size, args.merchants)
        started = time.perf_counter()
        txs: list[dict[str, Any]] = _to_dicts(BatchIn.model_validate_json(body).transactions)
        parsed = time.perf_counter()
        x, _ = service.engine.process_or_degrade(txs)
        featured = time.perf_counter()
        model.score_and_explain(x)
        parts["parse"].append(parsed - started)
        parts["features"].append(featured - parsed)
        parts["model"].append(time.perf_counter() - featured)
    for round_ in range(100, 100 + args.rounds):
        body = batch(round_, args.size, args.merchants)
        started = time.perf_counter()
        orjson.dumps(service.score(_to_dicts(BatchIn.model_validate_json(body).transactions)))
        parts["total"].append(time.perf_counter() - started)
    result: dict[str, float] = {
        f"batch_{args.size}_{name}_ms_p50": round(statistics.median(values) * 1000, 1)
        for name, values in parts.items()
    }
    if redis_client is not None:
        script = redis_client.info("commandstats").get("cmdstat_evalsha")
        result["redis_script_us_per_tx"] = round(float(script["usec_per_call"]), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
