"""The case store on SQLite: states, audit trail, label conflicts, analyst precision,
console users, and the writer that keeps case creation off the request path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from cases_support import T0, check_conflicts, check_states_and_audit, new_case
from fraudops.cases.recorder import CaseRecorder, needs_case
from fraudops.cases.store import CaseError, CaseStore, open_store
from fraudops.cases.users import add_user, authenticate, verify_password


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    return open_store(f"sqlite:///{tmp_path / 'cases.db'}")


def test_migrations_create_every_table_and_run_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'cases.db'}"
    open_store(url).close()
    store = open_store(url)  # the second run finds the schema at head
    tables = set(inspect(store.engine).get_table_names())
    assert {"cases", "case_events", "labels", "label_conflicts", "console_users"} <= tables
    assert "alembic_version" in tables


def test_states_and_audit_trail(store: CaseStore) -> None:
    check_states_and_audit(store)


def test_label_conflicts_are_recorded(store: CaseStore) -> None:
    check_conflicts(store)


def test_analyst_precision_counts_matured_fraud_verdicts(store: CaseStore) -> None:
    for i in range(4):
        store.record_label(f"tx-{i}", 1, "analyst", T0, T0)
    store.record_label("tx-5", 0, "analyst", T0, T0)
    for tx in ("tx-0", "tx-1", "tx-2", "tx-5"):
        store.record_label(tx, 1, "chargeback", T0 + timedelta(days=10), T0)
    store.record_label("tx-new", 1, "analyst", T0 + timedelta(days=29), T0)  # not matured
    figures = store.analyst_precision(T0 + timedelta(days=30), maturity_days=7)
    assert figures["matured_fraud_verdicts"] == 4
    assert figures["confirmed_by_chargeback"] == 3
    assert figures["precision"] == pytest.approx(0.75)
    assert figures["genuine_verdicts_charged_back"] == 1


def test_users_have_hashed_passwords_and_refusals_name_the_problem(store: CaseStore) -> None:
    add_user(store, "ana", "correct horse battery", "analyst", T0)
    user = authenticate(store, "ana", "correct horse battery")
    assert user is not None
    assert user.role == "analyst"
    assert "correct horse" not in user.password_hash
    assert verify_password("correct horse battery", user.password_hash)
    assert authenticate(store, "ana", "wrong password!") is None
    assert authenticate(store, "nobody", "correct horse battery") is None
    with pytest.raises(CaseError, match="exists already"):
        add_user(store, "ana", "another long one", "admin", T0)
    with pytest.raises(CaseError, match="role 'boss' is not one of analyst, admin"):
        add_user(store, "bob", "long enough pw", "boss", T0)
    with pytest.raises(CaseError, match="at least 10 characters"):
        add_user(store, "bob", "short", "analyst", T0)
    with pytest.raises(CaseError, match="a username is"):
        add_user(store, "Bob Smith", "long enough pw", "analyst", T0)


def scored(i: int, decision: str, rules: tuple[str, ...] = ()) -> tuple[dict, dict]:
    tx = {"transaction_id": f"tx-{i}", "card_id": "card-1", "amount": 5.0, "timestamp": T0}
    result = {
        "transaction_id": f"tx-{i}",
        "fraud_probability": 0.4,
        "score": 400,
        "decision": decision,
        "decided_by": {"stage": "threshold", "name": decision},
        "rules": list(rules),
        "reasons": [],
    }
    return tx, result


def test_reviews_and_case_rules_open_cases_others_do_not() -> None:
    rules = frozenset({"ask_analyst"})
    assert needs_case(scored(1, "review")[1], rules)
    assert needs_case(scored(2, "approve", ("ask_analyst",))[1], rules)
    assert not needs_case(scored(3, "approve", ("other_rule",))[1], rules)
    assert not needs_case(scored(4, "decline")[1], rules)


def test_the_writer_drops_and_counts_when_full_instead_of_blocking(store: CaseStore) -> None:
    dropped: list[int] = []
    recorder = CaseRecorder(store, max_pending=2, on_drop=dropped.append)  # not started
    for i in range(5):
        tx, result = scored(i, "review")
        recorder.on_scored([tx], [result])  # returns at once even with the queue full
    assert (recorder.dropped, dropped) == (3, [1, 1, 1])
    recorder.drain()
    assert recorder.opened == 2
    assert store.by_transaction("tx-0") is not None
    assert store.by_transaction("tx-4") is None


def test_the_writer_thread_stores_cases_then_labels_in_order(store: CaseStore) -> None:
    recorder = CaseRecorder(store)
    recorder.start()
    tx, result = scored(1, "review")
    recorder.on_scored([tx], [result])
    recorder.on_label("tx-1", 1, T0, "chargeback")
    recorder.on_label("tx-1", 0, T0 + timedelta(hours=1), "analyst")
    recorder.close()
    assert store.by_transaction("tx-1") is not None
    assert [c.later_source for c in store.conflicts()] == ["analyst"]
    assert store.create_cases([new_case(1)], T0) == 0  # the writer opened it already
