"""Shadow logs and label feeds written the way the API writes them (``AppendLog``), for the
shadow report and gate tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fraudops.config import Settings
from fraudops.data.logs import AppendLog
from fraudops.models.decision import DecisionThresholds, decide
from fraudops.monitoring.shadow import SHADOW_LOG, SHADOW_SCHEMA

T0 = datetime(2026, 3, 1, tzinfo=UTC)
THRESHOLDS = DecisionThresholds(review=0.5, decline=0.8)
REPORT_DELAY = timedelta(days=2)  # every fraud is reported two days after it happened


def shadow_traffic(
    challenger_version: int = 2,
    days: float = 10.0,
    rows: int = 2000,
    fraud_every: int = 50,
    challenger_better: bool = True,
    start: datetime = T0,
    prefix: str = "tx",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shadow rows evenly spread over ``days`` and the labels of their frauds.

    One model ranks every fraud above every genuine transaction; the other scores at
    random. ``challenger_better`` says which one the challenger is. Every tenth genuine
    transaction also gets an explicit genuine label.
    """
    rng = np.random.default_rng(3)
    shadow, labels = [], []
    for i in range(rows):
        at = start + timedelta(days=days * i / (rows - 1))
        fraud = i % fraud_every == 0
        ranked = 0.9 if fraud else float(rng.uniform(0.0, 0.6))
        noise = float(rng.uniform(0.0, 1.0))
        champion, challenger = (noise, ranked) if challenger_better else (ranked, noise)
        tid = f"{prefix}-{challenger_version}-{i:05d}"
        shadow.append(
            {
                "transaction_id": tid,
                "timestamp": at,
                "card_id": f"card-{i % 300}",
                "amount": 20.0 + i % 97,
                "champion_version": 1,
                "champion_probability": champion,
                "champion_decision": decide(champion, THRESHOLDS),
                "challenger_version": challenger_version,
                "challenger_probability": challenger,
                "challenger_decision": decide(challenger, THRESHOLDS),
                "shadow_rules": None,
            }
        )
        if fraud or i % 10 == 1:
            reported = at + REPORT_DELAY
            labels.append(
                {
                    "transaction_id": tid,
                    "is_fraud": int(fraud),
                    "reported_at": reported,
                    "timestamp": reported,
                }
            )
    return shadow, labels


def write_logs(
    settings: Settings, shadow: list[dict[str, Any]], labels: list[dict[str, Any]]
) -> None:
    """Append to the home's shadow log and label feed, as the API's logs do."""
    shadow_log = AppendLog(settings.dataset_uri(SHADOW_LOG), schema=SHADOW_SCHEMA)
    label_log = AppendLog(settings.dataset_uri("label_feed"))
    shadow_log.append([dict(row) for row in shadow])
    label_log.append([dict(row) for row in labels])
    assert shadow_log.flush() == len(shadow)
    assert label_log.flush() == len(labels)
