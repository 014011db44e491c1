"""The closed loop's results, summarised: detection, retraining, promotion, live AP per
phase and what the decision policy changed against the model alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from fraudops.config import Settings
from fraudops.data import store
from fraudops.models.evaluate import CostModel, average_precision, decision_savings
from fraudops.pipelines.analysts import recovery_days

if TYPE_CHECKING:
    from fraudops.pipelines.loop import LoopConfig, LoopResult

# the summary facts shown first, by the CLI's table and the HTML report alike
HEADLINE_FACTS = (
    "drift_day",
    "drift_detected_day",
    "false_alarms_before_drift",
    "retrain_triggered",
    "promoted_version",
    "promoted_day",
    "live_ap_before_drift",
    "live_ap_after_drift",
    "live_ap_after_retrain",
    "policy_savings_vs_model",
    "recovery_days_chargebacks_only",
    "recovery_days_with_analysts",
)


def served_ap(served: pl.DataFrame, start: datetime, end: datetime) -> float | None:
    """AP of what was actually served in ``[start, end)``, judged with final labels
    (``served``: the prediction log joined with the simulator's ``is_fraud``)."""
    if served.height == 0:
        return None
    window = served.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))
    y = window["is_fraud"].fill_null(0).to_numpy()
    value = average_precision(y, window["fraud_probability"].to_numpy())
    return None if not np.isfinite(value) else round(value, 4)


def policy_effect(served: pl.DataFrame, start: datetime, end: datetime) -> dict[str, Any]:
    """What the lists and rules changed against the model's thresholds alone in
    ``[start, end)``: savings of both (``models.evaluate.decision_savings``, default
    costs), frauds flagged by both, decisions changed — judged with final labels."""
    window = served.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))
    y = window["is_fraud"].fill_null(0).to_numpy()
    amount = window["amount"].to_numpy()
    cost = CostModel()

    def effect(column: str) -> tuple[float, int]:
        decisions = window[column].to_numpy()
        reviewed, declined = decisions == "review", decisions == "decline"
        flagged = int(((reviewed | declined) & (y == 1)).sum())
        return round(decision_savings(y, amount, reviewed, declined, cost), 2), flagged

    policy_savings, policy_flagged = effect("decision")
    model_savings, model_flagged = effect("model_decision")
    return {
        "policy_savings": policy_savings,
        "model_savings": model_savings,
        "policy_savings_vs_model": round(policy_savings - model_savings, 2),
        "frauds_flagged_by_policy": policy_flagged,
        "frauds_flagged_by_model": model_flagged,
        "decisions_changed_by_policy": int((window["decision"] != window["model_decision"]).sum()),
    }


def summarise(settings: Settings, config: LoopConfig, result: LoopResult) -> dict[str, Any]:
    """The demo's contract: detection day, retraining, promotion and live AP per phase."""
    days = result.days
    drift = config.drift_day
    false_alarms = sum(d.retrain_verdict for d in days if drift is None or d.day < drift)
    detected = next(
        (d.day for d in days if drift is not None and d.day >= drift and d.retrain_verdict), None
    )
    promotions = [d for d in days if d.promoted_version is not None]
    after_drift_promotion = next(
        (d for d in promotions if drift is not None and d.day >= drift), None
    )
    truth = store.read_dataset(store.join_uri(settings.dataset_uri("validated"), "clean")).select(
        "transaction_id", "is_fraud"
    )
    first = datetime.fromisoformat(days[0].date).replace(tzinfo=UTC)
    sim_start = first - timedelta(days=config.warmup_days)

    def at(index: int) -> datetime:
        return sim_start + timedelta(days=index)

    live_start, end = at(config.warmup_days), at(config.days)
    served = store.read_chunks(settings.dataset_uri("predictions")).join(
        truth, on="transaction_id", how="left"
    )
    per_day = {}
    for (day,), part in served.group_by(pl.col("timestamp").dt.date().cast(pl.String)):
        value = average_precision(
            part["is_fraud"].fill_null(0).to_numpy(), part["fraud_probability"].to_numpy()
        )
        per_day[day] = None if not np.isfinite(value) else round(value, 4)
    timeline = [{**d.__dict__, "served_ap": per_day.get(d.date)} for d in days]
    drift_at = at(drift) if drift is not None else end
    retrain_at = at(after_drift_promotion.day + 1) if after_drift_promotion else None
    return {
        "days": config.days,
        "warmup_days": config.warmup_days,
        "drift_day": drift,
        "drift_kinds": list(config.drift_kinds),
        "drift_detected_day": detected,
        "detection_delay_days": None if detected is None or drift is None else detected - drift,
        "false_alarms_before_drift": false_alarms,
        "retrain_triggered": any(d.retrained for d in days),
        "retrainings": [
            {
                "day": r["day"],
                "version": r.get("registered_version"),
                "promotion": r.get("promotion"),
            }
            for r in result.retrainings
        ],
        "promoted_version": after_drift_promotion.promoted_version
        if after_drift_promotion
        else None,
        "promoted_day": after_drift_promotion.day if after_drift_promotion else None,
        "initial_champion": result.initial_training.get("registered_version"),
        "initial_comparison": result.initial_training.get("models"),
        "initial_champion_algorithm": result.initial_training.get("best"),
        "live_ap_before_drift": served_ap(served, live_start, drift_at),
        "live_ap_after_drift": served_ap(served, drift_at, retrain_at or end),
        "live_ap_after_retrain": served_ap(served, retrain_at, end) if retrain_at else None,
        "live_ap_note": "AP of the served scores, judged with the simulator's final labels",
        "transactions_scored": sum(d.transactions for d in days),
        "frauds": sum(d.frauds for d in days),
        "frauds_caught": sum(d.frauds_caught for d in days),
        "drift_threshold": settings.drift_share_threshold,
        "rules": str(config.rules_path) if config.rules_path else None,
        **policy_effect(served, live_start, end),
        "recovery_days": None
        if drift is None
        else recovery_days([d.__dict__ for d in days], drift),
        **(result.analysts or {}),
        "timeline": timeline,
    }


def compare_arms(with_analysts: dict[str, Any], chargebacks_only: dict[str, Any]) -> dict[str, Any]:
    """The demo's two arms side by side: the same world, seed and first champion, with
    and without the analyst team. Recovery is counted in days from the drift until the
    share of frauds caught is back to 80 % of its pre-drift level (``recovery_days``)."""

    def shares(summary: dict[str, Any]) -> list[float | None]:
        return [
            round(d["frauds_caught"] / d["frauds"], 4) if d["frauds"] else None
            for d in summary["timeline"]
        ]

    fast, slow = with_analysts["recovery_days"], chargebacks_only["recovery_days"]
    return {
        "recovery_days_with_analysts": fast,
        "recovery_days_chargebacks_only": slow,
        "recovery_speedup": round(slow / fast, 2) if fast and slow else None,
        "frauds_caught_chargebacks_only": chargebacks_only["frauds_caught"],
        "live_ap_after_drift_chargebacks_only": chargebacks_only["live_ap_after_drift"],
        "first_champion_ap_both_arms": [
            (s["initial_comparison"] or {})
            .get(s["initial_champion_algorithm"], {})
            .get("average_precision")
            for s in (with_analysts, chargebacks_only)
        ],
        "caught_share_with_analysts": shares(with_analysts),
        "caught_share_chargebacks_only": shares(chargebacks_only),
    }
