"""The decision stage without a rule set decides a batch from the list hits alone; its
outcomes are the ones ``apply_policy`` gives each transaction's full context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudops.decisions.lists import ListCache, ListEntry, MemoryListBackend
from fraudops.decisions.policy import apply_policy
from fraudops.features.spec import feature_names
from fraudops.models.decision import DecisionThresholds
from fraudops.serving.decisions import DecisionStage, RulesHolder, event_time

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
THRESHOLDS = DecisionThresholds(review=0.3, decline=0.7)
VALUES = {"card": ["c1", "c2"], "merchant": ["m1", "m2"], "terminal": ["t1"], "country": ["FR"]}

transactions = st.lists(
    st.fixed_dictionaries(
        {
            "transaction_id": st.uuids().map(str),
            "timestamp": st.integers(0, 7200).map(lambda s: NOW + timedelta(seconds=s)),
            "card_id": st.sampled_from(["c1", "c2", "c3"]),
            "merchant_id": st.sampled_from(["m1", "m2"]),
            "terminal_id": st.sampled_from(["t1", "t2"]),
            "device_id": st.sampled_from([None, "d1"]),
            "country": st.sampled_from(["FR", "DE"]),
        }
    ),
    min_size=1,
    max_size=30,
)
entries = st.lists(
    st.tuples(
        st.sampled_from(["allow", "block"]),
        st.sampled_from(sorted(VALUES)),
        st.integers(0, 1),
        st.sampled_from([None, 0.5, 3.0]),  # hours until expiry; None never expires
    ),
    max_size=6,
)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(txs=transactions, listed=entries, seed=st.integers(0, 2**32 - 1))
def test_a_batch_without_rules_decides_as_apply_policy_on_each_context(
    txs: list[dict[str, object]], listed: list[tuple[str, str, int, float | None]], seed: int
) -> None:
    cache = ListCache(MemoryListBackend())
    for list_name, kind, which, hours in listed:
        values = VALUES[kind]
        expires = NOW + timedelta(hours=hours) if hours is not None else None
        value = values[which % len(values)]
        cache.add(ListEntry(list_name, kind, value, expires, "test", "tester", NOW))
    names = feature_names()
    stage = DecisionStage(RulesHolder(path=None), cache, names, clock=event_time)
    rng = np.random.default_rng(seed)
    x = rng.random((len(txs), len(names)))
    probability = rng.choice([0.0, 0.3, 0.5, 0.7, 1.0, *rng.random(4)], size=len(txs))
    got = stage.decide(txs, x, probability, THRESHOLDS)
    expected = [
        apply_policy(stage.context(tx, x[i], float(p), event_time(tx)), None, THRESHOLDS)
        for i, (tx, p) in enumerate(zip(txs, probability, strict=True))
    ]
    assert got == expected
    assert {o.stage for o in got} <= {"allow_list", "block_list", "threshold"}
