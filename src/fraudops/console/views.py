"""What the console's pages show, computed from the service's state (no HTTP here)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from prometheus_client import CollectorRegistry

from fraudops.cases.models import Case
from fraudops.cases.store import utc
from fraudops.data import store

logger = logging.getLogger(__name__)
HISTORY_DAYS = 7
TIMELINE_COLUMNS = ("transaction_id", "timestamp", "amount", "fraud_probability", "decision")


def card_timeline(
    case: Case, card_cases: list[Case], predictions_uri: str | None, options: dict[str, Any]
) -> list[dict[str, Any]]:
    """The card's recent transactions, newest first: its scored transactions from the
    prediction log (the week before the case) and every case it has had."""
    rows: dict[str, dict[str, Any]] = {}
    if predictions_uri is not None:
        end = utc(case.transaction_time)
        try:
            log = store.read_chunks(
                predictions_uri, (end - timedelta(days=HISTORY_DAYS)).date(), end.date(), options
            )
        except Exception:  # an unreadable log must not take the case page down
            logger.warning("could not read the prediction log for a timeline", exc_info=True)
            log = pl.DataFrame()
        if log.height and "card_id" in log.columns:
            mine = log.filter(pl.col("card_id") == case.card_id).select(
                [c for c in TIMELINE_COLUMNS if c in log.columns]
            )
            for row in mine.iter_rows(named=True):
                rows[row["transaction_id"]] = {**row, "case_id": None, "state": None}
    for other in card_cases:
        rows[other.transaction_id] = {
            "transaction_id": other.transaction_id,
            "timestamp": utc(other.transaction_time),
            "amount": other.amount,
            "fraud_probability": other.fraud_probability,
            "decision": other.decision,
            "case_id": other.id,
            "state": other.state,
        }
    return sorted(rows.values(), key=lambda r: utc(r["timestamp"]), reverse=True)


def rule_rows(
    rules: Any, registry: CollectorRegistry, backtest: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Each rule in force with its live hits and hit rate since the process started, and
    its figures from the last saved backtest (when one names it)."""
    scored = sum(
        registry.get_sample_value("fraudops_predictions_total", {"decision": d}) or 0.0
        for d in ("approve", "review", "decline")
    )
    tested = {r.get("name"): r for r in (backtest or {}).get("rules", []) if isinstance(r, dict)}
    rows = []
    for rule in rules.rules if rules is not None else ():
        hits = registry.get_sample_value(
            "fraudops_rule_hits_total", {"rule": rule.name, "mode": rule.mode}
        )
        hits = hits or 0.0
        rows.append(
            {
                "rule": rule,
                "hits": int(hits),
                "hit_rate": hits / scored if scored else None,
                "backtest": tested.get(rule.name),
            }
        )
    return rows


def last_backtest(home: Path) -> dict[str, Any] | None:
    """The report saved by ``fraudops rules backtest --json > $FRAUDOPS_HOME/backtest.json``."""
    path = home / "backtest.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        logger.warning("%s is not a backtest report", path)
        return None
    return data if isinstance(data, dict) else None


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def now_utc() -> datetime:
    return datetime.now(UTC)
