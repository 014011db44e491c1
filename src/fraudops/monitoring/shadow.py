"""Champion against challenger on the same live transactions, once their labels mature.

The API scores the registry's challenger beside the champion and writes both into the
shadow log (``serving.shadow``); this module joins that log with the label feed and
compares the two per challenger version: average precision, card precision@k, savings of
their decisions, and which decisions would change. Pure functions on frames; reading the
logs is ``pipelines.shadow``'s job.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from fraudops.models.decision import DECISIONS
from fraudops.models.evaluate import (
    CostModel,
    average_precision,
    card_precision_at_k_per_day,
    decision_savings,
)
from fraudops.models.labels import label_maturity_days
from fraudops.monitoring.performance import known_fraud_ids

SHADOW_LOG = "shadow_predictions"  # under the data URI, beside predictions/ and label_feed/
SHADOW_SCHEMA: dict[str, pl.DataType] = {
    "transaction_id": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "card_id": pl.String(),
    "amount": pl.Float64(),
    "champion_version": pl.Int64(),
    "champion_probability": pl.Float64(),
    "champion_decision": pl.String(),
    "challenger_version": pl.Int64(),
    "challenger_probability": pl.Float64(),
    "challenger_decision": pl.String(),
    # names of the shadow rules that fired, joined with ","; null when none were evaluated
    "shadow_rules": pl.String(),
}


@dataclass(frozen=True)
class ShadowRequirement:
    """What the promotion gate asks of a challenger's shadow period (``min_days`` 0: off)."""

    min_days: int
    min_transactions: int
    min_frauds: int


@dataclass(frozen=True)
class ModelOutcome:
    """One side of the comparison on the matured transactions."""

    average_precision: float
    card_precision_at_k: float
    savings: float
    flagged: int
    frauds_flagged: int


@dataclass
class VersionComparison:
    """Champion and one challenger version on the transactions both scored."""

    challenger_version: int
    champion_versions: list[int]
    first_seen: datetime
    last_seen: datetime
    shadow_days: float
    transactions: int
    matured: int
    labelled: int
    frauds: int
    champion: ModelOutcome | None
    challenger: ModelOutcome | None
    # transitions[champion decision][challenger decision] = transactions, over all rows
    transitions: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(n for a, row in self.transitions.items() for b, n in row.items() if a != b)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["changed"] = self.changed
        return out


