"""The decision policy: allow list -> block list -> active rules -> model thresholds.

One order, two forms that agree: :func:`apply_policy` decides one transaction from its
context mapping (the API); :func:`policy_columns` decides every row of a frame (bulk
scoring, backtests).

1. any ``list_allow_<kind>`` flag set: approve (stage ``allow_list``, name = the kind);
2. any ``list_block_<kind>`` flag set: decline (``block_list``);
3. the first active approve/review/decline rule that holds, by priority: its outcome
   (``rule``, name = the rule);
4. otherwise the model's thresholds on ``clip(probability + adjust, 0, 1)``, ``adjust``
   being the sum of the active adjust rules that hold (``threshold``, name = the
   threshold decision).

A flag that is absent (from the mapping or the frame) means "not listed". Shadow rules
are evaluated and reported in ``shadow_fired`` but never change the decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import polars as pl

from fraudops.decisions.context import LIST_KINDS, list_flag
from fraudops.decisions.expressions import flag_is_set
from fraudops.decisions.rules import NO_RULES, CompiledRules, RulesResult
from fraudops.models.decision import Decision, DecisionThresholds, decide, decision_expr

# "degraded": the online store was unavailable and the configured fail-open/closed decision
# stood in for the rules and thresholds (serving only; backtests never produce it)
Stage = Literal["allow_list", "block_list", "rule", "threshold", "degraded"]
STAGES: tuple[Stage, ...] = ("allow_list", "block_list", "rule", "threshold")
POLICY_COLUMNS = ("policy_decision", "policy_stage", "policy_name", "policy_probability")
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

ALLOW_FLAGS = tuple(list_flag("allow", kind) for kind in LIST_KINDS)
BLOCK_FLAGS = tuple(list_flag("block", kind) for kind in LIST_KINDS)


@dataclass(frozen=True)
class PolicyOutcome:
    """The decision for one transaction, which stage made it and why.

    ``name``: the list kind (``card``…), the rule's name, or the threshold decision;
    ``probability``: the model's probability after the active adjust rules (clipped)."""

    decision: Decision
    stage: Stage
    name: str
    probability: float
    fired: tuple[str, ...] = ()
    shadow_fired: tuple[str, ...] = ()


def _listed(context: Mapping[str, Any], flags: tuple[str, ...]) -> str | None:
    for flag, kind in zip(flags, LIST_KINDS, strict=True):
        if flag_is_set(context.get(flag)):
            return kind
    return None


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def apply_policy(
    context: Mapping[str, Any],
    compiled: CompiledRules | None,
    thresholds: DecisionThresholds,
) -> PolicyOutcome:
    """Decide one transaction. ``context`` holds the names of
    :mod:`fraudops.decisions.context`; ``probability`` is required."""
    probability = context.get("probability")
    if probability is None or not math.isfinite(probability):
        raise ValueError("the policy needs the model's probability in the context")
    result = compiled.evaluate(context) if compiled is not None else NO_RULES
    allowed, blocked = _listed(context, ALLOW_FLAGS), _listed(context, BLOCK_FLAGS)
    return outcome_of(float(probability), allowed, blocked, result, thresholds)


def outcome_of(
    probability: float,
    allowed: str | None,
    blocked: str | None,
    result: RulesResult,
    thresholds: DecisionThresholds,
) -> PolicyOutcome:
    """The policy's order: the allow list's kind that matched, then the block list's, then
    the decisive rule, then the thresholds on the adjusted probability."""
    fired, shadow = result.fired, result.shadow_fired
    adjusted = _clip(probability + result.adjust)
    if allowed is not None:
        return PolicyOutcome("approve", "allow_list", allowed, adjusted, fired, shadow)
    if blocked is not None:
        return PolicyOutcome("decline", "block_list", blocked, adjusted, fired, shadow)
    if result.decisive is not None:
        rule = result.decisive
        outcome: Decision = rule.outcome  # type: ignore[assignment]  # decisive: not adjust
        return PolicyOutcome(outcome, "rule", rule.name, adjusted, fired, shadow)
    decision = decide(adjusted, thresholds)
    return PolicyOutcome(decision, "threshold", decision, adjusted, fired, shadow)


def _flag(columns: set[str], name: str) -> pl.Expr:
    # bool flags only: a non-boolean column would mean a caller's mix-up, not membership
    if name not in columns:
        return pl.lit(False)
    return pl.col(name).cast(pl.Boolean).fill_null(False)


