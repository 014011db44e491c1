"""Latency while the served model is swapped: p99 with swaps every half second vs none.

    .venv/bin/python benchmarks/bench_model_swap.py [--duration 8] [--rounds 2]

Trains a model on a small simulated history, registers it as two versions, serves the champion with
`fraudops serve` pinned to CPU 0 (wrk on CPU 1, as in bench_serving.py), measures a
baseline, then measures again while the champion alias flips between the two versions
and `POST /admin/reload` loads each one (download, digest check, smoke test, swap)
``--interval`` seconds after the last; the two conditions alternate ``--rounds`` times so
both meet the same neighbours. Last line: JSON with each run's rps and p99, the ratio of
the median p99s, the number of swaps and non-2xx answers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from bench_serving import BIN, KEY, LUA_PREDICT, free_port, start, stop, wait_ready, wrk

ADMIN_KEY = "bench-admin-key-9876543210"


def train_two_versions(work: Path, env: dict[str, str], customers: int) -> list[int]:
    """One training run, registered twice: two versions whose swap costs a real load."""
    fraudops = str(BIN / "fraudops")
    raw = str(work / "home" / "data" / "raw")
    generate = ["data", "generate", "--customers", str(customers), "--days", "30", "--out", raw]
    subprocess.run([fraudops, *generate], env=env, check=True, capture_output=True)
    train = ["train", "--data", raw, "--models", "lgbm"]
    subprocess.run([fraudops, *train], env=env, check=True, capture_output=True)
    from fraudops.config import Settings
    from fraudops.models.registry import DIGEST_TAG, Registry

    settings = Settings(home=work / "home")
    registry = Registry.from_settings(settings)
    first = registry.versions()[-1]
    found = registry.client.get_model_version(settings.model_name, str(first))
    second = registry.register(str(found.run_id), found.tags[DIGEST_TAG], {"copy_of": str(first)})
    registry.set_champion(first, "benchmark")
    return [first, second]


def swap_until(
    done: threading.Event,
    url: str,
    registry: Any,
    model_name: str,
    versions: list[int],
    interval: float,
    times: list[float],
    failures: list[str],
) -> None:
    """Flip the champion between the two versions and reload, until ``done``."""
    from fraudops.models.registry import CHAMPION

    with httpx.Client(timeout=60, headers={"X-API-Key": ADMIN_KEY}) as client:
        i = len(times) + 1
        while not done.wait(interval):
            version = versions[i % 2]
            registry.client.set_registered_model_alias(model_name, CHAMPION, str(version))
            started = time.perf_counter()
            answer = client.post(f"{url}/admin/reload")
            if answer.status_code != 200 or answer.json()["version"] != version:
                failures.append(answer.text)
            times.append(time.perf_counter() - started)
            i += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--customers", type=int, default=600)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="fraudops-swap-"))
    env = {
        **os.environ,
        "FRAUDOPS_HOME": str(work / "home"),
        "FRAUDOPS_API_KEY": KEY,
        "FRAUDOPS_ADMIN_API_KEY": ADMIN_KEY,
        "FRAUDOPS_RELOAD_INTERVAL_SECONDS": "0",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    try:
        versions = train_two_versions(work, env, args.customers)
        from fraudops.config import Settings
        from fraudops.models.registry import Registry

        settings = Settings(home=work / "home")
        registry = Registry.from_settings(settings)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        api = start([str(BIN / "fraudops"), "serve", "--port", str(port)], env, work / "api.log")
        try:
            wait_ready(f"{url}/health/ready")
            script = work / "predict.lua"
            script.write_text(LUA_PREDICT.replace("KEY", KEY))
            wrk(f"{url}/v1/predict", script, 3, args.connections)  # warm-up
            # alternate the two conditions so both see the same neighbours on a shared VM
            baseline: list[dict[str, float]] = []
            during: list[dict[str, float]] = []
            swaps: list[float] = []
            failures: list[str] = []
            for round_ in range(args.rounds):
                baseline.append(wrk(f"{url}/v1/predict", script, args.duration, args.connections))
                print(json.dumps({"stage": f"baseline {round_}", **baseline[-1]}), flush=True)
                done = threading.Event()
                swapper = threading.Thread(
                    target=swap_until,
                    args=(done, url, registry, settings.model_name, versions, args.interval),
                    kwargs={"times": swaps, "failures": failures},
                )
                swapper.start()
                try:
                    during.append(wrk(f"{url}/v1/predict", script, args.duration, args.connections))
                finally:
                    done.set()
                    swapper.join()
                print(json.dumps({"stage": f"swaps {round_}", **during[-1]}), flush=True)
        finally:
            stop(api)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base_p99 = statistics.median(r["p99_ms"] for r in baseline)
    swap_p99 = statistics.median(r["p99_ms"] for r in during)
    result = {
        "rounds": args.rounds,
        "baseline_rps": [r["rps"] for r in baseline],
        "baseline_p99_ms": [r["p99_ms"] for r in baseline],
        "swap_rps": [r["rps"] for r in during],
        "swap_p99_ms": [r["p99_ms"] for r in during],
        "p99_ratio_of_medians": round(swap_p99 / base_p99, 2),
        "swaps": len(swaps),
        "reload_seconds_p50": round(statistics.median(swaps), 3) if swaps else None,
        "failed_swaps": len(failures),
        "non_2xx": sum(r["errors"] for r in baseline + during),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
