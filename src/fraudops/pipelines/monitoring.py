"""Monitoring pipeline: one window of predictions -> drift, PSI, decision rates, matured-label
performance -> a stored record with a verdict (retrain or not, and why).

Called by ``fraudops monitor``, the embedded closed loop and the monitoring DAG.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fraudops.config import Settings
from fraudops.data import store
from fraudops.models.bundle import FraudModel
from fraudops.models.decision import decision_rates
from fraudops.monitoring.drift import drift_table, evidently_report, population_stability_index
from fraudops.monitoring.performance import matured_performance
from fraudops.monitoring.records import MonitoringRecord, Verdict, record_uri
from fraudops.monitoring.retrain import RetrainPolicy

logger = logging.getLogger(__name__)

# calendar features follow the clock, not the world: a Saturday is not drift
CLOCK_KINDS = frozenset({"hour", "is_night", "is_weekend"})


def drift_features() -> list[str]:
    from fraudops.features.spec import FEATURES

    return [f.name for f in FEATURES if f.kind not in CLOCK_KINDS]


def assess_window(
    predictions: pl.DataFrame,
    reference: pl.DataFrame,
    model: FraudModel,
    window: tuple[datetime, datetime],
    as_of: datetime,
    settings: Settings,
    matured: pl.DataFrame | None = None,
    labels: pl.DataFrame | None = None,
    performance_window: tuple[datetime, datetime] | None = None,
    k: int = 100,
    model_version: int | None = None,
    features: Sequence[str] | None = None,
) -> MonitoringRecord:
    """Everything the monitor decides, as a pure function of frames and settings."""
    features = list(features or drift_features())
    thresholds = model.decision_thresholds
    drifts = drift_table(reference, predictions, features) if predictions.height else []
    drift_share = float(np.mean([d.drifted for d in drifts])) if drifts else None
    score = predictions["fraud_probability"].to_numpy() if predictions.height else np.array([])
    psi = (
        population_stability_index(reference["fraud_probability"].to_numpy(), score)
        if score.size
        else None
    )
    performance = None
    if matured is not None and labels is not None and matured.height:
        performance = matured_performance(matured, labels, as_of, k, thresholds)
    test_ap = model.metadata.get("test_metrics", {}).get("average_precision")
    record = MonitoringRecord(
        window_start=window[0],
        window_end=window[1],
        as_of=as_of,
        model_version=model_version,
        rows=predictions.height,
        drift_share=drift_share,
        drifted_features=[d.feature for d in drifts if d.drifted],
        feature_drift={d.feature: round(d.statistic, 6) for d in drifts},
        score_psi=psi,
        decision_rates=decision_rates(score, thresholds),
        reference_decision_rates=decision_rates(
            reference["fraud_probability"].to_numpy(), thresholds
        ),
        performance_window=list(performance_window) if performance_window else None,
        performance=performance,
        champion_test_average_precision=test_ap,
        verdict=Verdict(retrain=False),
    )
    policy = RetrainPolicy.from_settings(settings)
    live_ap = record.live_average_precision
    reasons = policy.reasons(drift_share, record.drifted_features, psi, live_ap)
    record.verdict = Verdict(
        retrain=bool(reasons),
        reasons=reasons,
        drift_alarm=policy.drift_alarm(drift_share),
        score_alarm=policy.score_alarm(psi),
        performance_degraded=policy.performance_degraded(live_ap),
    )
    return record


def _window_rows(frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    if frame.height == 0:
        return frame
    return frame.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))


def score_stored_window(
    settings: Settings,
    model: FraudModel,
    start: datetime,
    end: datetime,
    history_days: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Score stored transactions of ``[start, end)`` through the offline features, for
    monitoring incoming data when no prediction log exists (batch deployments, the DAGs).
    ``history_days`` before ``start`` are read too (default: the features' look-back).
    Returns prediction-log-shaped rows and the label feed known in the store."""
    from fraudops.data.store import resolve_transactions_uri
    from fraudops.features.offline import build_offline_features
    from fraudops.features.online import warm_up_days
    from fraudops.schema import label_feed_from_transactions

    options = settings.storage_options()
    uri = settings.dataset_uri("validated")
    if not store.exists(store.join_uri(uri, "clean", store.MANIFEST_NAME), options):
        uri = settings.dataset_uri("raw")
    uri = resolve_transactions_uri(uri, options)
    history = store.read_dataset(
        uri, (start - timedelta(days=history_days or warm_up_days())).date(), end.date(), options
    )
    if history.height == 0:
        return pl.DataFrame(), pl.DataFrame()
    features = _window_rows(build_offline_features(history), start, end)
    x = features.select(model.feature_names).cast(pl.Float64).to_numpy()
    predictions = features.select(
        "transaction_id", "timestamp", "card_id", "amount", *model.feature_names
    ).with_columns(pl.Series("fraud_probability", model.predict_proba(x)))
    return predictions, label_feed_from_transactions(history)


