"""The decision policy: allow list beats block list beats rules beats thresholds, adjust
rules move the probability, shadow rules change nothing — per request and vectorised
alike."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudops.decisions.policy import apply_policy, policy_columns
from fraudops.decisions.rules import compile_rules, parse_rules
from fraudops.models.decision import DecisionThresholds

THRESHOLDS = DecisionThresholds(review=0.3, decline=0.8)
RULES = compile_rules(
    parse_rules(
        """
version: policy
rules:
  - name: big_review
    condition: amount > 1000
    outcome: review
    priority: 10
  - name: tiny_approve
    condition: amount < 1
    outcome: approve
  - name: watch_adjust
    condition: list_watch_card
    outcome: adjust
    adjust: 0.4
  - name: ecom_adjust
    condition: channel == "ecom"
    outcome: adjust
    adjust: -0.2
  - name: shadow_decline
    condition: amount > 0
    outcome: decline
    priority: 100
    mode: shadow
"""
    )
)


def decide(**context: Any) -> tuple[str, str, str, float]:
    out = apply_policy({"amount": 50.0, "probability": 0.1, **context}, RULES, THRESHOLDS)
    return out.decision, out.stage, out.name, out.probability


def test_allow_beats_block_beats_rules_beats_thresholds() -> None:
    everything = {"amount": 5000.0, "probability": 0.95}
    assert decide(**everything, list_allow_card=True, list_block_country=True)[:3] == (
        "approve",
        "allow_list",
        "card",
    )
    assert decide(**everything, list_block_country=True)[:3] == ("decline", "block_list", "country")
    assert decide(**everything)[:3] == ("review", "rule", "big_review")  # not the 0.95 decline
    assert decide(probability=0.95)[:3] == ("decline", "threshold", "decline")
    assert decide(amount=0.5, probability=0.95)[:3] == ("approve", "rule", "tiny_approve")


def test_adjust_rules_add_points_before_the_thresholds_and_are_clipped() -> None:
    assert decide(probability=0.1, list_watch_card=True) == pytest.approx(
        ("review", "threshold", "review", 0.5)
    )
    assert decide(probability=0.9, channel="ecom")[:3] == ("review", "threshold", "review")
    assert decide(probability=0.1, channel="ecom")[3] == 0.0
    assert decide(probability=0.8, list_watch_card=True)[3] == 1.0


def test_shadow_rules_are_reported_but_never_decide() -> None:
    out = apply_policy({"amount": 50.0, "probability": 0.1}, RULES, THRESHOLDS)
    assert out.decision == "approve"
    assert out.shadow_fired == ("shadow_decline",)
    assert "shadow_decline" not in out.fired


def test_without_rules_the_thresholds_decide() -> None:
    out = apply_policy({"probability": 0.5}, None, THRESHOLDS)
    assert (out.decision, out.stage, out.fired) == ("review", "threshold", ())


def test_a_missing_probability_is_refused() -> None:
    with pytest.raises(ValueError, match="probability"):
        apply_policy({"amount": 1.0}, RULES, THRESHOLDS)


def test_missing_list_flag_columns_mean_not_listed() -> None:
    frame = pl.DataFrame({"amount": [50.0], "channel": ["pos"], "probability": [0.5]})
    out = policy_columns(frame, RULES, THRESHOLDS)
    assert out.select("policy_decision", "policy_stage").row(0) == ("review", "threshold")


flags = st.one_of(st.none(), st.booleans())


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "amount": draw(st.one_of(st.none(), st.sampled_from([0.5, 50.0, 5000.0]))),
        "channel": draw(st.one_of(st.none(), st.sampled_from(["ecom", "pos"]))),
        "probability": draw(st.floats(0, 1)),
        "list_watch_card": draw(flags),
        "list_allow_device": draw(flags),
        "list_block_card": draw(flags),
        "list_block_country": draw(flags),
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(rows(), min_size=1, max_size=12), lazy=st.booleans())
def test_the_vectorised_policy_decides_like_the_per_request_one(
    batch: list[dict[str, Any]], lazy: bool
) -> None:
    frame = pl.DataFrame(
        batch, schema_overrides={k: pl.Boolean for k in batch[0] if k.startswith("list_")}
    )
    out = policy_columns(frame.lazy() if lazy else frame, RULES, THRESHOLDS)
    vectorised = (
        (out.collect() if isinstance(out, pl.LazyFrame) else out)
        .select("policy_decision", "policy_stage", "policy_name", "policy_probability")
        .rows()
    )
    for row, got in zip(batch, vectorised, strict=True):
        one = apply_policy(row, RULES, THRESHOLDS)
        assert got == (one.decision, one.stage, one.name, one.probability)
