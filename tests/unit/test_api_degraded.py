"""Scoring while the online store is unreachable (a Redis URI nothing listens on): every
request answered, flagged and counted, the configured fail-open/closed decision standing
in for the rules and thresholds, lists still deciding, readiness 200 and saying why.
(The kill-under-load test on a real Redis is tests/integration/test_degraded_store.py.)"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_support import ADMIN, KEY, label, tx
from fastapi.testclient import TestClient

from fraudops.config import Settings
from fraudops.serving.app import create_app
from fraudops.serving.model_loader import ModelHolder

Client = Callable[..., TestClient]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def down_store_client(isolated_home: Any, trained_model: Any) -> Iterator[Client]:
    """Factory: an API whose online store is a Redis that does not answer."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = Settings(
            home=isolated_home,
            reload_interval_seconds=0,
            online_store_uri=f"redis://127.0.0.1:{closed_port()}/0",
            lists_uri="memory://",
            **overrides,
        )
        holder = ModelHolder(settings)
        client = TestClient(create_app(settings, holder=holder, poll_registry=False))
        client.__enter__()
        holder.install(trained_model, version=3)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_the_model_scores_on_context_features_when_the_store_is_down(
    down_store_client: Client,
) -> None:
    client = down_store_client()
    bodies = []
    for n in range(3):
        response = client.post("/v1/predict", json=tx(transaction_id=f"down-{n}"), headers=KEY)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
    for body in bodies:
        assert body["degraded"] is True
        assert "online store unavailable" in body["degraded_reason"]
        assert body["decided_by"]["stage"] == "threshold"
        # features computed without history never appear as reasons
        assert not any(
            "_count_" in r["feature"] or "_rate_" in r["feature"] for r in body["reasons"]
        )
    batch = client.post(
        "/v1/predict/batch",
        json={"transactions": [tx(transaction_id="down-b1"), tx(transaction_id="down-b2")]},
        headers=KEY,
    )
    assert batch.status_code == 200, batch.text
    assert all(p["degraded"] for p in batch.json()["predictions"])
    # a label is accepted (its log keeps it; the store gets it when it returns)
    accepted = client.post("/v1/labels", json=label(transaction_id="down-0"), headers=KEY)
    assert accepted.status_code == 200, accepted.text

    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert "ConnectionError" in ready.json()["degraded"]
    metrics = client.get("/metrics").text
    assert "fraudops_degraded_predictions_total 5.0" in metrics
    assert "fraudops_online_store_circuit_state 1.0" in metrics
    assert "fraudops_online_store_backlog 6.0" in metrics  # 5 transactions and 1 label


@pytest.mark.parametrize("policy", ["review", "decline", "approve"])
def test_a_fail_open_or_closed_policy_decides_but_lists_still_win(
    down_store_client: Client, policy: str
) -> None:
    client = down_store_client(degraded_decision=policy)
    body = client.post("/v1/predict", json=tx(transaction_id="p-1"), headers=KEY).json()
    assert body["decision"] == policy
    assert body["decided_by"] == {"stage": "degraded", "name": policy}
    assert body["degraded"] is True

    entry = {"list": "block", "kind": "card", "value": "card-stolen", "reason": "confirmed"}
    assert client.post("/v1/lists", json=entry, headers=ADMIN).status_code in (200, 201)
    blocked = client.post(
        "/v1/predict", json=tx(transaction_id="p-2", card_id="card-stolen"), headers=KEY
    ).json()
    assert (blocked["decision"], blocked["decided_by"]["stage"]) == ("decline", "block_list")


def test_an_unknown_degraded_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="degraded_decision"):
        Settings(degraded_decision="maybe")  # type: ignore[arg-type]
