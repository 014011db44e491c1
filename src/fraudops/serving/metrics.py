"""Prometheus metrics exported by the API on ``/metrics`` (names are a contract:
Grafana dashboards and alert rules in ``deployment/`` refer to them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fraudops.monitoring.records import MonitoringRecord

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
SCORE_BUCKETS = tuple(round(x / 20, 2) for x in range(1, 21))


@dataclass
class ServiceMetrics:
    """All API metrics on one registry (one per app, so tests can build many apps)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def labelled(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, remembered: each request asks for the same few
        children, and ``labels()`` validates and locks every time (label values here are
        bounded: route templates, status codes, decisions)."""
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def __post_init__(self) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.requests = Counter(
            "fraudops_http_requests_total",
            "HTTP requests by endpoint, method and status code.",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.request_latency = Histogram(
            "fraudops_http_request_duration_seconds",
            "Server-side request latency by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "fraudops_predictions_total",
            "Scored transactions by decision.",
            ["decision"],
            registry=r,
        )
        self.scores = Histogram(
            "fraudops_fraud_probability",
            "Distribution of fraud probabilities served.",
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.model_info = Gauge(
            "fraudops_model_info",
            "The model being served (value 1) with its name, version and alias.",
            ["name", "version", "alias"],
            registry=r,
        )
        self.model_loaded = Gauge(
            "fraudops_model_loaded", "1 when a model is loaded and serving.", registry=r
        )
        self.model_reloads = Counter(
            "fraudops_model_reloads_total", "Reload attempts by outcome.", ["outcome"], registry=r
        )
        self.reload_failures = Counter(
            "fraudops_model_reload_failures_total", "Failed model reloads.", registry=r
        )
        self.online_store_latency = Histogram(
            "fraudops_online_store_duration_seconds",
            "Online feature store latency by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.degraded_predictions = Counter(
            "fraudops_degraded_predictions_total",
            "Transactions scored without the online store (degraded: no history).",
            registry=r,
        )
        self.online_store_state = Gauge(
            "fraudops_online_store_circuit_state",
            "Online store circuit breaker: 0 closed (healthy), 1 open (degraded), 2 half-open "
            "(replaying the transactions scored while degraded).",
            registry=r,
        )
        self.online_store_backlog = Gauge(
            "fraudops_online_store_backlog",
            "Transactions and labels waiting to be written to the online store.",
            registry=r,
        )
        self.log_dropped = Counter(
            "fraudops_log_dropped_rows_total",
            "Decision or label log rows dropped because the log writer's queue was full.",
            ["log"],
            registry=r,
        )
        self.labels_received = Counter(
            "fraudops_labels_total", "Label feedback events by label.", ["label"], registry=r
        )
        self.policy_decisions = Counter(
            "fraudops_policy_decisions_total",
            "Decisions by the policy stage that made them (allow_list, block_list, rule, "
            "threshold).",
            ["stage", "decision"],
            registry=r,
        )
        self.rule_hits = Counter(
            "fraudops_rule_hits_total",
            "Transactions on which a rule's condition held, by rule and mode (active/shadow).",
            ["rule", "mode"],
            registry=r,
        )
        self.rules_reload_failures = Counter(
            "fraudops_rules_reload_failures_total",
            "Rules files refused (the last good set kept deciding).",
            registry=r,
        )
        # shadow scoring of the challenger (serving.shadow): off the request path
        self.shadow_scored = Counter(
            "fraudops_shadow_scored_total",
            "Transactions the challenger scored in shadow.",
            registry=r,
        )
        self.shadow_dropped = Counter(
            "fraudops_shadow_dropped_total",
            "Transactions not shadow-scored, by reason (queue_full, error).",
            ["reason"],
            registry=r,
        )
        self.shadow_disagreements = Counter(
            "fraudops_shadow_disagreements_total",
            "Shadow-scored transactions the challenger would decide differently.",
            ["champion", "challenger"],
            registry=r,
        )
        self.shadow_challenger_version = Gauge(
            "fraudops_shadow_challenger_version",
            "Registry version of the challenger scored in shadow (0: none).",
            registry=r,
        )
        self.drift_share = Gauge(
            "fraudops_drift_share",
            "Share of drifted features in the latest monitoring run.",
            registry=r,
        )
        self.score_psi = Gauge(
            "fraudops_score_psi",
            "PSI of the score distribution, latest monitoring run.",
            registry=r,
        )
        self.live_average_precision = Gauge(
            "fraudops_live_average_precision",
            "Average precision of the live model on the latest matured-label window.",
            registry=r,
        )
        self.decision_rate = Gauge(
            "fraudops_decision_rate",
            "Share of decisions in the latest monitoring window.",
            ["decision"],
            registry=r,
        )
        self.retrain_triggered = Gauge(
            "fraudops_monitoring_retrain_triggered",
            "1 when the latest monitoring verdict asked for retraining.",
            registry=r,
        )
        # the alarms behind the latest verdict, by the rule that triggers retraining
        # (monitoring.retrain.RetrainPolicy): the alerts read these, not thresholds of their own
        self.drift_alarm = Gauge(
            "fraudops_drift_alarm",
            "1 when the latest monitoring run found feature drift above the retraining threshold.",
            registry=r,
        )
        self.score_drift_alarm = Gauge(
            "fraudops_score_drift_alarm",
            "1 when the latest monitoring run found the score PSI above the retraining threshold.",
            registry=r,
        )
        self.performance_degraded = Gauge(
            "fraudops_performance_degraded",
            "1 when live average precision, on enough known frauds, fell below its floor.",
            registry=r,
        )
        # not measured yet is NaN, not 0 (an AP of 0 would fire the floor alert)
        for gauge in (self.drift_share, self.score_psi, self.live_average_precision):
            gauge.set(float("nan"))


def export_gauges(record: MonitoringRecord, metrics: ServiceMetrics) -> None:
    """Monitoring results as Prometheus gauges (NaN until a value is measured)."""
    nan = float("nan")
    metrics.drift_share.set(nan if record.drift_share is None else record.drift_share)
    metrics.score_psi.set(nan if record.score_psi is None else record.score_psi)
    live = record.live_average_precision
    metrics.live_average_precision.set(nan if live is None else live)
    for decision, rate in record.decision_rates.items():
        metrics.decision_rate.labels(decision).set(rate)
    metrics.retrain_triggered.set(1.0 if record.verdict.retrain else 0.0)
    metrics.drift_alarm.set(1.0 if record.verdict.drift_alarm else 0.0)
    metrics.score_drift_alarm.set(1.0 if record.verdict.score_alarm else 0.0)
    metrics.performance_degraded.set(1.0 if record.verdict.performance_degraded else 0.0)
