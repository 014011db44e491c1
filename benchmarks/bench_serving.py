"""Serving throughput and latency: fraudops API vs `mlflow models serve` vs a bare ASGI handler.

    .venv/bin/python benchmarks/bench_serving.py [--duration 15] [--connections 16]
        [--skip-baselines]

Needs `wrk` (Debian package). Each server runs with one worker pinned to CPU 0; wrk runs
on CPU 1 with 16 connections. The fraudops requests are single raw transactions (online
features, calibrated score, decision and three reasons); `mlflow models serve` of the same
registered model gets the precomputed feature vector (it cannot compute features); the bare
handler parses the same feature vector with orjson and calls the same model. Last line: JSON
with rps, p50_ms, p99_ms, mlflow_rps, ratio_vs_mlflow, and more. With `redis-server` on
PATH it also compares `fraudops serve --workers 1` and `--workers 2` on the Redis online
store (`redis_workers_1_rps`, `redis_workers_2_rps`, `workers_2_vs_1`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KEY = "bench-api-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def start(
    cmd: list[str], env: dict[str, str], log: Path, cpus: str = "0"
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["taskset", "-c", cpus, *cmd],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def rss_mb(pid: int) -> float:
    for child in [pid, *children(pid)]:
        status = Path(f"/proc/{child}/status")
        if status.exists() and "python" in Path(f"/proc/{child}/cmdline").read_text():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    pids = [int(p) for p in out.stdout.split()]
    return pids + [g for p in pids for g in children(p)]


def wrk(url: str, script: Path, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


LUA_PREDICT = """
counter = 0
request = function()
  counter = counter + 1
  local card = counter % 5000
  local minute = math.floor(counter / 60) % 60
  local second = counter % 60
  local body = string.format('{"transaction_id":"bench-%d","timestamp":"2026-03-01T12:%02d:%02dZ","card_id":"card-%07d","merchant_id":"merch-%06d","terminal_id":"term-%06d-0","mcc":"5411","amount":%d.5,"channel":"pos","entry_mode":"chip","country":"FR","customer_lat":48.8,"customer_lon":2.3,"merchant_lat":48.9,"merchant_lon":2.4}', counter, minute, second, card, card % 400, card % 400, 5 + counter % 300)
  return wrk.format("POST", nil, {["Content-Type"]="application/json", ["X-API-Key"]="KEY"}, body)
end
"""


def lua_static(body: str, headers: dict[str, str]) -> str:
    header_lua = ", ".join(f'["{k}"]="{v}"' for k, v in headers.items())
    escaped = body.replace("\\", "\\\\").replace('"', '\\"')
    return f'wrk.method = "POST"\nwrk.body = "{escaped}"\nwrk.headers = {{{header_lua}}}\n'


BARE_APP = """
import orjson
from pathlib import Path
from fraudops.models.bundle import bundle_digest, load_bundle
import numpy as np
folder = Path({folder!r})
model = load_bundle(folder, bundle_digest(folder))
async def app(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    x = np.asarray([orjson.loads(body)["features"]], dtype=np.float64)
    p = float(model.predict_proba(x)[0])
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]}})
    await send({{"type": "http.response.body", "body": orjson.dumps({{"fraud_probability": p}})}})
