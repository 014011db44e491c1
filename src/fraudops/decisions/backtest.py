"""Backtest a rules file on scored history: what each rule would have caught and cost.

Pure and vectorised: a frame with the context columns (transaction fields, features,
``probability``, ``hour``/``weekday``/``score`` — :func:`add_context_columns` derives the
last three) and the label columns in, a :class:`BacktestReport` out. Labels are the ones
known at ``label_cutoff`` (by default the end of the window: what an analyst could have
known), through :func:`fraudops.models.labels.labels_known_at`.

Per rule (active and shadow alike, each judged on its own): hits in total and per day,
precision on known labels, fraud amount caught, distinct genuine cards affected, and the
overlap with the model's own review/decline decisions. For the active policy as a whole
(lists -> rules -> thresholds, :mod:`fraudops.decisions.policy`): its decisions and
savings against the model's thresholds alone (:func:`fraudops.models.evaluate.decision_savings`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import polars as pl

from fraudops.decisions.context import LIST_KINDS, parse_list_flag
from fraudops.decisions.policy import STAGES, policy_columns, with_missing_flags
from fraudops.decisions.rules import CompiledRules
from fraudops.models.decision import DECISIONS, MAX_POINTS, DecisionThresholds, decision_expr
from fraudops.models.evaluate import CostModel, decision_savings
from fraudops.models.labels import labels_known_at

REQUIRED = ("timestamp", "card_id", "amount", "probability", "is_fraud", "label_available_at")


@dataclass(frozen=True)
class RuleFigures:
    """One rule over the window. ``precision``: known frauds among hits (NaN without
    hits); ``overlap``: share of hits the model alone flags (review or decline)."""

    name: str
    outcome: str
    mode: str
    priority: int
    hits: int
    hits_per_day: dict[str, int]
    known_frauds: int
    precision: float
    fraud_amount: float
    genuine_cards: int
    model_flagged: int
    overlap: float
    condition: str = ""
    description: str = ""


@dataclass(frozen=True)
class BacktestReport:
    rules_version: str
    rules_digest: str
    start: datetime | None
    end: datetime | None
    label_cutoff: datetime | None
    transactions: int
    known_frauds: int
    fraud_amount: float
    days: list[str]
    thresholds: dict[str, float]
    rules: list[RuleFigures]
    model: dict[str, Any]  # decisions, savings of the model's thresholds alone
    policy: dict[str, Any]  # decisions, stages, savings of lists -> rules -> thresholds
    savings_vs_model: float
    changed_decisions: int
    cost: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("start", "end", "label_cutoff"):
            value = out[key]
            out[key] = None if value is None else value.isoformat()
        return _finite(out)


def _finite(value: Any) -> Any:
    """NaN -> None, so the JSON form is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def add_context_columns(frame: pl.DataFrame, probability: str = "probability") -> pl.DataFrame:
    """The derived context names a request has: ``hour``/``weekday`` (UTC, 0 = Monday) of
    ``timestamp`` and the 0-999 ``score`` of the probability (as ``score_points``)."""
    p = pl.col(probability).cast(pl.Float64)
    return frame.with_columns(
        pl.col("timestamp").dt.hour().cast(pl.Int64).alias("hour"),
        (pl.col("timestamp").dt.weekday().cast(pl.Int64) - 1).alias("weekday"),
        (p * 1000).floor().cast(pl.Int64).clip(upper_bound=MAX_POINTS).alias("score"),
    )


def list_flag_columns(
    frame: pl.DataFrame, entries: Iterable[Mapping[str, Any]], flags: Iterable[str]
) -> pl.DataFrame:
    """Membership flags ``list_<list>_<kind>`` for ``flags`` from list entries
    (``{"list", "kind", "value", "expires_at"}``): true where the transaction's field of
    that kind equals an entry's value and the entry had not expired at the transaction's
    time. Flags with no entry are False."""
    by_flag: dict[str, list[tuple[str, datetime | None]]] = {}
    for entry in entries:
        flag = f"list_{entry['list']}_{entry['kind']}"
        expires = entry.get("expires_at")
        if isinstance(expires, str):
            expires = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        by_flag.setdefault(flag, []).append((str(entry["value"]), expires))
    columns = []
    for flag in sorted(set(flags)):
        parsed = parse_list_flag(flag)
        if parsed is None:
            raise ValueError(f"{flag!r} is not a list membership flag")
        field = LIST_KINDS[parsed[1]]
        listed = by_flag.get(flag, [])
        if not listed or field not in frame.columns:
            columns.append(pl.lit(False).alias(flag))
            continue
        # the latest expiry per value; None (never expires) beats any date
        latest: dict[str, datetime | None] = {}
        for value, expires in listed:
            known = latest.get(value, expires)
            latest[value] = None if expires is None or known is None else max(known, expires)
        values = list(latest)
        never = pl.Series([v for v in values if latest[v] is None], dtype=pl.String)
        condition = pl.col(field).cast(pl.String).is_in(never.implode())
        for value in values:
            expiry = latest[value]
            if expiry is not None:
                condition = condition | (
                    (pl.col(field).cast(pl.String) == value) & (pl.col("timestamp") < expiry)
                )
        columns.append(condition.fill_null(False).alias(flag))
    return frame.with_columns(columns) if columns else frame


