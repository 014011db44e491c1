"""What the decision policy costs the API: throughput and latency with no rules file, with
the example rules, and with 50 rules, in one run on the same data and model.

    .venv/bin/python benchmarks/bench_policy_serving.py [--duration 15] [--rounds 2]

Same set-up as bench_serving.py (one worker pinned to CPU 0, wrk on CPU 1, 16
connections, single raw transactions). Each configuration is served by a fresh
`fraudops serve` and measured ``--rounds`` times, alternating, so a slow spell on a shared
machine does not fall on one configuration only. Lists are the default SQLite store with
1,000 block entries (looked up for every transaction either way). Last line: JSON with
rps and p99 per configuration and the throughput ratios to "no rules".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_rules import ruleset  # type: ignore[import-not-found]
from bench_serving import (  # type: ignore[import-not-found]
    KEY,
    LUA_PREDICT,
    free_port,
    start,
    stop,
    wait_ready,
    wrk,
)

from fraudops.decisions import EXAMPLE_RULES
from fraudops.decisions.lists import ListCache, ListEntry, open_list_backend

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fraudops-bench-policy-"))
    home = work / "home"
    env = {
        **os.environ,
        "FRAUDOPS_HOME": str(home),
        "FRAUDOPS_API_KEY": KEY,
        "FRAUDOPS_RELOAD_INTERVAL_SECONDS": "0",
    }
    fraudops = str(BIN / "fraudops")
    raw = str(home / "data" / "raw")
    for command in (
        ["data", "generate", "--customers", "3000", "--days", "50", "--out", raw],
        ["train", "--data", raw, "--models", "lgbm"],
    ):
        subprocess.run([fraudops, *command], env=env, check=True, capture_output=True)
    lists = ListCache(open_list_backend(f"sqlite:///{home / 'lists.db'}"))
    for i in range(1000):  # a block list of the benchmark's own size, none of its cards
        lists.add(ListEntry("block", "card", f"blocked-{i}"))
    fifty = work / "fifty.yaml"
    fifty.write_text(ruleset(50).to_yaml())
    configurations = {"no rules": None, "example rules": EXAMPLE_RULES, "50 rules": fifty}
    script = work / "predict.lua"
    script.write_text(LUA_PREDICT.replace("KEY", KEY))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in configurations}
    for _ in range(args.rounds):
        for name, rules in configurations.items():
            port = free_port()
            served_env = {**env, "FRAUDOPS_RULES_PATH": str(rules or work / "none.yaml")}
            api = start(
                [fraudops, "serve", "--port", str(port), "--warm-from", raw],
                served_env,
                work / "api.log",
            )
            try:
                wait_ready(f"http://127.0.0.1:{port}/health/ready")
                url = f"http://127.0.0.1:{port}/v1/predict"
                wrk(url, script, 3, args.connections)  # warm-up
                runs[name].append(wrk(url, script, args.duration, args.connections))
            finally:
                stop(api)
    result: dict[str, float] = {}
    for name, measured in runs.items():
        key = name.replace(" ", "_")
        result[f"{key}_rps"] = round(statistics.median(r["rps"] for r in measured), 1)
        result[f"{key}_p99_ms"] = round(statistics.median(r["p99_ms"] for r in measured), 2)
        result[f"{key}_errors"] = sum(r["errors"] for r in measured)
        figures = [f"{r['rps']:,.0f} req/s p99 {r['p99_ms']:.2f} ms" for r in measured]
        print(f"{name:>14}: " + ", ".join(figures))
    base = result["no_rules_rps"]
    result["example_rules_throughput_ratio"] = round(result["example_rules_rps"] / base, 3)
    result["fifty_rules_throughput_ratio"] = round(result["50_rules_rps"] / base, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
