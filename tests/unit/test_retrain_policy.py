"""One retraining policy: the trigger rule, the minimum-frauds rule and the cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraudops.config import Settings
from fraudops.monitoring.retrain import (
    MIN_FRAUDS_FOR_PERFORMANCE,
    RetrainPolicy,
    judged_average_precision,
)

AS_OF = datetime(2026, 2, 16, tzinfo=UTC)
POLICY = RetrainPolicy(drift_share_threshold=0.2, psi_threshold=0.25, live_ap_floor=0.3)


def test_settings_give_the_thresholds() -> None:
    settings = Settings(drift_share_threshold=0.4, psi_threshold=0.1, live_ap_floor=0.5)
    policy = RetrainPolicy.from_settings(settings, timedelta(hours=6))
    assert policy == RetrainPolicy(0.4, 0.1, 0.5, timedelta(hours=6))


def test_each_signal_triggers_above_its_threshold_only() -> None:
    assert POLICY.reasons(0.2, ["a"], 0.25, 0.3) == []  # at the thresholds: no alarm
    assert POLICY.reasons(None, [], None, None) == []  # nothing measured: no alarm
    drift = POLICY.reasons(0.5, ["f1", "f2", "f3", "f4", "f5", "f6"], None, None)
    assert drift == ["drift share 0.50 > 0.2 (f1, f2, f3, f4, f5…)"]
    assert POLICY.reasons(None, [], 0.31, None) == ["score PSI 0.310 > 0.25"]
    assert POLICY.reasons(None, [], None, 0.1) == ["live average precision 0.100 < floor 0.3"]
    assert len(POLICY.reasons(0.5, ["f1"], 0.4, 0.1)) == 3
    assert (POLICY.drift_alarm(0.21), POLICY.score_alarm(0.26)) == (True, True)
    assert POLICY.performance_degraded(0.29)
    assert not POLICY.performance_degraded(None)


def test_live_ap_is_judged_only_on_enough_frauds() -> None:
    enough = {"known_frauds": float(MIN_FRAUDS_FOR_PERFORMANCE), "average_precision": 0.1}
    few = {**enough, "known_frauds": float(MIN_FRAUDS_FOR_PERFORMANCE - 1)}
    assert judged_average_precision(enough) == 0.1
    assert judged_average_precision(few) is None
    assert judged_average_precision({**enough, "average_precision": float("nan")}) is None
    assert judged_average_precision(None) is None
    assert POLICY.performance_degraded(judged_average_precision(enough))
    assert not POLICY.performance_degraded(judged_average_precision(few))


def test_cooldown_holds_back_a_second_trigger() -> None:
    policy = RetrainPolicy(0.2, 0.2, 0.3, cooldown=timedelta(hours=24))
    reasons = ["score PSI 0.500 > 0.2"]
    assert policy.decide(reasons, AS_OF, []).retrain
    # a re-run of the triggering window triggers again (the trigger itself is idempotent)
    assert policy.decide(reasons, AS_OF, [AS_OF]).retrain
    recent = AS_OF - timedelta(hours=5)
    held = policy.decide(reasons, AS_OF, [AS_OF - timedelta(hours=30), recent])
    assert (held.retrain, held.blocked_by) == (False, recent)
    # one full cooldown later the policy lets a trigger through again
    assert policy.decide(reasons, AS_OF, [AS_OF - timedelta(hours=24)]).retrain
    assert not policy.decide([], AS_OF, []).retrain
    no_cooldown = RetrainPolicy(0.2, 0.2, 0.3)
    assert no_cooldown.decide(reasons, AS_OF, [AS_OF - timedelta(seconds=1)]).retrain


def test_the_training_reason_is_the_verdict_cut_to_250_characters() -> None:
    decision = POLICY.decide(["a" * 200, "b" * 200], AS_OF, [])
    assert decision.reason == ("a" * 200 + "; " + "b" * 200)[:250]
    with pytest.raises(ValueError, match="cooldown must not be negative"):
        RetrainPolicy(0.2, 0.2, 0.3, cooldown=timedelta(hours=-1))
