"""Shadow comparison at the edges: read the shadow log and the label feed, compare (the pure
functions of ``monitoring.shadow``), and the promotion gate's shadow-period check.

Called by ``fraudops shadow report`` and by the gate (``pipelines.training.gate``) of
``fraudops train``/``promote``, the closed loop and the training DAG.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from fraudops.config import Settings
from fraudops.data import store
from fraudops.monitoring.shadow import (
    SHADOW_LOG,
    ShadowReport,
    ShadowRequirement,
    build_report,
    gate_failure,
    in_period,
    shadow_maturity_days,
)


def read_shadow_inputs(
    settings: Settings, as_of: datetime, since: datetime | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The shadow log from ``since`` and the label feed, both up to ``as_of``'s day.

    Days before ``as_of``'s are compacted first (an API writes a chunk every few seconds),
    as the monitor does for the prediction log.
    """
    options = settings.storage_options()
    shadow_uri, labels_uri = settings.dataset_uri(SHADOW_LOG), settings.dataset_uri("label_feed")
    for uri in (shadow_uri, labels_uri):
        store.compact_chunks(uri, as_of.date(), options)
    shadow = store.read_chunks(shadow_uri, since.date() if since else None, as_of.date(), options)
    labels = store.read_chunks(labels_uri, None, as_of.date(), options)
    if labels.height:
        labels = labels.select("transaction_id", "is_fraud", "reported_at")
    return shadow, labels


def shadow_report(
    settings: Settings,
    as_of: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    k: int = 100,
) -> ShadowReport:
    """``fraudops shadow report``: champion against each challenger version shadow-scored
    in ``[since, until)``, on transactions matured by ``as_of``."""
    shadow, labels = read_shadow_inputs(settings, as_of, since)
    rows = in_period(shadow, as_of, since, until)
    maturity = shadow_maturity_days(rows, labels, as_of, settings.label_maturity_days)
    return build_report(rows, labels, as_of, maturity, since, until, k)


@dataclass(frozen=True)
class ShadowCheck:
    failure: str | None  # why promotion is refused; None when the shadow period allows it
    summary: str
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float]


@dataclass(frozen=True)
class ShadowGate:
    """The gate's shadow-period condition (``FRAUDOPS_MIN_SHADOW_DAYS`` and friends)."""

    settings: Settings
    as_of: datetime
    requirement: ShadowRequirement

    @classmethod
    def from_settings(cls, settings: Settings, as_of: datetime) -> ShadowGate | None:
        """None when no shadow period is required (``min_shadow_days`` 0)."""
        if settings.min_shadow_days <= 0:
            return None
        requirement = ShadowRequirement(
            settings.min_shadow_days, settings.min_shadow_transactions, settings.min_shadow_frauds
        )
        return cls(settings, as_of, requirement)

    def check(self, version: int, ap_margin: float, k: int = 100) -> ShadowCheck:
        """Has ``version`` been shadow-scored long enough, on enough matured labels, without
        losing average precision to the champion on the same transactions?"""
        shadow, labels = read_shadow_inputs(self.settings, self.as_of)
        rows = in_period(shadow, self.as_of, None, None)
        if rows.height:
            rows = rows.filter(pl.col("challenger_version") == version)
        maturity = shadow_maturity_days(rows, labels, self.as_of, self.settings.label_maturity_days)
        report = build_report(rows, labels, self.as_of, maturity, k=k)
        comparison = report.versions[0] if report.versions else None
        failure = gate_failure(comparison, version, self.requirement, ap_margin, maturity)
        new: dict[str, float] = {"shadow_days": comparison.shadow_days if comparison else 0.0}
        old: dict[str, float] = {}
        summary = "no shadow scoring"
        if comparison is not None:
            new["shadow_matured"] = float(comparison.matured)
            new["shadow_frauds"] = float(comparison.frauds)
            summary = f"{comparison.shadow_days:.1f} shadow days"
            if comparison.challenger is not None and comparison.champion is not None:
                new["shadow_average_precision"] = comparison.challenger.average_precision
                old["shadow_average_precision"] = comparison.champion.average_precision
                summary += (
                    f", shadow AP {comparison.champion.average_precision:.4f} -> "
                    f"{comparison.challenger.average_precision:.4f} on "
                    f"{comparison.matured:,} matured transactions"
                )
        return ShadowCheck(failure, summary, new, old)
