"""Rules speed: the per-request rules stage and the vectorised backtest.

    .venv/bin/python benchmarks/bench_rules.py [--rules 50 --rows 1000000]

- ``evaluate_us``: ``CompiledRules.evaluate`` on one transaction's context (the 56
  features, the transaction fields, model outputs and list flags), ``--rules`` realistic
  rules (the example file's 8 and generated ones over real fields: thresholds, ratios,
  ``in`` lists, list flags, a tenth in shadow); mean over 2,000 distinct contexts cycled,
  with the median and 99th percentile of batches of 100, and the thread's CPU time per
  request (``evaluate_cpu_us``: steadier than wall time when the machine is shared);
- ``policy_us``: ``apply_policy`` (lists, the same rules, thresholds) per request;
- ``backtest_seconds``: ``backtest_frame`` on ``--rows`` random transactions over 30 days
  whose context columns are already there (model scoring excluded): every rule's figures,
  hits per day, the policy's decisions and savings; ``policy_columns_seconds``: the
  vectorised policy alone.

Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import yaml

from fraudops.decisions import EXAMPLE_RULES
from fraudops.decisions.backtest import add_context_columns, backtest_frame
from fraudops.decisions.context import field_types
from fraudops.decisions.policy import apply_policy, policy_columns
from fraudops.decisions.rules import compile_rules, load_rules, parse_rules
from fraudops.models.decision import DecisionThresholds

EXAMPLE = EXAMPLE_RULES
TEMPLATES = (
    "amount > {a} and channel == 'ecom'",
    "card_tx_count_1h >= {n} or list_watch_card",
    "amount / max(card_amount_mean_30d, 1) > {r} and entry_mode in ('keyed', 'magstripe')",
    "card_new_merchant_30d == 1 and amount > {a} and hour < 6",
    "score >= {s} and not list_vip_card",
    "card_distinct_countries_24h >= {n} and country not in ('FR', 'DE', 'ES')",
    "terminal_fraud_rate_7d > 0.{n} and terminal_tx_count_7d >= 20",
    "startswith(mcc, '59') and amount > {a} and card_new_device_30d == 1",
    "card_small_amount_count_1h >= {n} and distance_from_home_km > {a}",
    "probability > 0.{n} and card_seconds_since_prev < 60",
)
OUTCOMES = ("review", "decline", "adjust", "review", "approve")
THRESHOLDS = DecisionThresholds(review=0.3, decline=0.8)


def ruleset(count: int) -> Any:
    """The example file's rules, then generated ones up to ``count``."""
    example = load_rules(EXAMPLE)
    rng = random.Random(7)
    rules = [r.as_dict() for r in example.rules][:count]
    for i in range(count - len(rules)):
        outcome = OUTCOMES[i % len(OUTCOMES)]
        condition = TEMPLATES[i % len(TEMPLATES)].format(
            a=rng.choice([200, 500, 1000, 2000]),
            n=rng.randint(2, 9),
            r=rng.choice([3, 5, 10]),
            s=rng.choice([700, 850, 950]),
        )
        rule: dict[str, Any] = {
            "name": f"generated_{i}",
            "condition": condition,
            "outcome": outcome,
            "priority": rng.randint(0, 100),
            "mode": "shadow" if i % 10 == 9 else "active",
        }
        if outcome == "adjust":
            rule["adjust"] = 0.05
        rules.append(rule)
    return parse_rules(yaml.safe_dump({"version": "bench", "rules": rules}), "bench")


def random_context(rng: random.Random) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for name, kind in field_types().items():
        if kind == "str":
            context[name] = rng.choice(["ecom", "pos", "keyed", "chip", "FR", "GB", "5411", "5999"])
        elif kind == "int":
            context[name] = rng.randint(0, 23)
        else:
            context[name] = (
                rng.choice([0.0, 1.0, 3.0]) if rng.random() < 0.3 else rng.uniform(0, 900)
            )
    context["probability"] = rng.random() ** 4
    context["score"] = min(int(context["probability"] * 1000), 999)
    for flag in ("list_watch_card", "list_vip_card", "list_allow_card", "list_block_card"):
        context[flag] = rng.random() < 0.01
    return context


