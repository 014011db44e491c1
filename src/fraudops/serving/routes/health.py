"""Liveness, readiness, metrics and the service index."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fraudops import __version__
from fraudops.features.online.resilient import ResilientStore

router = APIRouter(tags=["health"])


@router.get("/", summary="Service name, version and links")
async def index() -> dict[str, Any]:
    return {
        "service": "fraudops",
        "version": __version__,
        "links": {
            "docs": "/docs",
            "openapi": "/openapi.json",
            "predict": "/v1/predict",
            "batch": "/v1/predict/batch",
            "labels": "/v1/labels",
            "model": "/v1/model",
            "ready": "/health/ready",
            "metrics": "/metrics",
        },
    }


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "live"}


@router.get(
    "/health/ready",
    summary="Ready when a model is loaded and no shutdown is on (degraded: still 200)",
    responses={503: {"description": "Not ready (the body says why)"}},
)
async def ready(request: Request) -> JSONResponse:
    state = request.app.state.fraudops
    status = state.holder.status
    problems = []
    if state.draining:
        problems.append("shutting down")
    if state.holder.current is None:
        problems.append(
            f"no model loaded: {status.last_error}" if status.last_error else "no model loaded"
        )
    if state.engine is None:
        problems.append("online store not open")
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    body = {"status": "ready", "model_version": state.holder.current.version}
    # an unreachable online store is shared by every replica: answering 503 here would take
    # the whole fleet out of the load balancer, while each replica still answers (degraded)
    store = state.engine.store
    if isinstance(store, ResilientStore) and store.state != "closed":
        body.update(status="degraded", degraded=f"online store {store.state}: {store.reason}")
    elif not state.engine.ready():
        body.update(status="degraded", degraded="online store unreachable")
    if status.last_error:  # still ready: the last good model serves
        body["last_reload_error"] = status.last_error
    return JSONResponse(body)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    registry = request.app.state.fraudops.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
