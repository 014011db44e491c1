"""Shadow scoring: the registry's challenger scores the champion's feature vectors, off the
request path, into the shadow log. It never decides.

The request thread only hands over what the champion already computed (transactions,
feature matrix, probabilities, decisions) with a non-blocking append to a bounded queue:
when the queue is full the work is dropped and counted, and the request goes on. The queue
is a deque the worker drains every ``DRAIN_SECONDS``: no lock, no wake-up of another thread
on the request path (a ``queue.Queue`` put notifies the waiting worker, which cost the
request ~8 µs at the median and more in the tail, see docs/benchmarks.md). One worker
thread, at the lowest CPU priority, scores the challenger in batches and appends one row
per transaction to ``<data>/shadow_predictions``. No ``challenger`` alias in the registry
means nothing to do; the alias is followed like the champion's (polled, hot-swapped).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from fraudops.config import Settings
from fraudops.data.logs import AppendLog
from fraudops.features.spec import feature_names
from fraudops.models.decision import decide_array
from fraudops.models.registry import CHALLENGER
from fraudops.monitoring.shadow import SHADOW_LOG, SHADOW_SCHEMA
from fraudops.serving.metrics import ServiceMetrics
from fraudops.serving.model_loader import LoadedModel, ModelHolder, lowest_priority

logger = logging.getLogger(__name__)

MAX_WORK_BATCH = 64  # submissions the worker scores in one call of the challenger
DRAIN_SECONDS = 0.05  # how often the worker looks for queued work


class ShadowWork(NamedTuple):
    transactions: Sequence[Mapping[str, Any]]
    x: np.ndarray
    probability: np.ndarray
    decisions: Sequence[str]
    champion_version: int | None
    shadow_rules: Sequence[str | None] | None


class ShadowScorer:
    """The challenger beside the champion: ``submit`` on the request path, the rest in a
    worker thread."""

    def __init__(
        self,
        settings: Settings,
        log: AppendLog | None,
        metrics: ServiceMetrics | None = None,
        queue_size: int | None = None,
    ) -> None:
        self.settings = settings
        self.log = log
        self.metrics = metrics
        # no metrics of its own: the champion's model gauges and reload counters stay the
        # champion's; the challenger has fraudops_shadow_challenger_version
        self.holder = ModelHolder(settings, alias=CHALLENGER, expected_features=feature_names())
        self.maxsize = queue_size or settings.shadow_queue_size
        # appends and pops of a deque are atomic: the only synchronisation needed here
        self._queue: deque[ShadowWork] = deque()
        self._dropping = False
        self._dropped_meanwhile = 0
        self._failing = False
        self._stop = threading.Event()
        self._stop_worker = threading.Event()
        self._worker: threading.Thread | None = None
        self._poller: threading.Thread | None = None

    # -- the request path --------------------------------------------------------------
    def submit(
        self,
        transactions: Sequence[Mapping[str, Any]],
        x: np.ndarray,
        probability: np.ndarray,
        decisions: Sequence[str],
        champion_version: int | None,
        shadow_rules: Sequence[str | None] | None = None,
    ) -> bool:
        """Hand the champion's work to the shadow worker; never blocks, never raises.

        ``shadow_rules``: per transaction, the names of the shadow rules that fired,
        joined with "," (logged as they are). Returns whether the work was queued.
        """
        if self.holder.current is None and shadow_rules is None:
            return False  # no challenger and no shadow rules: nothing to log
        if len(self._queue) >= self.maxsize:
            self._drop(len(transactions))
            return False
        self._queue.append(
            ShadowWork(transactions, x, probability, decisions, champion_version, shadow_rules)
        )
        if self._dropping:
            self._dropping = False
            logger.info(
                "shadow queue accepts work again; %d transactions were not shadow-scored",
                self._dropped_meanwhile,
            )
        return True

    def _drop(self, transactions: int) -> None:
        if self.metrics:
            self.metrics.labelled(self.metrics.shadow_dropped, "queue_full").inc(transactions)
        if not self._dropping:  # once per change of state, not once per request
            self._dropping = True
            self._dropped_meanwhile = 0
            logger.warning(
                "shadow queue full (%d submissions waiting): dropping shadow work until the "
                "worker catches up; responses are not affected",
                self.maxsize,
            )
        self._dropped_meanwhile += transactions

    # -- the worker --------------------------------------------------------------------
    def pending(self) -> int:
        """Submissions waiting for the worker."""
        return len(self._queue)

    def _work(self) -> None:
        lowest_priority()  # the request threads get the core whenever they want it
        while True:
            stopping = self._stop_worker.wait(DRAIN_SECONDS)
            while self._queue:
                batch: list[ShadowWork] = []
                while self._queue and len(batch) < MAX_WORK_BATCH:
                    batch.append(self._queue.popleft())
                self.process(batch)
            if stopping:
                return

    def process(self, work: list[ShadowWork]) -> int:
        """Score queued work with the current challenger and log it; returns rows logged."""
        challenger = self.holder.current
        try:
            rows = shadow_rows(work, challenger)
        except Exception:
            if not self._failing:
                logger.exception("shadow scoring failed; the challenger's rows are dropped")
            self._failing = True
            if self.metrics:
                dropped = sum(len(w.transactions) for w in work)
                self.metrics.labelled(self.metrics.shadow_dropped, "error").inc(dropped)
            return 0
        if self._failing:
            self._failing = False
            logger.info("shadow scoring works again")
        if self.log is not None:
            self.log.append(rows)
        if self.metrics and challenger is not None:
            self.metrics.shadow_scored.inc(len(rows))
            changed = Counter(
                (r["champion_decision"], r["challenger_decision"])
                for r in rows
                if r["champion_decision"] != r["challenger_decision"]
            )
            for (old, new), n in changed.items():
                self.metrics.labelled(self.metrics.shadow_disagreements, old, new).inc(n)
        return len(rows)

    # -- following the registry --------------------------------------------------------
    def refresh(self) -> bool:
        """Follow the ``challenger`` alias: load a new version, forget a removed one.
        Returns True when a new challenger was loaded."""
        from fraudops.models.registry import Registry

        try:
            version = Registry.from_settings(self.settings).version_by_alias(CHALLENGER)
        except Exception as exc:
            logger.warning("could not read the challenger alias, keeping the current: %s", exc)
            return False
        current = self.holder.current
        if version is None:
            if current is not None:  # promoted or removed: its shadow period is over
                logger.info("challenger version %s is gone; shadow scoring stops", current.version)
                self.holder.current = None
            self._export_version()
            return False
        if current is not None and current.version == version:
            return False
        loaded = self.holder.reload()
        if loaded:
            logger.info("shadow-scoring challenger version %s", version)
        self._export_version()
        return loaded

    def _export_version(self) -> None:
        if self.metrics:
            current = self.holder.current
            version = current.version if current is not None else None
            self.metrics.shadow_challenger_version.set(version or 0)

    def start(self, poll: bool = True, champion: ModelHolder | None = None) -> None:
        """Start the worker and (``poll``) the thread following the challenger alias, which
        first waits for ``champion`` to load: readiness must not wait for the challenger."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="shadow-worker", daemon=True)
            self._worker.start()
        if poll and self._poller is None:

            def follow() -> None:
                while champion is not None and champion.current is None:
                    if self._stop.wait(0.5):
                        return
                while not self._stop.is_set():
                    self.refresh()
                    interval = self.settings.reload_interval_seconds
                    if interval <= 0:
                        return
                    self._stop.wait(interval)

            self._poller = threading.Thread(target=follow, name="shadow-poller", daemon=True)
            self._poller.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Score what is queued, then flush the shadow log."""
        self._stop.set()
        self._stop_worker.set()
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                logger.warning("shadow worker did not drain its queue in %.0f s", timeout)
        if self._poller is not None:
            self._poller.join(timeout)
        if self.log is not None:
            self.log.close()


def shadow_rows(work: list[ShadowWork], challenger: LoadedModel | None) -> list[dict[str, Any]]:
    """The shadow log's rows of queued work (challenger columns null without a challenger)."""
    size = sum(len(w.transactions) for w in work)
    version: int | None = None
    probability: list[float | None] = [None] * size
    decisions: list[str | None] = [None] * size
    if challenger is not None:
        scores = challenger.model.predict_proba(np.vstack([w.x for w in work]))
        version = challenger.version
        probability = scores.tolist()
        decisions = decide_array(scores, challenger.model.decision_thresholds).tolist()
    rows = []
    at = 0
    for w in work:
        for i, tx in enumerate(w.transactions):
            rows.append(
                {
                    "transaction_id": tx["transaction_id"],
                    "timestamp": tx["timestamp"],
                    "card_id": tx["card_id"],
                    "amount": float(tx["amount"]),
                    "champion_version": w.champion_version,
                    "champion_probability": float(w.probability[i]),
                    "champion_decision": w.decisions[i],
                    "challenger_version": version,
                    "challenger_probability": probability[at],
                    "challenger_decision": decisions[at],
                    "shadow_rules": None if w.shadow_rules is None else w.shadow_rules[i],
                }
            )
            at += 1
    return rows


def start_shadow(
    settings: Settings, metrics: ServiceMetrics, poll: bool, champion: ModelHolder | None = None
) -> ShadowScorer | None:
    """The API's shadow scorer with its log, started (None when shadow scoring is off)."""
    if not settings.shadow_enabled:
        return None
    log = AppendLog(
        settings.dataset_uri(SHADOW_LOG),
        settings.prediction_log_flush_seconds,
        settings.storage_options(),
        schema=SHADOW_SCHEMA,
    )
    log.start()
    scorer = ShadowScorer(settings, log, metrics)
    scorer.start(poll, champion)
    return scorer
