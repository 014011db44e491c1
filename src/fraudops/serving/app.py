"""Assembly of the API: state, middleware, routers and lifecycle. No logic lives here."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema

from fraudops import __version__
from fraudops.cases.recorder import CaseRecorder
from fraudops.config import Settings
from fraudops.console import mount_console, open_cases
from fraudops.data.logs import AppendLog
from fraudops.data.store import join_uri
from fraudops.decisions.lists import ListCache, open_list_backend
from fraudops.features.online import WARM_UP_DAYS, OnlineFeatureEngine, open_online_store
from fraudops.features.online.resilient import ResilientStore
from fraudops.features.online.store import OnlineStore
from fraudops.features.spec import feature_names
from fraudops.serving.allocator import release_freed_memory
from fraudops.serving.auth import FailedAuthLimiter
from fraudops.serving.decisions import DecisionStage, RulesHolder
from fraudops.serving.hot_path import ENDPOINT_KEY, HotPath
from fraudops.serving.metrics import ServiceMetrics
from fraudops.serving.model_loader import ModelHolder
from fraudops.serving.routes import admin, health, labels, lists, model, predict
from fraudops.serving.schemas import BatchIn, LabelIn, TransactionIn
from fraudops.serving.service import ScoringService
from fraudops.serving.shadow import ShadowScorer, start_shadow
from fraudops.serving.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    metrics: ServiceMetrics
    holder: ModelHolder
    auth_limiter: FailedAuthLimiter
    engine: OnlineFeatureEngine | None = None
    service: ScoringService | None = None
    prediction_log: AppendLog | None = None
    label_log: AppendLog | None = None
    lists: ListCache | None = None
    rules: RulesHolder | None = None
    shadow: ShadowScorer | None = None
    cases: CaseRecorder | None = None
    draining: bool = False


class MetricsAndLimits:
    """Pure ASGI middleware: request metrics and the body-size limit (413 before reading)."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        limit = self.state.settings.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                response = JSONResponse(
                    {"detail": f"request body is larger than {limit} bytes"}, status_code=413
                )
                await response(scope, receive, send)
                self._observe(scope, 413, started)
                return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._observe(scope, status["code"], started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        endpoint = str(
            scope.get(ENDPOINT_KEY) or getattr(scope.get("route"), "path", None) or "unmatched"
        )
        metrics = self.state.metrics
        method = scope.get("method", "")
        metrics.labelled(metrics.requests, endpoint, method, str(status)).inc()
        metrics.labelled(metrics.request_latency, endpoint).observe(time.perf_counter() - started)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        # bodies are validated from raw bytes, so their models are added to the docs here
        _, definitions = models_json_schema(
            [(m, "validation") for m in (TransactionIn, BatchIn, LabelIn)],
            ref_template="#/components/schemas/{model}",
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(
            definitions.get("$defs", {})
        )
        app.openapi_schema = schema
        return schema

    return build


def build_state(settings: Settings, holder: ModelHolder | None = None) -> AppState:
    metrics = ServiceMetrics()
    holder = holder or ModelHolder(settings, metrics, expected_features=feature_names())
    holder.metrics = metrics
    limiter = FailedAuthLimiter(
        settings.auth_failure_limit,
        settings.auth_failure_window_seconds,
        settings.auth_failure_max_clients,
    )
    return AppState(settings=settings, metrics=metrics, holder=holder, auth_limiter=limiter)


def warm_online_store(
    engine: OnlineFeatureEngine, settings: Settings, source: str, days: int
) -> int:
    """Replay the last ``days`` of stored transactions so no card starts as "new"."""
    from datetime import timedelta

    from fraudops.data import store
    from fraudops.data.store import resolve_transactions_uri

    options = settings.storage_options()
    uri = resolve_transactions_uri(source, options)
    partitions = store.list_partitions(uri, options)
    if not partitions:
        raise FileNotFoundError(f"no transactions to warm from under {source}")
    from datetime import date

    end = date.fromisoformat(partitions[-1])
    history = store.read_dataset(uri, end - timedelta(days=days), end, options)
    return engine.backfill(history)


def start_state(
    state: AppState,
    poll_registry: bool = True,
    warm_from: str | None = None,
    warm_days: int = WARM_UP_DAYS,
) -> None:
    """Open the online store and logs, start the model poller (idempotent)."""
    settings = state.settings
    if state.engine is None:
        state.engine = OnlineFeatureEngine(_open_store(state))
        if warm_from:
            warmed = warm_online_store(state.engine, settings, warm_from, warm_days)
            logger.info("online store warmed with %d transactions", warmed)
    if state.prediction_log is None:
        state.prediction_log = _open_log(state, "predictions", feature_names())
    if state.label_log is None:
        state.label_log = _open_log(state, "label_feed")
    decisions = _open_decisions(state)
    if state.shadow is None:
        state.shadow = start_shadow(settings, state.metrics, poll_registry, state.holder)
    if state.cases is None:
        state.cases = open_cases(state)
    state.service = ScoringService(
        state.holder,
        state.engine,
        state.prediction_log,
        state.label_log,
        state.metrics,
        decisions=decisions,
        shadow=state.shadow,
        cases=state.cases,
        degraded_decision=settings.degraded_decision,
    )
    if poll_registry:
        state.holder.start_polling()
        _start_gauge_refresh(state)
        _start_decisions_refresh(state)
    # Everything alive now (modules, the warmed online state: millions of objects) lives as
    # long as the process; frozen, the collector stops walking it on every full pass.
    gc.collect()
    gc.freeze()
    release_freed_memory()  # the model load's and the warm-up's temporaries


def _open_log(state: AppState, name: str, vector_columns: list[str] | None = None) -> AppendLog:
    """A decision or label log journaled under the home folder (durable on a crash)."""
    settings = state.settings
    dropped = state.metrics.log_dropped.labels(name)
    log = AppendLog(
        join_uri(settings.resolved_data_uri, name),
        settings.prediction_log_flush_seconds,
        settings.storage_options(),
        vector_columns=vector_columns,
        journal_dir=settings.home / "journal" / name,
        journal_seconds=settings.log_journal_seconds,
        max_queued=settings.log_queue_rows,
        on_drop=dropped.inc,
    )
    log.start()
    return log


def _open_store(state: AppState) -> OnlineStore:
    """The configured online store; a networked one behind a circuit breaker, so an outage
    degrades answers instead of failing them."""
    settings = state.settings
    store = open_online_store(
        settings.online_store_uri,
        settings.online_store_timeout_seconds,
        settings.online_index_buckets,
    )
    if not store.failures:
        return store
    metrics = state.metrics
    codes = {"closed": 0, "open": 1, "half_open": 2}
    resilient = ResilientStore(
        store,
        settings.online_store_probe_seconds,
        settings.online_store_backlog,
        on_change=lambda s: metrics.online_store_state.set(codes[s]),
    )
    metrics.online_store_backlog.set_function(lambda: len(resilient.backlog))
    return resilient


def _open_decisions(state: AppState) -> DecisionStage:
    """The lists and rules of the decision policy (idempotent)."""
    settings = state.settings
    if state.lists is None:
        state.lists = ListCache(open_list_backend(settings.resolved_lists_uri))
    if state.rules is None:
        state.rules = RulesHolder(
            settings.resolved_rules_path, on_failure=state.metrics.rules_reload_failures.inc
        )
        state.rules.reload(force=True)
    return DecisionStage(state.rules, state.lists, feature_names())


def _start_decisions_refresh(state: AppState) -> None:
    """Pick up list entries written by other processes and edits of the rules file."""
    import threading

    interval = state.settings.lists_refresh_seconds

    def loop() -> None:
        while not state.draining:
            time.sleep(interval)
            if state.lists is not None:
                state.lists.refresh()
            if state.rules is not None:
                state.rules.reload()

    threading.Thread(target=loop, name="decisions-refresh", daemon=True).start()


def _start_gauge_refresh(state: AppState) -> None:
    """Copy the latest monitoring record into the gauges now and then (the monitor runs
    elsewhere: a CLI, the loop or the monitoring DAG)."""
    import threading

    from fraudops.monitoring.records import latest_record
    from fraudops.serving.metrics import export_gauges

    interval = max(state.settings.reload_interval_seconds, 15.0)

    def loop() -> None:
        while not state.draining:
            try:
                record = latest_record(state.settings)
                if record is not None:
                    export_gauges(record, state.metrics)
            except Exception:
                logger.warning("could not read the latest monitoring record", exc_info=True)
            time.sleep(interval)

    threading.Thread(target=loop, name="monitoring-gauges", daemon=True).start()


def stop_state(state: AppState) -> None:
    state.draining = True
    state.holder.stop()
    if state.shadow is not None:
        state.shadow.stop()  # scores what is queued, flushes the shadow log
        state.shadow = None
    for log in (state.prediction_log, state.label_log):
        if log is not None:
            log.close()
    if state.lists is not None:
        state.lists.backend.close()
    if state.cases is not None:
        state.cases.close()
    if state.engine is not None:
        state.engine.store.close()
    if state.metrics:
        state.metrics.model_loaded.set(0)


def create_app(
    settings: Settings,
    holder: ModelHolder | None = None,
    poll_registry: bool = True,
    warm_from: str | None = None,
    warm_days: int = WARM_UP_DAYS,
    hot_path: bool = True,
) -> FastAPI:
    state = build_state(settings, holder)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        start_state(state, poll_registry, warm_from, warm_days)
        try:
            yield
        finally:
            stop_state(state)

    app = FastAPI(
        title="fraudops scoring API",
        version=__version__,
        description=(
            "Real-time and batch fraud scoring with online features, calibrated "
            "probabilities, decisions and reason codes. `/v1/*` needs `X-API-Key`; "
            "`/admin/*` needs the admin key."
        ),
        lifespan=lifespan,
    )
    app.state.fraudops = state
    routers = (health, predict, labels, lists, model, admin)
    for router in (module.router for module in routers):
        app.include_router(router)
    mount_console(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", [])), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.openapi = _openapi(app)  # type: ignore[method-assign]
    if hot_path:  # innermost of the two: the limits and metrics apply to it too
        app.add_middleware(HotPath, state=state)  # type: ignore[arg-type]
    app.add_middleware(MetricsAndLimits, state=state)  # type: ignore[arg-type]
    return app