def per_request(compiled: Any, n: int = 20_000) -> dict[str, float]:
    """Wall-clock figures, and the thread's CPU time (what a request costs the machine,
    steadier than wall time on a shared one)."""
    rng = random.Random(3)
    contexts = [random_context(rng) for _ in range(2_000)]
    for c in contexts[:500]:  # warm up
        compiled.evaluate(c)
    batches = []
    started, cpu = time.perf_counter(), time.thread_time()
    for start in range(0, n, 100):
        t = time.perf_counter()
        for i in range(start, start + 100):
            compiled.evaluate(contexts[i % 2_000])
        batches.append((time.perf_counter() - t) / 100)
    evaluate, evaluate_cpu = time.perf_counter() - started, time.thread_time() - cpu
    started, cpu = time.perf_counter(), time.thread_time()
    for i in range(n):
        apply_policy(contexts[i % 2_000], compiled, THRESHOLDS)
    policy, policy_cpu = time.perf_counter() - started, time.thread_time() - cpu
    batches.sort()
    return {
        "evaluate_us": round(evaluate / n * 1e6, 2),
        "evaluate_cpu_us": round(evaluate_cpu / n * 1e6, 2),
        "evaluate_p50_us": round(statistics.median(batches) * 1e6, 2),
        "evaluate_p99_us": round(batches[int(len(batches) * 0.99)] * 1e6, 2),
        "policy_us": round(policy / n * 1e6, 2),
        "policy_cpu_us": round(policy_cpu / n * 1e6, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def random_frame(rows: int, names: frozenset[str]) -> pl.DataFrame:
    rng = np.random.default_rng(11)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 30 * 86_400, rows))
    timestamps = pl.Series("timestamp", seconds * 1_000_000).cast(pl.Datetime("us", "UTC"))
    timestamps = timestamps.dt.offset_by(f"{int(start.timestamp())}s")
    fraud = rng.random(rows) < 0.01
    reported = np.where(rng.random(rows) < 0.7, seconds + rng.integers(0, 40 * 86_400, rows), -1)
    columns: dict[str, Any] = {
        "transaction_id": [f"t{i}" for i in range(rows)],
        "card_id": rng.integers(0, rows // 20, rows).astype(str),
        "amount": np.round(rng.lognormal(3.5, 1.2, rows), 2),
        "probability": rng.random(rows) ** 4,
        "is_fraud": fraud.astype(np.int8),
    }
    kinds = field_types()
    for name in sorted(names - set(columns)):
        kind = kinds.get(name)
        if name.startswith("list_"):
            columns[name] = rng.random(rows) < 0.01
        elif kind == "str":
            columns[name] = rng.choice(["ecom", "pos", "keyed", "chip", "FR", "GB", "5411"], rows)
        elif kind == "float":
            values = rng.uniform(0, 900, rows)
            values[rng.random(rows) < 0.02] = np.nan  # missing features exist
            columns[name] = values
    frame = pl.DataFrame(columns).with_columns(timestamps)
    label_at = pl.when((pl.Series(fraud)) & (pl.Series(reported) >= 0)).then(
        pl.col("timestamp") + pl.duration(seconds=pl.Series(np.maximum(reported - seconds, 0)))
    )
    return add_context_columns(frame.with_columns(label_at.alias("label_available_at")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    compiled = compile_rules(ruleset(args.rules))
    figures: dict[str, Any] = {"rules": len(compiled.rules), **per_request(compiled)}
    frame = random_frame(args.rows, compiled.names_used)
    cutoff = frame["timestamp"].max() + timedelta(microseconds=1)  # type: ignore[operator]
    started = time.perf_counter()
    policy_columns(frame, compiled, THRESHOLDS)
    figures["policy_columns_seconds"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    report = backtest_frame(frame, compiled, THRESHOLDS, cutoff)
    figures["backtest_seconds"] = round(time.perf_counter() - started, 2)
    figures["rows"] = report.transactions
    figures["days"] = len(report.days)
    figures["rows_per_s"] = round(report.transactions / figures["backtest_seconds"])
    print(
        f"{figures['rules']} rules: evaluate {figures['evaluate_us']} µs/request "
        f"(CPU {figures['evaluate_cpu_us']}, p99 {figures['evaluate_p99_us']}), policy "
        f"{figures['policy_us']} µs (CPU {figures['policy_cpu_us']}); backtest of "
        f"{figures['rows']:,} rows in {figures['backtest_seconds']} s"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