def policy_flags(compiled: CompiledRules | None) -> set[str]:
    """The list flags a backtest must compute: the policy's own and those rules read."""
    needed = {f"list_{name}_{kind}" for name in ("allow", "block") for kind in LIST_KINDS}
    if compiled is not None:
        needed |= {n for n in compiled.names_used if parse_list_flag(n) is not None}
    return needed


def _counts(series: pl.Series, keys: Iterable[str]) -> dict[str, int]:
    counts = dict(series.value_counts().iter_rows())
    return {k: int(counts.get(k, 0)) for k in keys}


def backtest_frame(
    frame: pl.DataFrame,
    compiled: CompiledRules,
    thresholds: DecisionThresholds,
    label_cutoff: datetime | None,
    window: tuple[datetime | None, datetime | None] = (None, None),
    cost: CostModel | None = None,
) -> BacktestReport:
    """Every figure of the backtest, from one pass of polars expressions."""
    cost = cost or CostModel()
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"the backtest frame lacks column(s) {', '.join(missing)}")
    missing_names = sorted(
        n for n in compiled.names_used if n not in frame.columns and parse_list_flag(n) is None
    )
    if missing_names:
        raise ValueError(f"the rules read {', '.join(missing_names)}, absent from the data")
    y = labels_known_at(frame, label_cutoff)
    expressions = compiled.expressions()
    keys = {name: f"__r{i}" for i, name in enumerate(expressions)}
    # each rule's truth is computed once and read by the figures and by the policy
    frame = with_missing_flags(frame, compiled.names_used).with_columns(
        pl.Series("__fraud", y.astype(bool)),
        decision_expr(pl.col("probability"), thresholds).alias("__model"),
        pl.col("timestamp").dt.date().cast(pl.String).alias("__day"),
        *[e.alias(keys[name]) for name, e in expressions.items()],
    )
    holds = {name: pl.col(key) for name, key in keys.items()}
    frame = policy_columns(frame, compiled, thresholds, holds=holds)
    fraud, flagged = pl.col("__fraud"), pl.col("__model") != "approve"
    amount = pl.col("amount").cast(pl.Float64)
    rule_columns = [pl.col(key) for key in keys.values()]
    # a sentinel aggregation keeps every table well-formed for a file without rules
    sentinel = pl.lit(0).alias("__rows")
    totals = frame.select(
        sentinel.sum(),
        *(
            pl.concat_list(
                r.sum().cast(pl.Float64),
                (r & fraud).sum().cast(pl.Float64),
                amount.filter(r & fraud).sum(),
                (r & flagged).sum().cast(pl.Float64),
            ).alias(f"t{i}")
            for i, r in enumerate(rule_columns)
        ),
    ).row(0)[1:]
    # genuine cards affected: one pass over the cards (a string n_unique per rule is slow)
    genuine_cards = (
        frame.group_by("card_id")
        .agg(
            sentinel.sum(), *((r & ~fraud).any().alias(f"g{i}") for i, r in enumerate(rule_columns))
        )
        .select(pl.exclude("card_id").sum())
        .row(0)[1:]
    )
    per_day = (
        frame.group_by("__day")
        .agg(sentinel.sum(), *(r.sum().alias(f"d{i}") for i, r in enumerate(rule_columns)))
        .sort("__day")
    )
    days = per_day["__day"].to_list()
    figures = []
    for i, rule in enumerate(compiled.rules):
        n, frauds, caught, model_flagged = totals[i]
        figures.append(
            RuleFigures(
                name=rule.name,
                outcome=rule.outcome,
                mode=rule.mode,
                priority=rule.priority,
                hits=int(n),
                hits_per_day=dict(zip(days, map(int, per_day[f"d{i}"].to_list()), strict=True)),
                known_frauds=int(frauds),
                precision=frauds / n if n else math.nan,
                fraud_amount=round(float(caught), 2),
                genuine_cards=int(genuine_cards[i]),
                model_flagged=int(model_flagged),
                overlap=model_flagged / n if n else math.nan,
                condition=rule.condition,
                description=rule.description,
            )
        )
    amounts = frame["amount"].cast(pl.Float64).to_numpy()
    model_decision, policy_decision = frame["__model"], frame["policy_decision"]

    def savings(decisions: pl.Series) -> float:
        reviewed = (decisions == "review").to_numpy()
        declined = (decisions == "decline").to_numpy()
        return round(decision_savings(y, amounts, reviewed, declined, cost), 2)

    model_savings, policy_savings = savings(model_decision), savings(policy_decision)
    return BacktestReport(
        rules_version=compiled.version,
        rules_digest=compiled.digest,
        start=window[0],
        end=window[1],
        label_cutoff=label_cutoff,
        transactions=frame.height,
        known_frauds=int(y.sum()),
        fraud_amount=round(float(amounts[y == 1].sum()), 2),
        days=days,
        thresholds=thresholds.as_dict(),
        rules=figures,
        model={"decisions": _counts(model_decision, DECISIONS), "savings": model_savings},
        policy={
            "decisions": _counts(policy_decision, DECISIONS),
            "stages": _counts(frame["policy_stage"], STAGES),
            "savings": policy_savings,
        },
        savings_vs_model=round(policy_savings - model_savings, 2),
        changed_decisions=int((model_decision != policy_decision).sum()),
        cost=cost.as_dict(),
    )
