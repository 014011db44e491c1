"""Offline features: fraudops on ~10M transactions vs straightforward pandas on ~1M.

    .venv/bin/python benchmarks/bench_features.py --customers 200000 --days 31 \\
        --pandas-customers 20000

1. Simulates the two datasets once (cached under --data-dir, not timed): ~10M rows
   (200,000 card holders x 31 days) and ~1M rows (20,000 x 31 days, same density per card).
2. In a child process, times ``fraudops.pipelines.features.build_features`` on the large
   dataset end to end: read the parquet partitions, compute every feature, write the
   feature table by day. Peak RSS is the child's.
3. In another child, times a plain pandas implementation of the same features on the small
   dataset (``groupby().rolling()`` for the windows, ``rolling().apply`` for distinct counts,
   ``groupby().diff()`` for "new" and "seconds since", a ``groupby().cumsum()`` of label
   events for the label-aware risk), then checks it equals fraudops on the same rows.

With ``--chunk-days N`` a third child builds the same table in time chunks of N days,
each read with the spec's look-back (``build_features(chunk_days=N)``), for its peak RSS
and time against the whole-history build.

Last line: JSON with rows, seconds, rows_per_s (end to end), ratio_vs_pandas (fraudops
end-to-end rows/s over pandas compute-only rows/s), peak_rss_mb and the details (with
``--chunk-days``: chunked_seconds, chunked_peak_rss_mb and their ratios to the whole).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

US_PER_DAY = 86_400_000_000
CAP_SECONDS = 30 * 86_400.0


def ensure_dataset(root: Path, customers: int, days: int, seed: int) -> str:
    from fraudops.data import store
    from fraudops.data.generate import SimulationConfig
    from fraudops.pipelines.data import generate_to_store

    target = root / f"raw-{customers}x{days}-s{seed}"
    if not store.exists(str(target / store.MANIFEST_NAME)):
        print(f"simulating {customers} card holders x {days} days into {target}", file=sys.stderr)
        generate_to_store(SimulationConfig(customers=customers, days=days, seed=seed), str(target))
    return str(target)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the pandas baseline ---------------------------------------------------------------


def pandas_features(tx: pd.DataFrame) -> pd.DataFrame:
    """The fraudops features, written the straightforward pandas way."""
    df = tx.sort_values(["timestamp", "transaction_id"], kind="stable").reset_index(drop=True)
    df["terminal_id"] = df["terminal_id"].fillna(df["merchant_id"])
    defaults = {"mcc": "0000", "channel": "pos", "entry_mode": "unknown", "country": "ZZ"}
    df = df.fillna(defaults)
    n = len(df)
    out: dict[str, Any] = {}

    positions: dict[str, np.ndarray] = {}

    def rolled(by: str, window: str, column: str, how: Any) -> np.ndarray:
        """``df.groupby(by).rolling(window)[column]`` aggregated by ``how``, in row order."""
        if by not in positions:
            # groupby().rolling() returns rows group by group, in row order within a group
            positions[by] = np.concatenate(list(df.groupby(by, sort=False).indices.values()))
        roller = df.groupby(by, sort=False).rolling(window, on="timestamp")[column]
        result = roller.apply(how, raw=True) if callable(how) else getattr(roller, how)()
        values = np.empty(n)
        values[positions[by]] = result.to_numpy(dtype=float)
        return values

    for label, window in (("1h", "1h"), ("24h", "24h"), ("7d", "7D"), ("30d", "30D")):
        for stat, how in (("tx_count", "count"), ("amount_sum", "sum"), ("amount_mean", "mean")):
            out[f"card_{stat}_{label}"] = rolled("card_id", window, "amount", how)
        out[f"card_amount_max_{label}"] = rolled("card_id", window, "amount", "max")
    out["card_amount_ratio_mean_30d"] = df["amount"].to_numpy() / out["card_amount_mean_30d"]
    gap = df.groupby("card_id", sort=False)["timestamp"].diff().dt.total_seconds()
    out["card_seconds_since_prev"] = gap.fillna(CAP_SECONDS).clip(upper=CAP_SECONDS).to_numpy()
    for column, name in (
        ("merchant_id", "card_distinct_merchants_24h"),
        ("country", "card_distinct_countries_24h"),
        ("device_id", "card_distinct_devices_24h"),
    ):
        df["_code"] = df[column].astype("category").cat.codes.astype(float)
        out[name] = rolled("card_id", "24h", "_code", lambda a: len(set(a[a >= 0].tolist())))
    for column, name in (
        ("merchant_id", "card_new_merchant_30d"),
        ("country", "card_new_country_30d"),
        ("device_id", "card_new_device_30d"),
    ):
        since = df.groupby(["card_id", column], sort=False)["timestamp"].diff()
        new = (since.isna() | (since >= pd.Timedelta(days=30))) & df[column].notna()
        out[name] = new.to_numpy(dtype=float)
    df["_ecom"] = (df["channel"] == "ecom").astype(float)
    df["_small"] = (df["amount"] < 2.0).astype(float)
    out["card_ecom_tx_count_24h"] = rolled("card_id", "24h", "_ecom", "sum")
    out["card_small_amount_count_1h"] = rolled("card_id", "1h", "_small", "sum")

    ts = df["timestamp"].dt.as_unit("us").astype("int64").to_numpy()
    epoch = pd.Timestamp(0, tz="UTC")
    available = df["label_available_at"].fillna(epoch).dt.as_unit("us").astype("int64").to_numpy()
    has_label = (df["is_fraud"] == 1).to_numpy() & df["label_available_at"].notna().to_numpy()
    known = np.maximum(available, ts)
    seq = np.arange(n)
    for entity in ("terminal", "merchant"):
        key = df[f"{entity}_id"].to_numpy()
        for days in (1, 7, 30):
            window = days * US_PER_DAY
            count = rolled(f"{entity}_id", f"{days}D", "amount", "count") - 1
            frauds = has_label & (known < ts + window)
            plus = pd.DataFrame(
                {
                    "key": key[frauds],
                    "time": known[frauds],
                    "rank": np.where(known[frauds] == ts[frauds], 2 * seq[frauds] + 2, 0),
                    "delta": 1,
                }
            )
            minus = pd.DataFrame(
                {"key": key[frauds], "time": ts[frauds] + window, "rank": 0, "delta": -1}
            )
            rows = pd.DataFrame({"key": key, "time": ts, "rank": 2 * seq + 1, "delta": 0})
            events = pd.concat([plus, minus, rows], ignore_index=True)
            events = events.sort_values(["key", "time", "rank"], kind="stable")
            events["found"] = events.groupby("key", sort=False)["delta"].cumsum()
            found = events[events["delta"] == 0].sort_values("rank")["found"].to_numpy(float)
            out[f"{entity}_tx_count_{days}d"] = count
            out[f"{entity}_fraud_rate_{days}d"] = np.divide(
                found, count, out=np.zeros(n), where=count > 0
            )
    hour = df["timestamp"].dt.hour
    out["tx_amount"] = df["amount"].to_numpy()
    out["tx_amount_log1p"] = np.log1p(df["amount"].to_numpy())
    out["tx_hour"] = hour.to_numpy(dtype=float)
    out["tx_is_night"] = (hour < 6).to_numpy(dtype=float)
    out["tx_is_weekend"] = (df["timestamp"].dt.dayofweek >= 5).to_numpy(dtype=float)
    for channel in ("pos", "contactless", "ecom", "atm"):
        out[f"channel_{channel}"] = (df["channel"] == channel).to_numpy(dtype=float)
    for mode in ("keyed", "magstripe"):
        out[f"entry_mode_{mode}"] = (df["entry_mode"] == mode).to_numpy(dtype=float)
    digits = df["mcc"].where(df["mcc"].str.fullmatch(r"[0-9]{1,9}"))
    out["mcc_code"] = pd.to_numeric(digits, errors="coerce").fillna(-1).to_numpy()
    lat1, lon1 = np.radians(df["customer_lat"]), np.radians(df["customer_lon"])
    lat2, lon2 = np.radians(df["merchant_lat"]), np.radians(df["merchant_lon"])
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    distance = 2 * 6371.0 * np.arcsin(np.minimum(np.sqrt(a), 1.0))
    out["distance_from_home_km"] = np.nan_to_num(distance.to_numpy(), nan=-1.0)
    return pd.DataFrame(out)


# --- children ----------------------------------------------------------------------------


def child_fraudops(source: str, chunk_days: int | None = None) -> dict[str, Any]:
    from fraudops.pipelines.features import build_features

    with tempfile.TemporaryDirectory() as out:
        summary = build_features(source, out, chunk_days=chunk_days)
    return {**summary, "peak_rss_mb": round(peak_rss_mb())}


def child_pandas(source: str) -> dict[str, Any]:
    from fraudops.data import store
    from fraudops.features.offline import build_offline_features
    from fraudops.features.spec import feature_names

    transactions = store.read_dataset(source)
    frame = transactions.to_pandas()
    started = time.perf_counter()
    baseline = pandas_features(frame)
    pandas_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ours = build_offline_features(transactions)
    fraudops_seconds = time.perf_counter() - started
    names = feature_names()
    ours_values = ours.select(names).to_numpy()
    theirs = baseline[names].to_numpy()
    close = np.isclose(ours_values, theirs, rtol=1e-9, atol=1e-6)
    differing = [names[j] for j in np.flatnonzero(~close.all(axis=0))]
    return {
        "rows": len(frame),
        "pandas_seconds": round(pandas_seconds, 2),
        "fraudops_seconds_same_rows": round(fraudops_seconds, 2),
        "features_equal": not differing,
        "features_differing": differing,
        "peak_rss_mb": round(peak_rss_mb()),
    }


def run_child(kind: str, source: str, chunk_days: int | None = None) -> dict[str, Any]:
    chunking = [] if chunk_days is None else ["--chunk-days", str(chunk_days)]
    completed = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--source", source, *chunking],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--pandas-customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "fraudops-bench"))
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument(
        "--chunk-days",
        type=int,
        help="also build in time chunks of this many days (plus the spec's look-back)",
    )
    parser.add_argument("--child", choices=["fraudops", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "fraudops":
            print(json.dumps(child_fraudops(args.source, args.chunk_days), default=str))
        else:
            print(json.dumps(child_pandas(args.source), default=str))
        return

    root = Path(args.data_dir)
    large = ensure_dataset(root, args.customers, args.days, args.seed)
    small = (
        None
        if args.skip_pandas
        else ensure_dataset(root, args.pandas_customers, args.days, args.seed)
    )
    ours = run_child("fraudops", large)
    rows_per_s = ours["rows"] / ours["seconds"]
    result: dict[str, Any] = {
        "rows": ours["rows"],
        "seconds": ours["seconds"],
        "rows_per_s": round(rows_per_s),
        "read_seconds": ours["read_seconds"],
        "compute_seconds": ours["compute_seconds"],
        "write_seconds": ours["write_seconds"],
        "peak_rss_mb": ours["peak_rss_mb"],
        "features": ours["features"],
    }
    if small is not None:
        baseline = run_child("pandas", small)
        pandas_rows_per_s = baseline["rows"] / baseline["pandas_seconds"]
        result.update(
            pandas_rows=baseline["rows"],
            pandas_seconds=baseline["pandas_seconds"],
            pandas_rows_per_s=round(pandas_rows_per_s),
            pandas_equal=baseline["features_equal"],
            pandas_differing=baseline["features_differing"],
            fraudops_seconds_on_pandas_rows=baseline["fraudops_seconds_same_rows"],
            ratio_vs_pandas=round(rows_per_s / pandas_rows_per_s, 1),
            ratio_vs_pandas_compute_only=round(
                (ours["rows"] / ours["compute_seconds"]) / pandas_rows_per_s, 1
            ),
        )
    else:
        result["ratio_vs_pandas"] = None
    if args.chunk_days is not None:
        chunked = run_child("fraudops", large, args.chunk_days)
        result.update(
            chunk_days=args.chunk_days,
            chunked_seconds=chunked["seconds"],
            chunked_peak_rss_mb=chunked["peak_rss_mb"],
            chunked_time_ratio=round(chunked["seconds"] / ours["seconds"], 2),
            chunked_memory_ratio=round(chunked["peak_rss_mb"] / ours["peak_rss_mb"], 2),
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
