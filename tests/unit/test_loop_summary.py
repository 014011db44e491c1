"""What the policy changed against the model alone, on a hand-computed window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from fraudops.models.evaluate import CostModel
from fraudops.pipelines.loop_summary import policy_effect

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_policy_effect_counts_savings_and_changes_inside_the_window() -> None:
    cost = CostModel()
    served = pl.DataFrame(
        {
            "timestamp": [T0 + timedelta(hours=h) for h in (1, 2, 3, 4, 30)],
            "amount": [100.0, 50.0, 20.0, 10.0, 999.0],
            "is_fraud": [1, 0, 1, None, 1],  # None: never labelled, counts as genuine
            # a rule declines the first fraud the model approved and reviews a genuine one
            "decision": ["decline", "review", "review", "approve", "approve"],
            "model_decision": ["approve", "approve", "review", "approve", "decline"],
        }
    )
    effect = policy_effect(served, T0, T0 + timedelta(days=1))  # the last row is outside
    model = cost.review_catch_rate * 20.0 - cost.review_cost
    policy = 100.0 + cost.review_catch_rate * 20.0 - 2 * cost.review_cost
    assert effect["model_savings"] == pytest.approx(model)
    assert effect["policy_savings"] == pytest.approx(policy)
    assert effect["policy_savings_vs_model"] == pytest.approx(policy - model)
    assert effect["frauds_flagged_by_policy"] == 2
    assert effect["frauds_flagged_by_model"] == 1
    assert effect["decisions_changed_by_policy"] == 2
