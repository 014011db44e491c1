"""``POST /v1/predict`` and ``POST /v1/predict/batch``.

Bodies are read and validated straight from bytes (pydantic's Rust JSON parser) and
answered with orjson: on a one-core server this is most of the difference between a
generic model server and this one.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import TypeAdapter, ValidationError

from fraudops.schema import FALLBACKS
from fraudops.serving.deps import ApiKey
from fraudops.serving.schemas import (
    EXAMPLE_TRANSACTION,
    BatchIn,
    BatchOut,
    ErrorOut,
    PredictionOut,
    TransactionIn,
)
from fraudops.serving.service import NoModelError
from fraudops.serving.types import Receive

_TRANSACTIONS = TypeAdapter(list[TransactionIn])

router = APIRouter(prefix="/v1", tags=["scoring"], dependencies=[ApiKey])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing API key"},
    403: {"model": ErrorOut, "description": "Wrong API key"},
    413: {"model": ErrorOut, "description": "Body or batch too large"},
    422: {"model": ErrorOut, "description": "Invalid transaction (the field is named)"},
    429: {"model": ErrorOut, "description": "Too many wrong keys from this client (Retry-After)"},
    503: {"model": ErrorOut, "description": "No model loaded yet"},
}


def _body_schema(model: type, example: Any) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{model.__name__}"},
                    "example": example,
                }
            },
        }
    }


def validation_error(exc: ValidationError) -> HTTPException:
    detail = [
        {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
    ]
    return HTTPException(422, detail)


def check_body(body: bytes, limit: int) -> bytes:
    if len(body) > limit:
        raise HTTPException(413, f"request body is larger than {limit} bytes")
    if not body:
        raise HTTPException(422, "request body is empty; send a JSON object")
    return body


async def receive_body(receive: Receive, limit: int) -> bytes:
    """The whole body, stopping one byte past ``limit`` (enough to answer 413): a chunked
    upload without a Content-Length is never held in memory beyond the limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            break
    return b"".join(chunks)


async def read_body(request: Request) -> bytes:
    """The request's body through the same limited reader as the hot path."""
    limit = request.app.state.fraudops.settings.max_body_bytes
    return check_body(await receive_body(request.receive, limit), limit)


def _json(content: bytes, status: int = 200) -> Response:
    return Response(content, status_code=status, media_type="application/json")


def _to_dicts(transactions: list[TransactionIn]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = _TRANSACTIONS.dump_python(transactions)  # one call, in Rust
    for name, source in FALLBACKS.items():
        for row in rows:
            row[name] = row[name] or row[source]
    return rows


def score_one(state: Any, body: bytes, started: float) -> bytes:
    """One transaction's JSON body -> its prediction as JSON (``HTTPException`` on bad input)."""
    try:
        tx = TransactionIn.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
    try:
        result = state.service.score(_to_dicts([tx]))[0]
    except NoModelError as exc:
        raise HTTPException(503, str(exc)) from None
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return orjson.dumps(result)


def score_many(state: Any, body: bytes, started: float) -> bytes:
    """``{"transactions": [...]}`` -> ``{"predictions": [...]}`` in the same order."""
    try:
        batch = BatchIn.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
    limit = state.settings.max_batch_size
    if len(batch.transactions) > limit:
        raise HTTPException(
            413, f"batch has {len(batch.transactions)} transactions; the limit is {limit}"
        )
    ids = [tx.transaction_id for tx in batch.transactions]
    if len(set(ids)) != len(ids):
        raise HTTPException(422, "transaction_id values must be unique within a batch")
    try:
        predictions = state.service.score(_to_dicts(batch.transactions))
    except NoModelError as exc:
        raise HTTPException(503, str(exc)) from None
    latency = round((time.perf_counter() - started) * 1000, 3)
    for p in predictions:
        p["latency_ms"] = latency
    return orjson.dumps({"predictions": predictions, "latency_ms": latency})


# The two routes below document the endpoints and serve them when the app runs without
# its hot path (``serving.hot_path``), which answers the same requests through the same
# functions without FastAPI's per-request machinery.
@router.post(
    "/predict",
    response_model=PredictionOut,
    responses=ERRORS,
    openapi_extra=_body_schema(TransactionIn, EXAMPLE_TRANSACTION),
    summary="Score one transaction",
)
async def predict(request: Request) -> Response:
    started = time.perf_counter()
    body = await read_body(request)
    return _json(score_one(request.app.state.fraudops, body, started))


@router.post(
    "/predict/batch",
    response_model=BatchOut,
    responses=ERRORS,
    openapi_extra=_body_schema(BatchIn, {"transactions": [EXAMPLE_TRANSACTION]}),
    summary="Score up to max_batch_size transactions, answered in order",
)
async def predict_batch(request: Request) -> Response:
    started = time.perf_counter()
    body = await read_body(request)
    return _json(score_many(request.app.state.fraudops, body, started))
