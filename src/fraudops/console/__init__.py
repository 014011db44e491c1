"""The analyst console, served by the API process under ``/console``, and its wiring:
:func:`open_cases` gives the scoring service its case recorder, :func:`mount_console`
adds the pages, the static files and the ``/v1/cases`` routes to the app."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")


def open_cases(state: Any) -> Any:
    """The case recorder of an API process (started), or None when the store cannot be
    opened: scoring goes on without cases rather than not at all."""
    from fraudops.cases.recorder import CaseRecorder
    from fraudops.cases.store import open_store

    try:
        store = open_store(state.settings.resolved_cases_url)
    except Exception:
        logger.exception("the case store could not be opened; no cases will be recorded")
        return None
    dropped = register_case_metrics(state.metrics.registry, store)
    cache: dict[str, Any] = {"for": None, "names": frozenset()}

    def case_rules() -> frozenset[str]:
        current = state.rules.current if state.rules is not None else None
        if current is not cache["for"]:  # recomputed once per rule set, not per request
            rules = current.rules if current is not None else ()
            cache["names"] = frozenset(r.name for r in rules if r.case and r.active)
            cache["for"] = current
        names: frozenset[str] = cache["names"]
        return names

    recorder = CaseRecorder(store, case_rules, on_drop=dropped.inc)
    recorder.start()
    return recorder


def register_case_metrics(registry: Any, store: Any) -> Any:
    """The review queue's metrics on the API's registry: the dropped-case counter (returned)
    and the queue size and oldest-case age, read from ``store`` when Prometheus scrapes."""
    from datetime import UTC, datetime

    from prometheus_client import Counter, Gauge

    def stat(name: str) -> float:
        try:
            value = store.queue_stats(datetime.now(UTC))[name]
        except Exception:  # a store that is down must not break /metrics
            return float("nan")
        return float("nan") if value is None else float(value)

    size = Gauge("fraudops_cases_open", "Cases open or in review.", registry=registry)
    size.set_function(lambda: stat("queue_size"))
    age = Gauge(
        "fraudops_cases_oldest_age_seconds",
        "Age of the oldest case still open or in review (NaN when the queue is empty).",
        registry=registry,
    )
    age.set_function(lambda: stat("oldest_age_seconds"))
    return Counter(
        "fraudops_cases_dropped_total",
        "Cases and labels not stored because the case writer's queue was full.",
        registry=registry,
    )


def mount_console(app: Any) -> None:
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from fraudops.console import api, routes
    from fraudops.console.session import LoginRequiredError

    app.include_router(routes.router)
    app.include_router(api.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    async def to_login(_: Any, __: Exception) -> RedirectResponse:
        return RedirectResponse("/console/login", status_code=303)

    app.add_exception_handler(LoginRequiredError, to_login)
