"""The demo's simulated analyst team: it works the real case store's queue, its verdicts
follow the truth at its accuracy, its drafted rule is narrow and catches what it saw, and
recovery is counted from the drift to the first sustained return of the catch rate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cases_support import T0, new_case
from fraudops.cases.store import open_store
from fraudops.decisions.rules import RuleSet, compile_rules
from fraudops.pipelines.analysts import (
    AnalystTeam,
    draft_rule,
    recovery_days,
    work_queue,
)


def test_the_team_works_the_riskiest_cards_first_within_its_budget(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'cases.db'}")
    cases = [new_case(i, f"card-{i % 3}", probability=0.1 + 0.1 * i) for i in range(6)]
    store.create_cases(cases, T0)
    truth = {"tx-5": 1, "tx-2": 1}  # the rest are genuine
    now = T0 + timedelta(hours=1)
    verdicts = work_queue(store, truth, now, budget=4, accuracy=1.0, rng=np.random.default_rng(0))

    # the four riskiest cases, grouped by card: card-2 holds the riskiest (tx-5, p=0.6)
    # and tx-2, worked together; then card-1's tx-4 and card-0's tx-3
    assert [(v.transaction_id, v.is_fraud) for v in verdicts] == [
        ("tx-5", 1),
        ("tx-2", 1),
        ("tx-4", 0),
        ("tx-3", 0),
    ]
    # the store saw it all, with the audit trail of a real analyst's work
    worked = store.get(store.by_transaction("tx-5").id)  # type: ignore[union-attr]
    assert worked.state == "fraud"
    assert [e.to_state for e in worked.events if e.to_state] == ["open", "in_review", "fraud"]
    assert {c.transaction_id for g in store.queue() for c in g.cases} == {"tx-0", "tx-1"}


def test_verdicts_are_right_at_the_teams_accuracy(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'cases.db'}")
    store.create_cases([new_case(i, f"card-{i}") for i in range(100)], T0)
    truth = {f"tx-{i}": int(i % 4 == 0) for i in range(100)}
    verdicts = work_queue(store, truth, T0, 100, accuracy=0.9, rng=np.random.default_rng(1))
    right = [v.is_fraud == truth[v.transaction_id] for v in verdicts]
    assert right == [v.right for v in verdicts]
    assert 0.8 < np.mean(right) < 0.98


def _frame(rows: list[tuple[str, str, float, float, float]]) -> pl.DataFrame:
    columns = ["channel", "entry_mode", "amount", "card_tx_count_1h", "card_tx_count_24h"]
    frame = pl.DataFrame(rows, schema=columns, orient="row")
    return frame.with_columns(
        card_amount_sum_1h=pl.col("amount") * pl.col("card_tx_count_1h"),
        card_amount_sum_24h=pl.col("amount") * pl.col("card_tx_count_24h"),
    )


def test_a_drafted_rule_catches_the_confirmed_frauds_and_little_else() -> None:
    rng = np.random.default_rng(3)
    sprees = [
        ("pos", "contactless", float(rng.uniform(30, 49)), 3.0 + i % 5, 5.0) for i in range(30)
    ]
    normal = [
        (
            str(rng.choice(["pos", "ecom"])),
            str(rng.choice(["chip", "contactless", "ecom"])),
            float(rng.lognormal(3.5, 1.0)),
            float(rng.integers(0, 2)),
            float(rng.integers(0, 6)),
        )
        for _ in range(3_000)
    ]
    confirmed = _frame(sprees[:12])
    traffic = _frame(normal + sprees)
    team = AnalystTeam(rule_max_review_share=0.02)  # 20.2 of the 1,010 a day
    drafted = draft_rule(confirmed, traffic, traffic_days=3.0, team=team, drafted_on="2026-02-12")
    assert drafted is not None
    condition = drafted.rule.condition
    assert 'channel == "pos"' in condition
    assert 'entry_mode == "contactless"' in condition
    assert drafted.coverage >= team.rule_min_coverage
    assert drafted.hits_per_day <= 0.02 * traffic.height / 3.0
    # the rule is a valid rule of the rules language, and catches most of the sprees
    compiled = compile_rules(RuleSet("t", (drafted.rule,)))
    hits = traffic.select(compiled.expressions()[drafted.rule.name].sum()).item()
    assert hits / 3.0 == pytest.approx(drafted.hits_per_day, abs=0.05)
    spree_hits = _frame(sprees).select(compiled.expressions()[drafted.rule.name].sum()).item()
    assert spree_hits >= 0.7 * len(sprees)


def test_no_rule_when_nothing_narrow_enough_catches_the_frauds() -> None:
    # frauds that look like everyone's payments: any rule catching them reviews everyone
    confirmed = _frame([("pos", "chip", float(a), 0.0, 1.0) for a in range(20, 900, 150)])
    traffic = _frame([("pos", "chip", float(a), 0.0, 1.0) for a in range(20, 900)])
    team = AnalystTeam(rule_max_review_share=0.01, rule_min_coverage=0.6)
    assert draft_rule(confirmed, traffic, 1.0, team, "2026-02-12") is None
    # only the volume stood in the way
    everyone = AnalystTeam(rule_max_review_share=1.0, rule_min_coverage=0.6)
    assert draft_rule(confirmed, traffic, 1.0, everyone, "2026-02-12") is not None
    assert draft_rule(confirmed.head(0), traffic, 1.0, team, "2026-02-12") is None


def _days(shares: list[tuple[int, int]], first: int = 30) -> list[dict[str, int]]:
    return [
        {"day": first + i, "frauds": frauds, "frauds_caught": caught}
        for i, (frauds, caught) in enumerate(shares)
    ]


def test_recovery_needs_a_sustained_return_to_80_percent_of_the_pre_drift_catch() -> None:
    before = [(10, 5)] * 5  # 50 % caught before the drift on day 35
    after = [(40, 2), (40, 36), (40, 2), (40, 2), (40, 17), (40, 18), (40, 20)]
    days = _days(before + after)
    # one good day (day 36) is not a recovery; days 39-41 hold 46 % >= 40 %: 6 days
    assert recovery_days(days, drift_day=35) == 6
    assert recovery_days(_days(before + [(40, 4)] * 7), drift_day=35) is None
    assert recovery_days(_days([(0, 0)] * 5 + after), drift_day=35) is None


def test_the_team_refuses_impossible_settings() -> None:
    with pytest.raises(ValueError, match="capacity"):
        AnalystTeam(capacity=0)
    with pytest.raises(ValueError, match="accuracy"):
        AnalystTeam(accuracy=0.2)
    with pytest.raises(ValueError, match="shift hours"):
        AnalystTeam(shift_hours=(25,))
    assert sum(AnalystTeam(capacity=42).shift_budgets()) == 42