def with_missing_flags(frame: Frame, names: frozenset[str] | set[str]) -> Frame:
    """Add every list flag among ``names`` that the frame lacks, as False (not listed)."""
    from fraudops.decisions.context import parse_list_flag

    columns = set(frame.collect_schema().names())
    missing = sorted(n for n in names if parse_list_flag(n) is not None and n not in columns)
    return frame.with_columns([pl.lit(False).alias(n) for n in missing]) if missing else frame


def policy_columns(
    frame: Frame,
    compiled: CompiledRules | None,
    thresholds: DecisionThresholds,
    probability: str = "probability",
    holds: Mapping[str, pl.Expr] | None = None,
) -> Frame:
    """``frame`` with ``policy_decision``, ``policy_stage``, ``policy_name`` and
    ``policy_probability`` added; the frame carries the context names as columns (its
    ``probability`` column named by ``probability``). ``holds``: each rule's truth when
    the caller has computed it already (default: the rules' own expressions)."""
    if compiled is not None:
        frame = with_missing_flags(frame, compiled.names_used)
    columns = set(frame.collect_schema().names())
    if probability not in columns:
        raise ValueError(f"the policy needs the model's probability: no column {probability!r}")
    adjust: pl.Expr = pl.lit(0.0)
    first: Any = None  # index of the first decisive active rule that holds
    names: list[str] = []
    outcomes: list[str] = []
    if compiled is not None:
        expressions = holds if holds is not None else compiled.expressions()
        for rule in compiled.rules:
            if not rule.active:
                continue
            condition = expressions[rule.name]
            if rule.decisive:
                index = pl.lit(len(names), pl.Int32)
                first = (pl if first is None else first).when(condition).then(index)
                names.append(rule.name)
                outcomes.append(rule.outcome)
            else:  # summed in evaluation order, as the per-request form adds them
                adjust = adjust + pl.when(condition).then(pl.lit(rule.adjust)).otherwise(0.0)
    adjusted = (pl.col(probability).cast(pl.Float64) + adjust).clip(0.0, 1.0)
    rule_index = pl.lit(None, pl.Int32) if first is None else first  # null: no rule holds
    allow_kind = _first_kind(columns, ALLOW_FLAGS)
    block_kind = _first_kind(columns, BLOCK_FLAGS)
    by_threshold = decision_expr(pl.col("policy_probability"), thresholds)
    r = pl.col("__policy_rule")
    by_rule = r.is_not_null()
    rule_name = r.replace_strict(range(len(names)), names, default=None, return_dtype=pl.String)
    rule_outcome = r.replace_strict(
        range(len(names)), outcomes, default=None, return_dtype=pl.String
    )
    listed = pl.col("__allow").is_not_null(), pl.col("__block").is_not_null()
    return (
        frame.with_columns(
            adjusted.alias("policy_probability"),
            rule_index.alias("__policy_rule"),
            allow_kind.alias("__allow"),
            block_kind.alias("__block"),
        )
        .with_columns(
            pl.when(listed[0])
            .then(pl.lit("approve"))
            .when(listed[1])
            .then(pl.lit("decline"))
            .when(by_rule)
            .then(rule_outcome)
            .otherwise(by_threshold)
            .alias("policy_decision"),
            pl.when(listed[0])
            .then(pl.lit("allow_list"))
            .when(listed[1])
            .then(pl.lit("block_list"))
            .when(by_rule)
            .then(pl.lit("rule"))
            .otherwise(pl.lit("threshold"))
            .alias("policy_stage"),
            pl.when(listed[0])
            .then(pl.col("__allow"))
            .when(listed[1])
            .then(pl.col("__block"))
            .when(by_rule)
            .then(rule_name)
            .otherwise(by_threshold)
            .alias("policy_name"),
        )
        .select(pl.exclude(*POLICY_COLUMNS, "__policy_rule", "__allow", "__block"), *POLICY_COLUMNS)
    )


def _first_kind(columns: set[str], flags: tuple[str, ...]) -> pl.Expr:
    """The first listed kind of a row (in LIST_KINDS order), null when none is."""
    expr: Any = None
    for flag, kind in zip(flags, LIST_KINDS, strict=True):
        if flag not in columns:
            continue
        holds = _flag(columns, flag)
        expr = (
            pl.when(holds).then(pl.lit(kind))
            if expr is None
            else expr.when(holds).then(pl.lit(kind))
        )
    return pl.lit(None, pl.String) if expr is None else expr.otherwise(pl.lit(None, pl.String))