def run_monitoring(
    settings: Settings,
    as_of: datetime,
    window: timedelta = timedelta(days=1),
    performance_days: int = 7,
    report: str = "auto",
    k: int = 100,
    model: FraudModel | None = None,
    model_version: int | None = None,
    log_to_mlflow: bool = True,
    source: str = "auto",
) -> MonitoringRecord:
    """Monitor the window ending at ``as_of`` and store the record (idempotent per window).

    ``report``: "auto" writes the Evidently HTML report when the verdict asks for
    retraining, "always" every time, "never" not at all. ``source``: "predictions" (the
    API's prediction log), "data" (stored transactions scored offline) or "auto" (the
    prediction log when it covers the window, else the stored data).
    """
    from fraudops.models.registry import CHAMPION, Registry, RegistryError

    options = settings.storage_options()
    if model is None:
        registry = Registry.from_settings(settings)
        model_version = registry.version_by_alias(CHAMPION)
        if model_version is None:
            raise RegistryError("no champion model to monitor; run `fraudops train` first")
        model = registry.load(model_version)
    if model.reference is None:
        raise ValueError("the champion has no reference sample; retrain it with this version")
    start = as_of - window
    maturity = timedelta(days=settings.label_maturity_days)
    perf_end = as_of - maturity
    perf_start = perf_end - timedelta(days=performance_days)
    data = settings.resolved_data_uri
    for log in ("predictions", "label_feed"):  # days before this one get one file each
        store.compact_chunks(store.join_uri(data, log), as_of.date(), options)
    predictions = store.read_chunks(
        store.join_uri(data, "predictions"), perf_start.date(), as_of.date(), options
    )
    if predictions.height:
        predictions = predictions.unique("transaction_id", keep="last", maintain_order=True)
    labels = store.read_chunks(store.join_uri(data, "label_feed"), None, as_of.date(), options)
    if source == "data" or (
        source == "auto" and _window_rows(predictions, start, as_of).height == 0
    ):
        predictions, stored_labels = score_stored_window(settings, model, perf_start, as_of)
        labels = (
            pl.concat([labels, stored_labels], how="diagonal_relaxed")
            if labels.height
            else stored_labels
        )
    current = _window_rows(predictions, start, as_of)
    matured = _window_rows(predictions, perf_start, perf_end)
    record = assess_window(
        current,
        model.reference,
        model,
        (start, as_of),
        as_of,
        settings,
        matured=matured,
        labels=labels.select("transaction_id", "is_fraud", "reported_at")
        if labels.height
        else None,
        performance_window=(perf_start, perf_end),
        k=k,
        model_version=model_version,
    )
    uri = record_uri(settings, as_of)
    if report == "always" or (report == "auto" and record.verdict.retrain and current.height):
        html = uri.removesuffix(".json") + ".html"
        local = (
            Path(html) if "://" not in html else Path(settings.home) / "reports" / Path(html).name
        )
        summary = evidently_report(model.reference, current, drift_features(), local)
        record.report_html = str(local)
        logger.info("Evidently report: %s (drift share %s)", local, summary.get("drift_share"))
    store.write_json(uri, record.model_dump(mode="json"), options)
    if log_to_mlflow:
        log_record(settings, record)
    return record


def log_record(settings: Settings, record: MonitoringRecord) -> None:
    """Every monitoring decision is visible in MLflow (one run per window)."""
    import mlflow

    from fraudops.models.tracking import configure_mlflow

    configure_mlflow(settings)
    metrics: dict[str, Any] = {
        "drift_share": record.drift_share,
        "score_psi": record.score_psi,
        "review_rate": record.decision_rates.get("review"),
        "decline_rate": record.decision_rates.get("decline"),
        "live_average_precision": record.live_average_precision,
        "retrain": float(record.verdict.retrain),
        "rows": float(record.rows),
    }
    with mlflow.start_run(run_name=f"monitor-{record.window_end:%Y-%m-%d}"):
        mlflow.set_tags(
            {
                "kind": "monitoring",
                "model_version": str(record.model_version),
                "verdict": "; ".join(record.verdict.reasons) or "ok",
            }
        )
        mlflow.log_metrics(
            {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
        )
        mlflow.log_dict(record.model_dump(mode="json"), "monitoring_record.json")
        if record.report_html and Path(record.report_html).exists():
            mlflow.log_artifact(record.report_html, "evidently")
