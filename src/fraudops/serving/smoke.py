"""The smoke check of a deployed API (``fraudops smoke``, run by CD after each deploy).

It takes an ``httpx.Client`` so the same checks run against a real URL and, in tests,
against the ASGI app itself (Starlette's ``TestClient`` is an ``httpx.Client``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from fraudops.models.decision import DECISIONS
from fraudops.serving.schemas import EXAMPLE_TRANSACTION


@dataclass(frozen=True)
class SmokeCheck:
    name: str
    ok: bool
    detail: str


def smoke_client(url: str, api_key: str, timeout: float = 10.0) -> httpx.Client:
    """A client for a running API at ``url`` with the API key set."""
    return httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers={"X-API-Key": api_key})


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def wait_ready(
    client: httpx.Client,
    timeout: float,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Poll ``/health/ready`` until it answers 200 or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    ready = client.get("/health/ready")
    while ready.status_code != 200 and time.monotonic() < deadline:
        sleep(poll_seconds)
        ready = client.get("/health/ready")
    return ready


def run_smoke(
    client: httpx.Client, ready_timeout: float = 60.0, poll_seconds: float = 1.0
) -> list[SmokeCheck]:
    """Liveness, readiness (waiting up to ``ready_timeout``), one prediction with a valid
    probability, decision and reasons, and the served model version matching the one
    that answered. A connection failure is a failed check, not an exception."""
    checks: list[SmokeCheck] = []
    try:
        live = client.get("/health/live")
        checks.append(SmokeCheck("live", live.status_code == 200, str(live.status_code)))
        ready = wait_ready(client, ready_timeout, poll_seconds)
        checks.append(
            SmokeCheck("ready", ready.status_code == 200, f"{ready.status_code} {ready.text[:80]}")
        )
        tx = {**EXAMPLE_TRANSACTION, "transaction_id": f"smoke-{time.time_ns()}"}
        predicted = client.post("/v1/predict", json=tx)
        body = _json(predicted) if predicted.status_code == 200 else {}
        probability = body.get("fraud_probability")
        valid = (
            isinstance(probability, int | float)
            and 0 <= probability <= 1
            and body.get("decision") in DECISIONS
            and len(body.get("reasons") or []) > 0
        )
        detail = f"{predicted.status_code} {body.get('decision', predicted.text[:60])}"
        checks.append(SmokeCheck("predict", valid, detail))
        model = client.get("/v1/model")
        served = _json(model).get("version") if model.status_code == 200 else None
        answered = (body.get("model") or {}).get("version")
        same = served is not None and served == answered
        checks.append(
            SmokeCheck("model version", same, f"serving v{served}, prediction by v{answered}")
        )
    except httpx.HTTPError as exc:
        checks.append(SmokeCheck("connection", False, f"{type(exc).__name__}: {exc}"))
    return checks
