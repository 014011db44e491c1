"""The served model: loaded and checked beside the current one, then swapped atomically.

A failed load (registry unreachable, checksum mismatch, smoke prediction failing) keeps
the last good model serving and is visible in logs, metrics and ``GET /v1/model``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from fraudops.config import Settings
from fraudops.models.bundle import FraudModel
from fraudops.serving.allocator import release_freed_memory
from fraudops.serving.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

T = TypeVar("T")
LOAD_SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005
_ONE_LOAD = threading.Lock()


@dataclass(frozen=True)
class LoadedModel:
    model: FraudModel
    name: str
    version: int | None
    alias: str
    loaded_at: str

    @property
    def thresholds(self) -> dict[str, float]:
        return self.model.thresholds


@dataclass
class LoadStatus:
    last_attempt: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def lowest_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux schedules threads one by one;
    elsewhere, or when not permitted, nothing changes)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def in_background(work: Callable[[], T]) -> T:
    """Run ``work`` in a new thread at the lowest CPU priority and wait for it.

    A load costs about a second of CPU on a one-core server; at normal priority it takes
    that time from requests. At nice 19 (Linux schedules threads individually) the kernel
    gives the core to the event loop whenever it has work, and a short GIL switch interval
    bounds how long the loop waits for the interpreter meanwhile. The thread is new each
    time because an unprivileged process cannot raise a thread's priority back.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        lowest_priority()
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    with _ONE_LOAD:  # one at a time, so the interval is always restored to the original
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, LOAD_SWITCH_INTERVAL))
        try:
            thread = threading.Thread(target=run, name="model-load", daemon=True)
            thread.start()
            thread.join()
        finally:
            sys.setswitchinterval(interval)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def smoke_test(model: FraudModel) -> None:
    """A new model must score a neutral row and explain it before it may serve."""
    row = np.zeros((1, len(model.feature_names)))
    probability, contributions = model.score_and_explain(row)
    if not (probability.shape == (1,) and np.isfinite(probability).all()):
        raise ValueError("smoke prediction is not a finite probability")
    if contributions.shape != (1, len(model.feature_names)):
        raise ValueError("smoke explanation has the wrong shape")


class ModelHolder:
    """Holds the serving model; ``current`` is swapped as one reference assignment."""

    def __init__(
        self,
        settings: Settings,
        metrics: ServiceMetrics | None = None,
        alias: str = "champion",
        expected_features: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.alias = alias
        self.expected_features = expected_features
        self.current: LoadedModel | None = None
        self.status = LoadStatus()
        self._lock = threading.Lock()  # one load at a time; reads never wait
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _registry(self) -> Any:
        from fraudops.models.registry import Registry

        return Registry.from_settings(self.settings)

    def install(self, model: FraudModel, version: int | None, alias: str | None = None) -> None:
        """Check and serve ``model`` (used by reloads, the embedded loop and tests)."""
        smoke_test(model)
        if self.expected_features is not None and model.feature_names != self.expected_features:
            raise ValueError(
                "model feature order differs from the online feature spec; "
                "retrain with the current spec"
            )
        loaded = LoadedModel(
            model=model,
            name=self.settings.model_name,
            version=version,
            alias=alias or self.alias,
            loaded_at=datetime.now(UTC).isoformat(),
        )
        previous = self.current
        self.current = loaded  # atomic swap: in-flight requests keep their reference
        if self.metrics:
            if previous is not None:
                self.metrics.model_info.remove(previous.name, str(previous.version), previous.alias)
            self.metrics.model_info.labels(loaded.name, str(version), loaded.alias).set(1)
            self.metrics.model_loaded.set(1)

    def reload(self, force: bool = False) -> bool:
        """Load the alias's version if it changed; returns True when a new model serves.

        Never on the event loop: the download, digest check, deserialisation and smoke
        test run in a fresh low-priority thread (see ``in_background``) while the current
        model keeps serving, and the serving model changes by one reference assignment.
        """
        return in_background(lambda: self._reload(force))

    def _reload(self, force: bool) -> bool:
        with self._lock:
            self.status.last_attempt = datetime.now(UTC).isoformat()
            version: int | None = None
            try:
                registry = self._registry()
                version = registry.version_by_alias(self.alias)
                if version is None:
                    raise LookupError(
                        f"registered model {self.settings.model_name!r} has no "
                        f"{self.alias!r} alias yet"
                    )
                if not force and self.current is not None and self.current.version == version:
                    # the alias points at what serves: an earlier failure is over
                    self._succeeded()
                    return False
                model = registry.load(version)  # its errors name the version and artifact
                try:
                    self.install(model, version)
                except ValueError as exc:
                    raise ValueError(
                        f"{self.settings.model_name} version {version} refused: {exc}"
                    ) from exc
            except Exception as exc:
                self._failed(exc)
                return False
            self._succeeded()
            release_freed_memory()  # the load's temporaries and the model it replaced
            logger.info("loaded %s version %s as %s", self.settings.model_name, version, self.alias)
            if self.metrics:
                self.metrics.model_reloads.labels("success").inc()
            return True

    def _succeeded(self) -> None:
        self.status.last_success = self.status.last_attempt
        self.status.last_error = None
        self.status.consecutive_failures = 0

    def _failed(self, exc: Exception) -> None:
        self.status.last_error = f"{type(exc).__name__}: {exc}"
        self.status.consecutive_failures += 1
        self.status.history = [
            *self.status.history[-9:],
            {"at": self.status.last_attempt, "error": self.status.last_error},
        ]
        logger.warning("model reload failed, keeping the current model: %s", exc)
        if self.metrics:
            self.metrics.reload_failures.inc()
            self.metrics.model_reloads.labels("failure").inc()

    def start_polling(self) -> None:
        """Background thread: retry with backoff until a model loads, then poll."""
        if self._thread is not None:
            return

        def loop() -> None:
            backoff = 1.0
            while not self._stop.is_set():
                self.reload()
                if self.current is None:
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                backoff = 1.0
                interval = self.settings.reload_interval_seconds
                if interval <= 0:
                    return
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def wait_for_model(holder: ModelHolder, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while holder.current is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return holder.current is not None