"""


def workers_compared(
    fraudops: str, env: dict[str, str], work: Path, duration: int, connections: int
) -> dict[str, float]:
    """Throughput of ``fraudops serve --workers 1`` (CPU 0) and ``--workers 2`` (CPUs 0-1,
    shared with wrk) on the Redis online store, each on its own empty Redis database."""
    redis = shutil.which("redis-server")
    if redis is None:
        print(json.dumps({"stage": "workers", "skipped": "no redis-server on PATH"}), flush=True)
        return {}
    redis_port = free_port()
    server = subprocess.Popen(
        [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    results: dict[str, float] = {}
    script = work / "predict.lua"
    script.write_text(LUA_PREDICT.replace("KEY", KEY))
    try:
        for workers, cpus in ((1, "0"), (2, "0,1")):
            port = free_port()
            store = f"redis://127.0.0.1:{redis_port}/{workers}"
            api = start(
                [fraudops, "serve", "--port", str(port), "--workers", str(workers)],
                {**env, "FRAUDOPS_ONLINE_STORE_URI": store},
                work / f"api-workers-{workers}.log",
                cpus,
            )
            try:
                wait_ready(f"http://127.0.0.1:{port}/health/ready")
                time.sleep(5)  # every worker has loaded the model (readiness answers for one)
                wrk(f"http://127.0.0.1:{port}/v1/predict", script, 3, connections)
                measured = wrk(f"http://127.0.0.1:{port}/v1/predict", script, duration, connections)
            finally:
                stop(api)
            results[f"redis_workers_{workers}_rps"] = measured["rps"]
            results[f"redis_workers_{workers}_p99_ms"] = measured["p99_ms"]
            results[f"redis_workers_{workers}_errors"] = measured["errors"]
            print(json.dumps({"stage": f"workers={workers}", **measured}), flush=True)
    finally:
        server.terminate()
        server.wait(10)
    results["workers_2_vs_1"] = round(
        results["redis_workers_2_rps"] / results["redis_workers_1_rps"], 2
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument(
        "--skip-baselines",
        action="store_true",
        help="skip `mlflow models serve` and the bare ASGI handler (fraudops servers only)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="fraudops-bench-"))
    env = {
        **os.environ,
        "FRAUDOPS_HOME": str(work / "home"),
        "FRAUDOPS_API_KEY": KEY,
        "FRAUDOPS_RELOAD_INTERVAL_SECONDS": "0",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        # `mlflow models serve` execs `uvicorn` through a shell
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    fraudops = str(BIN / "fraudops")
    raw = str(work / "home" / "data" / "raw")
    subprocess.run(
        [
            fraudops,
            "data",
            "generate",
            "--customers",
            str(args.customers),
            "--days",
            "50",
            "--out",
            raw,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [fraudops, "train", "--data", raw, "--models", "lgbm"],
        env=env,
        check=True,
        capture_output=True,
    )
    results: dict[str, float] = {}
    try:
        # 1. fraudops API
        port = free_port()
        api = start(
            [fraudops, "serve", "--port", str(port), "--warm-from", raw], env, work / "api.log"
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/health/ready")
            script = work / "predict.lua"
            script.write_text(LUA_PREDICT.replace("KEY", KEY))
            wrk(f"http://127.0.0.1:{port}/v1/predict", script, 3, args.connections)  # warm-up
            api_result = wrk(
                f"http://127.0.0.1:{port}/v1/predict", script, args.duration, args.connections
            )
            results.update(api_result)
            results["rss_mb"] = round(rss_mb(api.pid), 1)  # with 35 days of warmed state
            # batch of 1,000: server-side time reported by the API. Its time follows the
            # load's clock (12:00-12:59): traffic arrives in time order, and a transaction
            # older than its card's last one takes the one-by-one path
            example = json.loads(httpx.get(f"http://127.0.0.1:{port}/openapi.json").text)["paths"][
                "/v1/predict"
            ]["post"]["requestBody"]["content"]["application/json"]["example"]
            batch_times = []
            with httpx.Client(timeout=30, headers={"X-API-Key": KEY}) as client:
                for round_ in range(12):
                    txs = [
                        {
                            **example,
                            "timestamp": f"2026-03-01T13:{round_:02d}:00Z",
                            "transaction_id": f"batch-{round_}-{i}",
                            "card_id": f"card-{i % 3000:07d}",
                            "amount": 5.0 + i % 400,
                        }
                        for i in range(1000)
                    ]
                    body = client.post(
                        f"http://127.0.0.1:{port}/v1/predict/batch", json={"transactions": txs}
                    ).json()
                    batch_times.append(body["latency_ms"])
            batch_times.sort()
            results["batch_1000_server_ms_p50"] = batch_times[len(batch_times) // 2]
            print(json.dumps({"stage": "fraudops", **results}), flush=True)
            # the feature vector the API computed, for the feature-only servers below
            model_info = httpx.get(
                f"http://127.0.0.1:{port}/v1/model", headers={"X-API-Key": KEY}
            ).json()
            names = [f["name"] for f in model_info["features"]]
        finally:
            stop(api)
        # the same API without the warmed in-process state (as with the Redis store, where
        # the state lives outside the API): the process's own footprint with the model
        port = free_port()
        cold = start([fraudops, "serve", "--port", str(port)], env, work / "api-cold.log")
        try:
            wait_ready(f"http://127.0.0.1:{port}/health/ready")
            with httpx.Client(timeout=30, headers={"X-API-Key": KEY}) as client:
                for i in range(200):
                    client.post(
                        f"http://127.0.0.1:{port}/v1/predict",
                        json={**example, "transaction_id": f"cold-{i}"},
                    )
            results["rss_mb_without_warm_state"] = round(rss_mb(cold.pid), 1)
        finally:
            stop(cold)
        results.update(workers_compared(fraudops, env, work, args.duration, args.connections))
        if args.skip_baselines:
            return finish(results)
        from fraudops.config import Settings
        from fraudops.models.registry import Registry
        from fraudops.models.tracking import configure_mlflow

        settings = Settings(home=work / "home")
        configure_mlflow(settings)
        registry = Registry.from_settings(settings)
        version = registry.version_by_alias("champion")
        bundle_dir, _ = registry.download_bundle(version, work / "bundle")  # type: ignore[arg-type]
        import polars as pl

        reference = pl.read_parquet(bundle_dir / "reference.parquet")
        vector = reference.select(names).row(0)
        # 2. mlflow models serve, same registered model
        port = free_port()
        mlflow_env = {**env, "MLFLOW_TRACKING_URI": settings.resolved_tracking_uri}
        served = start(
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{settings.model_name}@champion",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "1",
            ],
            mlflow_env,
            work / "mlflow.log",
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/ping")
            body = json.dumps({"dataframe_split": {"columns": names, "data": [list(vector)]}})
            script = work / "mlflow.lua"
            script.write_text(lua_static(body, {"Content-Type": "application/json"}))
            wrk(f"http://127.0.0.1:{port}/invocations", script, 3, args.connections)
            mlflow_result = wrk(
                f"http://127.0.0.1:{port}/invocations", script, args.duration, args.connections
            )
            results["mlflow_rps"] = mlflow_result["rps"]
            results["mlflow_p99_ms"] = mlflow_result["p99_ms"]
            print(json.dumps({"stage": "mlflow", **mlflow_result}), flush=True)
        finally:
            stop(served)
        # 3. the floor: a bare ASGI handler calling the same model
        port = free_port()
        (work / "bare_app.py").write_text(textwrap.dedent(BARE_APP.format(folder=str(bundle_dir))))
        bare = start(
            [
                str(BIN / "uvicorn"),
                "bare_app:app",
                "--port",
                str(port),
                "--no-access-log",
                "--app-dir",
                str(work),
                "--http",
                "httptools",
                "--loop",
                "uvloop",
            ],
            env,
            work / "bare.log",
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    httpx.post(
                        f"http://127.0.0.1:{port}/", json={"features": list(vector)}, timeout=2
                    )
                    break
                except httpx.HTTPError:
                    time.sleep(0.5)
            script = work / "bare.lua"
            script.write_text(
                lua_static(
                    json.dumps({"features": list(vector)}), {"Content-Type": "application/json"}
                )
            )
            bare_result = wrk(f"http://127.0.0.1:{port}/", script, args.duration, args.connections)
            results["bare_asgi_rps"] = bare_result["rps"]
            # the tail a server doing nothing but parse and predict has at these connections
            results["bare_asgi_p50_ms"] = bare_result["p50_ms"]
            results["bare_asgi_p99_ms"] = bare_result["p99_ms"]
        finally:
            stop(bare)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["ratio_vs_mlflow"] = round(results["rps"] / results["mlflow_rps"], 1)
    results["share_of_bare_asgi"] = round(results["rps"] / results["bare_asgi_rps"], 2)
    finish(results)


def finish(results: dict[str, float]) -> None:
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}))


if __name__ == "__main__":
    main()
