"""What the review queue costs the request path, and how fast the writer stores cases.

Times ``CaseRecorder.on_scored`` (what ``ScoringService.score`` adds per request) on
scored transactions of which a share goes to review, then how many cases per second the
writer thread stores in SQLite, and the worst single call while the queue is full (it
must drop, not wait). The last printed line is JSON.

    .venv/bin/python benchmarks/bench_cases.py --requests 200000 --review-share 0.03
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fraudops.cases.recorder import CaseRecorder
from fraudops.cases.store import open_store

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def scored(i: int, review: bool) -> tuple[dict, dict]:
    tx = {
        "transaction_id": f"tx-{i}",
        "card_id": f"card-{i % 5000}",
        "amount": 12.5,
        "timestamp": T0 + timedelta(seconds=i),
        "merchant_id": "m-1",
        "country": "FR",
    }
    result = {
        "transaction_id": f"tx-{i}",
        "fraud_probability": 0.4 if review else 0.01,
        "score": 400 if review else 10,
        "decision": "review" if review else "approve",
        "decided_by": {"stage": "threshold", "name": "review" if review else "approve"},
        "rules": [],
        "reasons": [{"feature": "amount", "value": 12.5, "contribution": 0.1, "text": "x"}],
    }
    return tx, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--review-share", type=float, default=0.03)
    args = parser.parse_args()
    rng = random.Random(7)
    items = [scored(i, rng.random() < args.review_share) for i in range(args.requests)]
    reviews = sum(1 for _, r in items if r["decision"] == "review")
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'cases.db'}")
        recorder = CaseRecorder(store, max_pending=args.requests)  # writer not started yet
        started = time.perf_counter()
        for tx, result in items:
            recorder.on_scored([tx], [result])
        hook_seconds = time.perf_counter() - started

        started = time.perf_counter()
        recorder.start()
        recorder.drain()
        write_seconds = time.perf_counter() - started
        opened = recorder.opened

        full = CaseRecorder(store, max_pending=1)  # never started: the queue stays full
        calls = []
        for tx, result in items[:20_000]:
            flagged = {**result, "decision": "review"}
            begun = time.perf_counter()
            full.on_scored([tx], [flagged])
            calls.append(time.perf_counter() - begun)
        calls.sort()
        recorder.close()
        store.close()
    figures = {
        "requests": args.requests,
        "reviews": reviews,
        "hook_us_per_request": round(hook_seconds / args.requests * 1e6, 3),
        "cases_opened": opened,
        "writer_cases_per_s": round(opened / write_seconds),
        "full_queue_dropped": full.dropped,
        "full_queue_p99_call_us": round(calls[int(len(calls) * 0.99)] * 1e6, 1),
        "full_queue_worst_call_us": round(calls[-1] * 1e6, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
