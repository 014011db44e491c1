"""Scoring without HTTP: online features -> model -> decision and reasons.

The API's routes, the embedded closed loop and the tests all score through this class, so
the loop exercises exactly the code path production uses.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np

from fraudops.cases.recorder import CaseRecorder
from fraudops.data.logs import AppendLog
from fraudops.decisions.policy import PolicyOutcome
from fraudops.features.online import OnlineFeatureEngine
from fraudops.features.spec import feature_names
from fraudops.models.decision import Decision, decide, score_points
from fraudops.models.reasons import ReasonWriter
from fraudops.serving.decisions import DecisionStage
from fraudops.serving.metrics import ServiceMetrics
from fraudops.serving.model_loader import LoadedModel, ModelHolder
from fraudops.serving.shadow import ShadowScorer

DEGRADED_POLICIES = ("model", "approve", "review", "decline")


class NoModelError(Exception):
    """No model has been loaded yet (the service is not ready)."""


def model_outcome(decision: Decision, probability: float) -> PolicyOutcome:
    """The outcome when no policy stage runs: the model's thresholds decide."""
    return PolicyOutcome(decision, "threshold", decision, probability)


class ScoringService:
    def __init__(
        self,
        holder: ModelHolder,
        engine: OnlineFeatureEngine,
        prediction_log: AppendLog | None = None,
        label_log: AppendLog | None = None,
        metrics: ServiceMetrics | None = None,
        log_features: bool = True,
        decisions: DecisionStage | None = None,
        shadow: ShadowScorer | None = None,
        cases: CaseRecorder | None = None,
        degraded_decision: str = "model",
    ) -> None:
        if degraded_decision not in DEGRADED_POLICIES:
            raise ValueError(f"degraded_decision must be one of {DEGRADED_POLICIES}")
        self.degraded_decision = degraded_decision
        self.holder = holder
        self.cases = cases
        self.decisions = decisions
        self.engine = engine
        self.prediction_log = prediction_log
        self.label_log = label_log
        self.metrics = metrics
        self.names = feature_names()
        self.reason_writer = ReasonWriter()
        self.log_features = log_features
        self.shadow = shadow  # the challenger, scored off the request path; never decides
        if prediction_log is not None and log_features:
            prediction_log.vector_columns = self.names

    def _model(self) -> LoadedModel:
        loaded = self.holder.current
        if loaded is None:
            raise NoModelError("no model loaded yet")
        return loaded

    def _features(self, transactions: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, str | None]:
        started = time.perf_counter()
        x, degraded = self.engine.process_or_degrade(transactions)
        if self.metrics:
            latency = self.metrics.labelled(self.metrics.online_store_latency, "process")
            latency.observe((time.perf_counter() - started) / max(len(transactions), 1))
            if degraded:
                self.metrics.degraded_predictions.inc(len(transactions))
        return x, degraded

    def _degrade(self, outcomes: list[PolicyOutcome]) -> list[PolicyOutcome]:
        """Fail-open or fail-closed: the configured decision replaces the model's and the
        rules' (which saw no history); a listed card keeps its list's decision."""
        forced = cast(Decision, self.degraded_decision)
        if self.degraded_decision == "model":
            return outcomes
        return [
            o
            if o.stage in ("allow_list", "block_list")
            else PolicyOutcome(forced, "degraded", forced, o.probability, (), o.shadow_fired)
            for o in outcomes
        ]

    def score(
        self, transactions: Sequence[Mapping[str, Any]], explain: bool = True
    ) -> list[dict[str, Any]]:
        """Score transactions in order; updates online state and logs each prediction."""
        loaded = self._model()  # one reference for the whole batch, even during a swap
        x, degraded = self._features(transactions)
        if explain:
            probability, contributions = loaded.model.score_and_explain(x)
            if degraded:  # a feature computed without its history explains nothing: it
                # sorts last (13 context features remain to give the reasons)
                contributions = np.where(self.engine.stateful, -np.inf, contributions)
        else:
            probability = loaded.model.predict_proba(x)
            contributions = np.zeros_like(x)
        thresholds = loaded.model.decision_thresholds
        model_decisions = [decide(p, thresholds) for p in probability.tolist()]
        if self.decisions is not None:
            outcomes = self.decisions.decide(transactions, x, probability, thresholds)
        else:
            outcomes = [
                model_outcome(d, p)
                for d, p in zip(model_decisions, probability.tolist(), strict=True)
            ]
        if degraded:
            outcomes = self._degrade(list(outcomes))
        model_ref = {"name": loaded.name, "version": loaded.version, "alias": loaded.alias}
        reasons = self.reason_writer.reasons_many(x, contributions) if explain else None
        results = []
        for i, tx in enumerate(transactions):
            p = float(probability[i])
            outcome = outcomes[i]
            results.append(
                {
                    "transaction_id": tx["transaction_id"],
                    "fraud_probability": round(p, 6),
                    "score": score_points(p),
                    "decision": outcome.decision,
                    "decided_by": {"stage": outcome.stage, "name": outcome.name},
                    "rules": list(outcome.fired),
                    "reasons": reasons[i] if reasons is not None else [],
                    "model": model_ref,
                    "degraded": degraded is not None,
                    "degraded_reason": degraded,
                }
            )
        if self.metrics:
            self._count(probability, outcomes)
        if self.cases is not None:
            self.cases.on_scored(transactions, results)
        if self.prediction_log is not None:
            self.prediction_log.append(
                self._log_rows(transactions, results, x, probability, outcomes, model_decisions)
            )
        if self.shadow is not None and not degraded:  # compare models on full features only
            # shadow rules are in the prediction log too; here only beside a challenger's
            # scores, so a process without a challenger does not log every request twice
            fired = any(o.shadow_fired for o in outcomes)
            shadow_rules = [",".join(o.shadow_fired) for o in outcomes] if fired else None
            self.shadow.submit(
                transactions, x, probability, model_decisions, loaded.version, shadow_rules
            )
        return results

    def _count(self, probability: np.ndarray, outcomes: Sequence[PolicyOutcome]) -> None:
        metrics = self.metrics
        assert metrics is not None
        # a batch adds to each labelled counter once (a child's inc takes its lock)
        stages = Counter((o.stage, o.decision) for o in outcomes)
        hits = Counter((r, "active") for o in outcomes for r in o.fired)
        hits.update((r, "shadow") for o in outcomes for r in o.shadow_fired)
        decisions: Counter[str] = Counter()
        for (stage, decision), n in stages.items():
            decisions[decision] += n
            metrics.labelled(metrics.policy_decisions, stage, decision).inc(n)
        for decided, n in decisions.items():
            metrics.labelled(metrics.predictions, decided).inc(n)
        for (rule, mode), n in hits.items():
            metrics.labelled(metrics.rule_hits, rule, mode).inc(n)
        observe = metrics.scores.observe
        for p in probability.tolist():
            observe(p)

    def _log_rows(
        self,
        transactions: Sequence[Mapping[str, Any]],
        results: list[dict[str, Any]],
        x: np.ndarray,
        probability: np.ndarray,
        outcomes: Sequence[PolicyOutcome],
        model_decisions: Sequence[str],
    ) -> list[dict[str, Any]]:
        rows = []
        rows_in = zip(transactions, results, x, probability, outcomes, model_decisions, strict=True)
        for tx, result, values, p, outcome, model_decision in rows_in:
            row = {
                "transaction_id": result["transaction_id"],
                "timestamp": tx["timestamp"],
                "card_id": tx["card_id"],
                "amount": float(tx["amount"]),
                # full precision: calibrated scores are steps, and a rounded value can
                # fall on the other side of a step edge when the monitor bins them
                "fraud_probability": float(p),
                "decision": result["decision"],
                "decision_stage": outcome.stage,
                "decision_name": outcome.name,
                "model_decision": model_decision,
                "rules_fired": ",".join(outcome.fired),
                "shadow_rules": ",".join(outcome.shadow_fired),
                "model_version": result["model"]["version"],
                "degraded": result["degraded"],
            }
            if self.log_features:
                row["__vector"] = values
            rows.append(row)
        return rows

    def add_label(
        self, transaction_id: str, is_fraud: int, reported_at: datetime, source: str = "chargeback"
    ) -> bool:
        """Feed a label to the online risk features and to the label log."""
        known = self.engine.ingest_label(transaction_id, is_fraud, reported_at)
        if self.label_log is not None:
            self.label_log.append(
                [
                    {
                        "transaction_id": transaction_id,
                        "is_fraud": is_fraud,
                        "reported_at": reported_at,
                        "timestamp": reported_at,
                        "source": source,
                    }
                ]
            )
        if self.metrics:
            self.metrics.labels_received.labels("fraud" if is_fraud else "genuine").inc()
        if self.cases is not None:
            self.cases.on_label(transaction_id, is_fraud, reported_at, source)
        return known
