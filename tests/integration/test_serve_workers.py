"""``fraudops serve --workers 2`` on a real Redis: two processes on one port behave as one
service. One card's transactions, each on a new connection, are spread by the kernel
over both workers; every answer's velocity feature counts all of them, whichever worker
scored the earlier ones (each worker's own metrics port says who answered what)."""

from __future__ import annotations

import itertools
import os
import re
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from conftest import free_port
from linear_models import linear_fraud_model
from registry_support import open_registry, register

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import ApiProcess

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PREDICTIONS = re.compile(r'^fraudops_predictions_total\{decision="[a-z]+"\} ([0-9.e+]+)$', re.M)


def linear_home(home: Path) -> Path:
    """An embedded home whose champion is the linear model (reasons lead with
    ``card_tx_count_24h``)."""
    from fraudops.config import Settings

    registry = open_registry(Settings(home=home))
    version = register(registry, linear_fraud_model(), home / "bundles")
    registry.set_champion(version, "test")
    return home


def two_free_ports() -> int:
    """A port ``p`` with ``p + 1`` free too (worker ``i`` serves metrics on ``p + i``)."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def model_loaded(metrics_port: int) -> bool:
    try:
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return False
    return "fraudops_model_loaded 1.0" in text


def predictions(metrics_port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    return sum(float(v) for v in PREDICTIONS.findall(text))


def transaction(tx_id: str, card: str, minutes: int) -> dict[str, Any]:
    return {
        "transaction_id": tx_id,
        "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
        "card_id": card,
        "merchant_id": "m-1",
        "terminal_id": "t-1",
        "amount": 25.0,
    }


def test_two_workers_count_one_cards_transactions_together(
    redis_server: str, api_process: Callable[..., ApiProcess], tmp_path: Path
) -> None:
    home = linear_home(tmp_path / "home")
    metrics_port = two_free_ports()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")},
        "FRAUDOPS_HOME": str(home),
        "FRAUDOPS_ONLINE_STORE_URI": redis_server,
        "FRAUDOPS_METRICS_PORT": str(metrics_port),
        "FRAUDOPS_RELOAD_INTERVAL_SECONDS": "0",
    }
    api = api_process(env, None, "--workers", "2")
    api.wait_ready()
    ports = (metrics_port, metrics_port + 1)
    deadline = time.monotonic() + 120
    while not all(model_loaded(p) for p in ports):  # readiness answers for one worker
        assert time.monotonic() < deadline, api.log.read_text()[-3000:]
        time.sleep(0.5)
    card = f"card-{uuid.uuid4().hex[:8]}"
    served_by = []
    for k in range(24):
        before = [predictions(p) for p in ports]
        with httpx.Client(base_url=api.url, headers={"X-API-Key": api.api_key}) as client:
            answer = client.post("/v1/predict", json=transaction(f"{card}-{k}", card, k))
        assert answer.status_code == 200, answer.text
        after = [predictions(p) for p in ports]
        served_by.append([a - b for a, b in zip(after, before, strict=True)].index(1.0))
        reasons = {r["feature"]: r["value"] for r in answer.json()["reasons"]}
        assert reasons["card_tx_count_24h"] == k + 1  # every earlier one, either worker's
    assert set(served_by) == {0, 1}, served_by  # both workers answered
    switches = sum(a != b for a, b in itertools.pairwise(served_by))
    assert switches >= 2, served_by  # and the card went back and forth between them
