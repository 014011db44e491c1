"""The scoring API with a real model: fields, decisions, reasons, errors, auth, reloads."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import KEY, tx
from fastapi.testclient import TestClient

from fraudops.config import Settings
from fraudops.schema import TRANSACTION_COLUMNS
from fraudops.serving.app import create_app
from fraudops.serving.model_loader import ModelHolder
from fraudops.serving.schemas import TransactionIn


def test_request_model_mirrors_the_canonical_schema() -> None:
    assert tuple(TransactionIn.model_fields) == TRANSACTION_COLUMNS


def test_predict_returns_the_contract_fields(client: TestClient, trained_model: Any) -> None:
    response = client.post("/v1/predict", json=tx(), headers=KEY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "transaction_id",
        "fraud_probability",
        "score",
        "decision",
        "decided_by",
        "rules",
        "reasons",
        "model",
        "degraded",
        "degraded_reason",
        "latency_ms",
    }
    assert body["degraded"] is False
    assert body["degraded_reason"] is None
    # no rules file and no list entries: the model's thresholds decide
    assert body["decided_by"] == {"stage": "threshold", "name": body["decision"]}
    assert body["rules"] == []
    assert body["model"] == {"name": "fraud-detector", "version": 7, "alias": "champion"}
    assert 0 <= body["fraud_probability"] <= 1
    assert body["score"] == min(int(body["fraud_probability"] * 1000), 999)
    reasons = body["reasons"]
    assert len(reasons) == 3
    contributions = [r["contribution"] for r in reasons]
    assert contributions == sorted(contributions, reverse=True)
    assert all(r["text"] and r["feature"] for r in reasons)


def test_decisions_follow_the_thresholds(client: TestClient) -> None:
    seen = set()
    # a card-testing burst followed by large foreign e-commerce purchases gets riskier
    for i in range(12):
        amount = 1.0 if i < 8 else 1500.0 + i
        body = client.post(
            "/v1/predict",
            json=tx(
                transaction_id=f"burst-{i}",
                amount=amount,
                channel="ecom",
                entry_mode="ecom",
                device_id="new-device",
                country="NG",
                merchant_lat=None,
                merchant_lon=None,
                timestamp=f"2026-03-01T12:{i:02d}:00Z",
            ),
            headers=KEY,
        ).json()
        p = body["fraud_probability"]
        expected = "decline" if p >= 0.5 else "review" if p >= 0.05 else "approve"
        assert body["decision"] == expected
        seen.add(body["decision"])
    assert len(seen) >= 2


def test_batch_keeps_order_and_limits(client: TestClient) -> None:
    batch = [tx(transaction_id=f"b-{i}", amount=10.0 + i) for i in range(20)]
    response = client.post("/v1/predict/batch", json={"transactions": batch}, headers=KEY)
    assert response.status_code == 200
    ids = [p["transaction_id"] for p in response.json()["predictions"]]
    assert ids == [f"b-{i}" for i in range(20)]
    too_many = [tx(transaction_id=f"c-{i}") for i in range(51)]
    response = client.post("/v1/predict/batch", json={"transactions": too_many}, headers=KEY)
    assert response.status_code == 413
    assert "limit is 50" in response.json()["detail"]
    dup = client.post("/v1/predict/batch", json={"transactions": [tx(), tx()]}, headers=KEY)
    assert dup.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (tx(amount=-3), "amount"),
        (tx(amount=1e12), "amount"),
        (tx(timestamp="yesterday"), "timestamp"),
        (tx(timestamp="1900-01-01T00:00:00Z"), "timestamp"),
        (tx(channel="telepathy"), "channel"),
        (tx(mcc="54x1"), "mcc"),
        (tx(amount_eur=3), "amount_eur"),
        ({k: v for k, v in tx().items() if k != "card_id"}, "card_id"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client: TestClient, body: dict, field: str) -> None:
    response = client.post("/v1/predict", json=body, headers=KEY)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])


def test_malformed_json_and_oversized_bodies(client: TestClient, settings: Settings) -> None:
    response = client.post("/v1/predict", content=b"{not json", headers=KEY)
    assert response.status_code == 422
    big = b"{" + b" " * settings.max_body_bytes + b"}"
    response = client.post("/v1/predict", content=big, headers=KEY)
    assert response.status_code == 413
    # chunked, without a Content-Length: the limit holds while the body is read
    chunks = iter([b"{", b" " * settings.max_body_bytes, b"}"])
    response = client.post("/v1/predict", content=chunks, headers=KEY)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    empty = client.post("/v1/predict", content=b"", headers=KEY)
    assert empty.status_code == 422
    assert "empty" in empty.json()["detail"]


def test_auth_refusals(client: TestClient) -> None:
    missing = client.post("/v1/predict", json=tx())
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "APIKey"
    assert missing.json() == {"detail": "missing X-API-Key header"}
    assert client.post("/v1/predict", json=tx(), headers={"X-API-Key": "nope"}).status_code == 403
    assert client.get("/v1/model").status_code == 401
    # the API key is not the admin key
    assert client.post("/admin/reload", headers=KEY).status_code == 403


def test_labels_feed_the_online_risk_features(client: TestClient) -> None:
    first = tx(transaction_id="risk-1", terminal_id="term-x", timestamp="2026-03-01T10:00:00Z")
    client.post("/v1/predict", json=first, headers=KEY)
    label = {
        "transaction_id": "risk-1",
        "label": "chargeback",
        "reported_at": "2026-03-01T11:00:00Z",
    }
    response = client.post("/v1/labels", json=label, headers=KEY)
    assert response.status_code == 200
    assert response.json() == {
        "transaction_id": "risk-1",
        "accepted": True,
        "known_transaction": True,
    }
    engine = client.app.state.fraudops.engine  # type: ignore[attr-defined]
    from fraudops.features.spec import feature_names

    names = feature_names()
    later = engine.process(
        tx(
            transaction_id="risk-2",
            terminal_id="term-x",
            card_id="other",
            timestamp="2026-03-01T12:00:00Z",
        )
    )
    fraud_features = [n for n in names if "terminal" in n and "fraud" in n]
    assert fraud_features
    assert max(later[names.index(n)] for n in fraud_features) > 0
    unknown = client.post("/v1/labels", json={**label, "transaction_id": "never-seen"}, headers=KEY)
    assert unknown.json()["known_transaction"] is False


def test_readiness_waits_for_a_model(settings: Settings, trained_model: Any) -> None:
    holder = ModelHolder(settings)
    with TestClient(create_app(settings, holder=holder, poll_registry=False)) as c:
        response = c.get("/health/ready")
        assert response.status_code == 503
        assert "no model loaded" in response.json()["problems"]
        assert c.post("/v1/predict", json=tx(), headers=KEY).status_code == 503
        holder.install(trained_model, version=1)
        assert c.get("/health/ready").status_code == 200
        assert c.get("/health/live").status_code == 200


def test_model_endpoint_and_metrics(client: TestClient) -> None:
    client.post("/v1/predict", json=tx(), headers=KEY)
    info = client.get("/v1/model", headers=KEY).json()
    assert info["version"] == 7
    assert set(info["thresholds"]) == {"review", "decline"}
    assert len(info["features"]) > 20
    metrics = client.get("/metrics").text
    assert (
        'fraudops_http_requests_total{endpoint="/v1/predict",method="POST",status="200"}' in metrics
    )
    assert 'fraudops_model_info{alias="champion",name="fraud-detector",version="7"} 1.0' in metrics
    assert "fraudops_predictions_total" in metrics
    assert "fraudops_online_store_duration_seconds_bucket" in metrics


def test_prediction_log_is_flushed_on_shutdown(settings: Settings, trained_model: Any) -> None:
    from fraudops.data import store

    holder = ModelHolder(settings)
    with TestClient(create_app(settings, holder=holder, poll_registry=False)) as c:
        holder.install(trained_model, version=1)
        for i in range(5):
            c.post("/v1/predict", json=tx(transaction_id=f"log-{i}"), headers=KEY)
    logged = store.read_chunks(settings.dataset_uri("predictions"))
    assert sorted(logged["transaction_id"].to_list()) == [f"log-{i}" for i in range(5)]
    assert {"fraud_probability", "decision", "model_version", "tx_amount"} <= set(logged.columns)
