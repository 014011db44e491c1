"""Builders shared by the case-store tests (unit tier on SQLite, integration on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraudops.cases.store import CaseError, CaseStore, NewCase

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def new_case(i: int, card: str = "card-1", probability: float = 0.5) -> NewCase:
    return NewCase(
        transaction_id=f"tx-{i}",
        card_id=card,
        amount=10.0 + i,
        transaction_time=T0 + timedelta(minutes=i),
        fraud_probability=probability,
        score=int(probability * 1000),
        decision="review",
        decided_by="threshold:review",
        rules=("watch",) if i % 2 else (),
        reasons=[{"feature": "amount", "value": 10.0 + i, "contribution": 0.2, "text": "big"}],
        transaction={"transaction_id": f"tx-{i}", "amount": 10.0 + i},
    )


def check_states_and_audit(store: CaseStore) -> None:
    """The life of a case, the audit trail and the refusals, on any database."""
    assert store.create_cases([new_case(1), new_case(2, "card-2", 0.9)], T0) == 2
    assert store.create_cases([new_case(1)], T0) == 0  # one case per transaction
    groups = store.queue()
    assert [g.card_id for g in groups] == ["card-2", "card-1"]  # riskiest card first
    case_id = groups[1].cases[0].id
    store.transition(case_id, "in_review", "ana", T0 + timedelta(minutes=5))
    store.transition(case_id, "fraud", "ana", T0 + timedelta(minutes=9), "stolen card")
    with pytest.raises(CaseError, match="is fraud; it cannot become genuine"):
        store.transition(case_id, "genuine", "bob", T0 + timedelta(minutes=10))
    with pytest.raises(CaseError, match="state 'closed' is not one of"):
        store.transition(case_id, "closed", "bob", T0)
    with pytest.raises(CaseError, match="no case 999"):
        store.transition(999, "fraud", "bob", T0)
    case = store.get(case_id)
    assert (case.state, case.owner) == ("fraud", "ana")
    trail = [(e.actor, e.action, e.from_state, e.to_state, e.detail) for e in case.events]
    assert trail == [
        ("system", "opened", None, "open", "review by threshold:review"),
        ("ana", "state", "open", "in_review", ""),
        ("ana", "verdict", "in_review", "fraud", "stolen card"),
    ]
    assert [g.card_id for g in store.queue()] == ["card-2"]  # closed cases leave the queue
    stats = store.queue_stats(T0 + timedelta(hours=1))
    assert stats == {"queue_size": 1, "oldest_age_seconds": 3600.0, "closed": 1}


def check_conflicts(store: CaseStore) -> None:
    """A later label of another source that disagrees is recorded, never silent."""
    assert store.record_label("tx-9", 0, "analyst", T0, T0) is None
    assert store.record_label("tx-9", 0, "analyst", T0, T0) is None  # same source again
    conflict = store.record_label("tx-9", 1, "chargeback", T0 + timedelta(days=20), T0)
    assert conflict is not None
    assert store.record_label("tx-8", 1, "chargeback", T0, T0) is None
    assert store.record_label("tx-8", 1, "analyst", T0, T0) is None  # agreement is fine
    rows = store.conflicts()
    assert [(c.transaction_id, c.earlier_source, c.later_source) for c in rows] == [
        ("tx-9", "analyst", "chargeback")
    ]
    assert (rows[0].earlier_is_fraud, rows[0].later_is_fraud) == (0, 1)
