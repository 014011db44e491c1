"""Crash and outage figures of a real `fraudops serve` under load.

    .venv/bin/python benchmarks/bench_resilience.py --home HOME [--seconds 6] [--clients 4]

HOME is a FRAUDOPS_HOME with a registered champion and stored transactions under
HOME/data/raw (what `fraudops data generate` + `fraudops train` leave). Two scenarios:

1. decision log: the API scores unique transactions from a few client threads, is killed
   with SIGKILL, restarted on the same home (the journal is replayed into the dataset), and
   the predictions the log holds are counted against those answered 200; then the same
   under SIGTERM.
2. online store outage (needs `redis-server`): the API on a Redis with an always-fsynced
   AOF; Redis is SIGKILLed under load for --outage seconds and restarted; every status code,
   the client latency while degraded, and the degraded count from /metrics.

Last line: JSON with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import polars as pl

BIN = Path(sys.executable).parent
KEY = "bench-api-key-0123456789"
EXAMPLE = {
    "timestamp": "2026-03-10T12:00:00Z",
    "card_id": "card-0000001",
    "merchant_id": "merchant-0001",
    "terminal_id": "terminal-0001",
    "amount": 42.5,
    "channel": "pos",
    "country": "FR",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "fraudops"), "serve", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"fraudops serve exited; see {log}")
        time.sleep(0.3)
    raise SystemExit(f"fraudops serve never became ready; see {log}")


class Load:
    """Client threads scoring unique transactions; records status, answer time, latency."""

    def __init__(self, url: str, clients: int, prefix: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.answered: dict[str, float] = {}
        self.statuses: Counter[int] = Counter()
        self.samples: list[tuple[float, float, bool]] = []  # (time, latency s, degraded)
        run = uuid.uuid4().hex[:8]  # ids unique across runs on the same home
        self.threads = [
            threading.Thread(target=self._run, args=(f"{prefix}-{run}-{i}",))
            for i in range(clients)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, prefix: str) -> None:
        with httpx.Client(base_url=self.url, headers={"X-API-Key": KEY}, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                tx_id = f"{prefix}-{n}"
                body = {**EXAMPLE, "transaction_id": tx_id, "card_id": f"card-{n % 500:07d}"}
                n += 1
                started = time.monotonic()
                try:
                    response = client.post("/v1/predict", json=body)
                except httpx.HTTPError:
                    self.statuses[-1] += 1
                    if self.stop.wait(0.05):
                        return
                    continue
                now = time.monotonic()
                self.statuses[response.status_code] += 1
                if response.status_code == 200:
                    self.answered[tx_id] = now
                    degraded = bool(response.json().get("degraded"))
                    self.samples.append((now, now - started, degraded))

    def end(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def logged(home: Path) -> set[str]:
    root = home / "data" / "predictions"
    files = list(root.glob("date=*/*.parquet"))
    if not files:
        return set()
    frame = pl.concat([pl.read_parquet(f, columns=["transaction_id"]) for f in files])
    return set(frame["transaction_id"].to_list())


def p99_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)


def log_scenario(
    env: dict[str, str], home: Path, work: Path, seconds: float, clients: int
) -> dict[str, Any]:
    before = logged(home)
    api, url = serve(env, work / "api.log")
    load = Load(url, clients, "kill")
    time.sleep(seconds)
    killed_at = time.monotonic()
    os.killpg(api.pid, signal.SIGKILL)
    api.wait(10)
    load.end()
    answered = load.answered
    api, url = serve(env, work / "api.log")  # replays the journal the dead process left
    held = logged(home) - before
    lost = [t for tx_id, t in answered.items() if tx_id not in held]
    rate = len(answered) / seconds
    result = {
        "kill_answered": len(answered),
        "kill_lost": len(lost),
        "kill_lost_ms_of_traffic": round(len(lost) / rate * 1000, 1) if rate else 0.0,
        "kill_oldest_lost_ms": round(max((killed_at - t for t in lost), default=0) * 1000, 1),
    }
    before = logged(home)
    load = Load(url, clients, "term")
    time.sleep(seconds / 2)
    os.killpg(api.pid, signal.SIGTERM)
    api.wait(60)
    load.end()
    result["term_answered"] = len(load.answered)
    result["term_lost"] = len(set(load.answered) - (logged(home) - before))
    return result


def redis_scenario(
    env: dict[str, str], work: Path, seconds: float, clients: int, outage: float
) -> dict[str, Any]:
    binary = shutil.which("redis-server")
    if binary is None:
        return {"redis": "skipped: redis-server not installed"}
    port = free_port()
    command = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "yes", "--appendfsync", "always", "--dir", str(work),
    ]  # fmt: skip

    def start_redis() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        time.sleep(0.5)
        return process

    redis = start_redis()
    env = {**env, "FRAUDOPS_ONLINE_STORE_URI": f"redis://127.0.0.1:{port}/0"}
    api, url = serve(env, work / "api-redis.log")
    try:
        load = Load(url, clients, "redis")
        time.sleep(seconds / 2)
        redis.kill()
        redis.wait(10)
        down = time.monotonic()
        time.sleep(outage)
        ready = httpx.get(f"{url}/health/ready", timeout=5)
        redis = start_redis()
        up = time.monotonic()
        time.sleep(seconds / 2)
        load.end()
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        degraded_total = next(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("fraudops_degraded_predictions_total")
        )
        during = [lat for t, lat, _ in load.samples if down <= t <= up]
        normal = [lat for t, lat, _ in load.samples if t < down]
        return {
            "redis_requests": sum(load.statuses.values()),
            "redis_5xx": sum(n for code, n in load.statuses.items() if code >= 500),
            "redis_other_errors": sum(n for code, n in load.statuses.items() if code < 0),
            "redis_degraded_answers": sum(1 for *_, d in load.samples if d),
            "redis_degraded_metric": degraded_total,
            "redis_ready_during_outage": f"{ready.status_code} {ready.json().get('status')}",
            "redis_p99_ms_before": p99_ms(normal) if normal else None,
            "redis_p99_ms_during_outage": p99_ms(during) if during else None,
        }
    finally:
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(60)
        redis.kill()
        redis.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--outage", type=float, default=5.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fraudops-resilience-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")} | {
        "FRAUDOPS_HOME": str(args.home.resolve()),
        "FRAUDOPS_API_KEY": KEY,
        "FRAUDOPS_RELOAD_INTERVAL_SECONDS": "0",
        "FRAUDOPS_DRAIN_SECONDS": "0",
    }
    results = log_scenario(env, args.home.resolve(), work, args.seconds, args.clients)
    print(json.dumps({"stage": "log", **results}), flush=True)
    results |= redis_scenario(env, work, args.seconds, args.clients, args.outage)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
