"""Monitoring records: the typed result of one monitoring run and its retraining verdict,
stored as JSON under ``<data>/monitoring/records`` (named by window end), read by the API
to export the latest verdict as gauges."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from fraudops.config import Settings
from fraudops.data import store
from fraudops.monitoring.retrain import judged_average_precision


class Verdict(BaseModel):
    """The retraining verdict of a window and the alarms behind it (RetrainPolicy's rule;
    the API exports the alarms as gauges, which the Prometheus alerts read)."""

    retrain: bool
    reasons: list[str] = Field(default_factory=list)
    drift_alarm: bool = False
    score_alarm: bool = False
    performance_degraded: bool = False


class MonitoringRecord(BaseModel):
    """One monitoring run: small, typed, stored as JSON and exported as gauges."""

    window_start: datetime
    window_end: datetime
    as_of: datetime
    model_version: int | None
    rows: int
    drift_share: float | None
    drifted_features: list[str]
    feature_drift: dict[str, float]
    score_psi: float | None
    decision_rates: dict[str, float]
    reference_decision_rates: dict[str, float]
    performance_window: list[datetime] | None = None
    performance: dict[str, float] | None = None
    champion_test_average_precision: float | None = None
    verdict: Verdict
    report_html: str | None = None

    @property
    def live_average_precision(self) -> float | None:
        return judged_average_precision(self.performance)


def record_uri(settings: Settings, window_end: datetime) -> str:
    name = window_end.strftime("%Y-%m-%dT%H%M%SZ")
    return store.join_uri(settings.resolved_data_uri, "monitoring", "records", f"{name}.json")


def read_records(settings: Settings) -> list[MonitoringRecord]:
    import fsspec

    root = store.join_uri(settings.resolved_data_uri, "monitoring", "records")
    fs, path = fsspec.core.url_to_fs(root, **settings.storage_options())
    if not fs.exists(path):
        return []
    records = []
    for item in store.files_in(fs, path, ".json"):
        with fs.open(item, "rb") as handle:
            records.append(MonitoringRecord.model_validate_json(handle.read()))
    return records


def latest_record(settings: Settings) -> MonitoringRecord | None:
    """The most recent monitoring record (records are named by window end)."""
    import fsspec

    root = store.join_uri(settings.resolved_data_uri, "monitoring", "records")
    fs, path = fsspec.core.url_to_fs(root, **settings.storage_options())
    if not fs.exists(path):
        return None
    names = store.files_in(fs, path, ".json")
    if not names:
        return None
    with fs.open(names[-1], "rb") as handle:
        return MonitoringRecord.model_validate_json(handle.read())