@dataclass
class ShadowReport:
    as_of: datetime
    since: datetime | None
    until: datetime | None
    maturity_days: int
    k: int
    versions: list[VersionComparison]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (ISO times, NaN as null)."""
        return _plain(
            {
                "as_of": self.as_of,
                "since": self.since,
                "until": self.until,
                "maturity_days": self.maturity_days,
                "k": self.k,
                "versions": [v.as_dict() for v in self.versions],
            }
        )


def shadow_maturity_days(
    shadow: pl.DataFrame, labels: pl.DataFrame, as_of: datetime, floor_days: int
) -> int:
    """Days after which a shadow-scored transaction's label counts as final: the configured
    maturity, or longer when the label feed's own reporting delays say frauds take longer
    (``models.labels.label_maturity_days``)."""
    if shadow.height == 0 or labels.height == 0:
        return floor_days
    reports = labels.group_by("transaction_id").agg(
        pl.col("is_fraud").max(), pl.col("reported_at").min().alias("label_available_at")
    )
    frame = shadow.select("transaction_id", "timestamp").join(
        reports, on="transaction_id", how="inner"
    )
    return label_maturity_days(frame, as_of, floor_days=floor_days)


def _transitions(frame: pl.DataFrame) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {a: dict.fromkeys(DECISIONS, 0) for a in DECISIONS}
    counts = frame.group_by("champion_decision", "challenger_decision").len()
    for a, b, n in counts.iter_rows():
        if a in table and b in table[a]:
            table[a][b] = int(n)
    return table


def _outcome(
    y: np.ndarray, frame: pl.DataFrame, side: str, k: int, cost: CostModel
) -> ModelOutcome:
    score = frame[f"{side}_probability"].to_numpy()
    decision = frame[f"{side}_decision"].to_numpy()
    reviewed, declined = decision == "review", decision == "decline"
    flagged = reviewed | declined
    return ModelOutcome(
        average_precision=average_precision(y, score),
        card_precision_at_k=card_precision_at_k_per_day(
            frame["timestamp"].dt.date().cast(pl.String).to_numpy(),
            frame["card_id"].to_numpy(),
            y,
            score,
            k,
        ),
        savings=decision_savings(y, frame["amount"].to_numpy(), reviewed, declined, cost),
        flagged=int(flagged.sum()),
        frauds_flagged=int((flagged & (y == 1)).sum()),
    )


def compare_version(
    rows: pl.DataFrame,
    labels: pl.DataFrame,
    as_of: datetime,
    maturity_days: int,
    k: int = 100,
    cost: CostModel | None = None,
) -> VersionComparison:
    """One challenger version's shadow rows (scored by ``as_of``) against the champion.

    Transactions at least ``maturity_days`` old are judged with the labels reported by
    ``as_of``: a confirmed fraud is 1, everything else 0 (as the monitor judges the
    champion). Decision changes are counted over every row, matured or not.
    """
    cost = cost or CostModel()
    first, last = rows["timestamp"].min(), rows["timestamp"].max()
    assert isinstance(first, datetime)
    assert isinstance(last, datetime)
    matured = rows.filter(pl.col("timestamp") <= as_of - timedelta(days=maturity_days))
    reported = labels.filter(pl.col("reported_at") <= as_of) if labels.height else labels
    fraud_ids = known_fraud_ids(labels, as_of)
    y = matured["transaction_id"].is_in(fraud_ids.implode()).to_numpy().astype(np.int64)
    labelled = (
        int(matured["transaction_id"].is_in(reported["transaction_id"].implode()).sum())
        if reported.height
        else 0
    )
    judged = matured.height > 0
    return VersionComparison(
        challenger_version=int(rows["challenger_version"][0]),
        champion_versions=sorted(int(v) for v in rows["champion_version"].drop_nulls().unique()),
        first_seen=first,
        last_seen=last,
        shadow_days=(last - first).total_seconds() / 86_400,
        transactions=rows.height,
        matured=matured.height,
        labelled=labelled,
        frauds=int(y.sum()),
        champion=_outcome(y, matured, "champion", k, cost) if judged else None,
        challenger=_outcome(y, matured, "challenger", k, cost) if judged else None,
        transitions=_transitions(rows),
    )


def in_period(
    shadow: pl.DataFrame, as_of: datetime, since: datetime | None, until: datetime | None
) -> pl.DataFrame:
    """Challenger-scored rows with ``since <= timestamp < until`` and not after ``as_of``."""
    if shadow.height == 0:
        return shadow
    keep = pl.col("challenger_version").is_not_null() & (pl.col("timestamp") <= as_of)
    if since is not None:
        keep &= pl.col("timestamp") >= since
    if until is not None:
        keep &= pl.col("timestamp") < until
    return shadow.filter(keep).unique("transaction_id", keep="last", maintain_order=True)


def build_report(
    shadow: pl.DataFrame,
    labels: pl.DataFrame,
    as_of: datetime,
    maturity_days: int,
    since: datetime | None = None,
    until: datetime | None = None,
    k: int = 100,
    cost: CostModel | None = None,
) -> ShadowReport:
    """The comparison for every challenger version in the period, oldest version first."""
    rows = in_period(shadow, as_of, since, until)
    versions = []
    if rows.height:
        for version in sorted(rows["challenger_version"].unique().to_list()):
            own = rows.filter(pl.col("challenger_version") == version)
            versions.append(compare_version(own, labels, as_of, maturity_days, k, cost))
    return ShadowReport(as_of, since, until, maturity_days, k, versions)


def gate_failure(
    comparison: VersionComparison | None,
    version: int,
    requirement: ShadowRequirement,
    ap_margin: float,
    maturity_days: int,
) -> str | None:
    """Why the shadow period does not allow promoting ``version`` (None when it does).

    It needs ``min_days`` of shadow scoring, ``min_transactions`` matured transactions with
    ``min_frauds`` known frauds among them, and a shadow AP not below the champion's on the
    same transactions by more than ``ap_margin``.
    """
    days = comparison.shadow_days if comparison else 0.0
    if days < requirement.min_days:
        return (
            f"challenger v{version} has {days:.1f} shadow days of the "
            f"{requirement.min_days} required"
        )
    assert comparison is not None
    if comparison.matured < requirement.min_transactions:
        return (
            f"challenger v{version} has {comparison.matured:,} matured shadow-scored "
            f"transactions (older than {maturity_days} days) of the "
            f"{requirement.min_transactions:,} required"
        )
    if comparison.frauds < requirement.min_frauds:
        return (
            f"challenger v{version} has {comparison.frauds} known frauds among its matured "
            f"shadow-scored transactions of the {requirement.min_frauds} required"
        )
    assert comparison.champion is not None
    assert comparison.challenger is not None
    new, old = comparison.challenger.average_precision, comparison.champion.average_precision
    if not (math.isfinite(new) and math.isfinite(old)) or new < old - ap_margin:
        return (
            f"challenger v{version}'s shadow AP {new:.4f} is below the champion's {old:.4f} "
            f"on the same {comparison.matured:,} transactions by more than {ap_margin:g}"
        )
    return None


def _number(value: float | None, spec: str) -> str:
    return "–" if value is None or not math.isfinite(value) else format(value, spec)


def comparison_rows(v: VersionComparison) -> list[tuple[str, str, str, str]]:
    """(measure, champion, challenger, challenger − champion) for the table and the page."""
    rows = [
        ("shadow days", "", _number(v.shadow_days, ".1f"), ""),
        ("transactions shadow-scored", "", f"{v.transactions:,}", ""),
        ("matured", "", f"{v.matured:,}", ""),
        ("with a label", "", f"{v.labelled:,}", ""),
        ("known frauds", "", f"{v.frauds:,}", ""),
    ]
    old, new = v.champion, v.challenger
    if old is None or new is None:
        return rows
    for name, attribute, spec in (
        ("average precision", "average_precision", ".4f"),
        ("card precision@k", "card_precision_at_k", ".4f"),
        ("savings", "savings", ",.0f"),
        ("flagged (review or decline)", "flagged", ",d"),
        ("frauds flagged", "frauds_flagged", ",d"),
    ):
        a, b = getattr(old, attribute), getattr(new, attribute)
        diff = b - a if math.isfinite(a) and math.isfinite(b) else None
        sign = "+" if diff is not None and diff >= 0 else ""
        rows.append((name, _number(a, spec), _number(b, spec), sign + _number(diff, spec)))
    return rows


def _plain(value: Any) -> Any:
    """JSON-ready: times as ISO text, NaN as null."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
