"""The API on a real Redis that is killed under load: every request is still answered
(degraded, flagged, counted), readiness stays 200 and says why, the breaker logs each
state change once, and the transactions scored while Redis was down reach it when it
returns, so the cards' velocity features count them."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fraudops.config import Settings
from fraudops.features.online import OnlineFeatureEngine, RedisOnlineStore
from fraudops.features.spec import feature_names
from fraudops.serving.app import create_app
from fraudops.serving.model_loader import ModelHolder
from fraudops.serving.schemas import EXAMPLE_TRANSACTION
from linear_models import linear_fraud_model
from skip_policy import require_executable

pytestmark = pytest.mark.integration

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
KEY = {"X-API-Key": "dev-api-key"}
CARDS = 4


class DurableRedis:
    """A redis-server with an always-fsynced append-only file, so a restart after SIGKILL
    comes back with the state it had (as a production Redis with AOF would)."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_executable("redis-server", "apt-get install redis-server")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"

    @contextmanager
    def run(self) -> Iterator[subprocess.Popen[bytes]]:
        command = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
                ).stdout.strip()
                != b"PONG"
            ):
                assert process.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server never answered"
                time.sleep(0.05)
            yield process
        finally:
            process.kill()
            process.wait(10)


def transaction(card: int, n: int) -> dict[str, Any]:
    return {
        **EXAMPLE_TRANSACTION,
        "transaction_id": f"deg-{card}-{n}",
        "card_id": f"deg-card-{card}",
        "timestamp": (T0 + timedelta(seconds=n)).isoformat(),
    }


@pytest.fixture
def redis_home(tmp_path: Path) -> DurableRedis:
    return DurableRedis(tmp_path)


def test_redis_killed_under_load_degrades_then_catches_up(
    redis_home: DurableRedis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fraudops.features.online.resilient")
    settings = Settings(
        home=tmp_path / "home",
        online_store_uri=redis_home.url,
        reload_interval_seconds=0,
        online_store_probe_seconds=0.2,
    )
    holder = ModelHolder(settings)
    holder.install(linear_fraud_model(), version=1)
    statuses: Counter[int] = Counter()
    degraded: Counter[bool] = Counter()
    sent = [0] * CARDS
    stop = threading.Event()
    readiness: list[dict[str, Any]] = []

    with (
        redis_home.run() as first_redis,
        TestClient(create_app(settings, holder=holder, poll_registry=False)) as client,
    ):

        def load(card: int) -> None:
            while not stop.is_set():
                response = client.post(
                    "/v1/predict", json=transaction(card, sent[card]), headers=KEY
                )
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    sent[card] += 1
                    degraded[response.json()["degraded"]] += 1

        threads = [threading.Thread(target=load, args=(c,)) for c in range(CARDS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            first_redis.send_signal(signal.SIGKILL)
            first_redis.wait(10)
            time.sleep(1.5)
            outage = client.get("/health/ready")
            readiness.append({"code": outage.status_code, **outage.json()})
            # a chargeback for a transaction scored while Redis is down
            charged = f"deg-0-{sent[0] - 1}"
            label = {
                "transaction_id": charged,
                "label": "chargeback",
                "reported_at": T0.isoformat(),
            }
            assert client.post("/v1/labels", json=label, headers=KEY).status_code == 200
            with redis_home.run():
                deadline = time.monotonic() + 20
                while client.get("/health/ready").json()["status"] != "ready":
                    assert time.monotonic() < deadline, "the API never left degraded mode"
                    time.sleep(0.1)
                time.sleep(0.5)
                stop.set()
                for thread in threads:
                    thread.join(30)
                metrics = client.get("/metrics").text

                # every transaction answered reached Redis: the next one counts them all
                probe = OnlineFeatureEngine(RedisOnlineStore(redis_home.url))
                column = feature_names().index("card_tx_count_24h")
                for card in range(CARDS):
                    x = probe.process(transaction(card, sent[card]))
                    assert x[column] == sent[card] + 1, f"card {card}: {sent[card]} answered"
                # and the label reached the terminal's frauds after its transaction
                frauds = probe.store.client.keys("*:terminal_id:*:fraud")
                assert any(probe.store.client.hexists(key, charged) for key in frauds), frauds
        finally:
            stop.set()

    assert set(statuses) == {200}, statuses
    assert degraded[True] > 0, degraded
    assert degraded[False] > 0, degraded
    assert readiness[0]["code"] == 200
    assert readiness[0]["status"] == "degraded"
    assert "online store" in readiness[0]["degraded"]
    served = [
        line
        for line in metrics.splitlines()
        if line.startswith("fraudops_degraded_predictions_total")
    ]
    assert float(served[0].split()[-1]) == degraded[True]
    assert "fraudops_online_store_circuit_state 0.0" in metrics
    # one line per state change (open, half-open, closed; a restarting Redis may flap once
    # more), none per request
    changes = [
        r.getMessage() for r in caplog.records if r.name == "fraudops.features.online.resilient"
    ]
    assert "circuit open" in changes[0], changes
    assert "circuit closed" in changes[-1], changes
    assert len(changes) <= 6, changes
