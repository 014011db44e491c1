"""Drift statistics that are cheap enough to run on every window.

``drift_share`` follows Evidently's default rule for numerical columns (normalised
Wasserstein distance above 0.1 on samples larger than 1,000 rows; a two-sample KS test at
p < 0.05 on smaller ones) so the fast per-window figure and the full Evidently report
(``evidently_report``) agree; the report is produced only when it is worth reading.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

WASSERSTEIN_THRESHOLD = 0.1
KS_P_VALUE = 0.05
LARGE_SAMPLE = 1_000


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    statistic: float
    method: str
    drifted: bool


def feature_drift(reference: np.ndarray, current: np.ndarray, name: str) -> FeatureDrift:
    ref = reference[np.isfinite(reference)]
    cur = current[np.isfinite(current)]
    if ref.size == 0 or cur.size == 0:
        return FeatureDrift(name, float("nan"), "empty", False)
    if ref.size > LARGE_SAMPLE and cur.size > LARGE_SAMPLE:
        scale = float(np.std(ref))
        if scale == 0:
            # a constant reference: any change of value is drift
            moved = float(np.mean(cur != ref[0]))
            return FeatureDrift(name, moved, "constant", moved > WASSERSTEIN_THRESHOLD)
        distance = float(stats.wasserstein_distance(ref, cur)) / scale
        return FeatureDrift(name, distance, "wasserstein", distance > WASSERSTEIN_THRESHOLD)
    p_value = float(stats.ks_2samp(ref, cur).pvalue)
    return FeatureDrift(name, p_value, "ks", p_value < KS_P_VALUE)


def drift_table(
    reference: pl.DataFrame, current: pl.DataFrame, features: list[str]
) -> list[FeatureDrift]:
    return [
        feature_drift(
            reference[name].cast(pl.Float64).to_numpy(),
            current[name].cast(pl.Float64).to_numpy(),
            name,
        )
        for name in features
        if name in reference.columns and name in current.columns
    ]


def population_stability_index(
    reference: np.ndarray, current: np.ndarray, bins: int = 10, epsilon: float = 1e-4
) -> float:
    """PSI over bins cut at the reference's quantiles (ties merged)."""
    reference = reference[np.isfinite(reference)]
    current = current[np.isfinite(current)]
    if reference.size == 0 or current.size == 0:
        return float("nan")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        return 0.0
    edges[0], edges[-1] = -np.inf, np.inf
    ref_share = np.histogram(reference, edges)[0] / reference.size
    cur_share = np.histogram(current, edges)[0] / current.size
    ref_share = np.clip(ref_share, epsilon, None)
    cur_share = np.clip(cur_share, epsilon, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def evidently_report(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    features: list[str],
    path: Path,
    sample: int = 3_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Evidently's DataDriftPreset as HTML; samples keep it to seconds on large windows."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    def prepare(frame: pl.DataFrame) -> Any:
        frame = frame.select(features)
        if frame.height > sample:
            frame = frame.sample(sample, seed=seed)
        return frame.to_pandas()

    definition = DataDefinition(numerical_columns=features)
    report = Report([DataDriftPreset()])
    # constant columns make Evidently divide by zero; the result is still right
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        snapshot = report.run(
            Dataset.from_pandas(prepare(current), data_definition=definition),
            Dataset.from_pandas(prepare(reference), data_definition=definition),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(path))
    summary: dict[str, Any] = {"html": str(path)}
    for metric in snapshot.dict().get("metrics", []):
        name = str(metric.get("metric_name", ""))
        if name.startswith("DriftedColumnsCount"):
            value = metric.get("value", {})
            summary["drifted_columns"] = value.get("count")
            summary["drift_share"] = value.get("share")
    return summary
