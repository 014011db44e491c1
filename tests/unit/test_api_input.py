"""Bad input is a 4xx naming the field, never a 500: time limits, strict types, and bodies
that are too large even when they arrive in chunks without a Content-Length."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from api_support import KEY, label, tx
from fastapi.testclient import TestClient

from fraudops.config import Settings


def _errors_name(response: Any, *loc: str | int) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(error["loc"][-len(loc) :] == list(loc) for error in detail), detail


@pytest.mark.parametrize(
    "timestamp",
    [
        "0001-01-01T00:00:00+01:00",  # converting to UTC leaves datetime's range
        "9999-12-31T23:59:59-01:00",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "2099-12-31T23:30:00-01:00",  # 2100-01-01T00:30Z
    ],
)
def test_times_outside_the_bounds_are_a_422_naming_the_field(
    client: TestClient, timestamp: str
) -> None:
    one = client.post("/v1/predict", json=tx(timestamp=timestamp), headers=KEY)
    _errors_name(one, "body", "timestamp")
    assert "between 2000-01-01 and 2100-01-01" in one.json()["detail"][0]["msg"]
    batch = client.post(
        "/v1/predict/batch",
        json={"transactions": [tx(transaction_id="ok"), tx(timestamp=timestamp)]},
        headers=KEY,
    )
    _errors_name(batch, "body", "transactions", 1, "timestamp")
    labelled = client.post("/v1/labels", json=label(reported_at=timestamp), headers=KEY)
    _errors_name(labelled, "body", "reported_at")
    assert "reported_at must be between" in labelled.json()["detail"][0]["msg"]


def test_times_at_the_bounds_are_accepted(client: TestClient) -> None:
    # 2000-01-01T00:30:00+01:00 is 1999-12-31T23:30Z: the offset is applied before the check
    assert client.post("/v1/labels", json=label(reported_at="2000-01-01T00:00:00Z"), headers=KEY)
    late = client.post(
        "/v1/labels", json=label(reported_at="2099-12-31T23:59:59+00:00"), headers=KEY
    )
    assert late.json() == {"transaction_id": "tx-1", "accepted": True, "known_transaction": False}
    early = client.post(
        "/v1/labels", json=label(reported_at="2000-01-01T00:30:00+01:00"), headers=KEY
    )
    _errors_name(early, "body", "reported_at")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": True}, "amount"),
        ({"amount": "12.5"}, "amount"),
        ({"merchant_lon": False}, "merchant_lon"),
        ({"customer_lat": "48.8"}, "customer_lat"),
        ({"timestamp": 0}, "timestamp"),
        ({"timestamp": 1772368496}, "timestamp"),
        ({"card_id": 42}, "card_id"),
    ],
)
def test_lax_types_are_refused(client: TestClient, overrides: dict[str, Any], field: str) -> None:
    response = client.post("/v1/predict", json=tx(**overrides), headers=KEY)
    _errors_name(response, "body", field)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"reported_at": 0}, "reported_at"), ({"transaction_id": 7}, "transaction_id")],
)
def test_lax_label_types_are_refused(
    client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    _errors_name(client.post("/v1/labels", json=label(**overrides), headers=KEY), "body", field)


def test_an_integer_amount_is_still_a_number(client: TestClient) -> None:
    response = client.post("/v1/predict", json=tx(amount=12), headers=KEY)
    assert response.status_code == 200, response.text


def test_the_time_bounds_are_in_the_openapi_schema(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for model, field in (("TransactionIn", "timestamp"), ("LabelIn", "reported_at")):
        description = schemas[model]["properties"][field]["description"]
        assert "between 2000-01-01 and 2100-01-01" in description


async def _post_chunks(app: Any, path: str, chunk: bytes, count: int) -> tuple[int, bytes, int]:
    """POST a chunked body (no Content-Length) straight to the ASGI app; returns the status,
    the response body and how many chunks the app pulled before answering. (TestClient
    reads a request body in full before the app sees it, so it cannot show this.)"""
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < count}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"x-api-key", KEY["X-API-Key"].encode()),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body, pulled


@pytest.mark.parametrize("path", ["/v1/labels", "/v1/predict", "/v1/predict/batch"])
def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
    client: TestClient, settings: Settings, path: str
) -> None:
    chunk = b"x" * 100_000
    assert client.portal is not None
    # 20 MB, ten times the limit
    status, body, pulled = client.portal.call(_post_chunks, client.app, path, chunk, 200)
    assert status == 413
    assert orjson.loads(body) == {
        "detail": f"request body is larger than {settings.max_body_bytes} bytes"
    }
    # reading stopped at the first chunk past the limit, not at the end of the body
    assert pulled == settings.max_body_bytes // len(chunk) + 1


def test_labels_refuse_a_large_content_length_before_reading(client: TestClient) -> None:
    big = b"{" + b" " * 2_000_001 + b"}"
    response = client.post("/v1/labels", content=big, headers=KEY)
    assert response.status_code == 413
