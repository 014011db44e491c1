"""The case store on a real PostgreSQL server: the same migrations, states, audit trail
and conflict records as on SQLite, and row locks that keep a verdict from being given
twice by two analysts at once."""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from cases_support import T0, check_conflicts, check_states_and_audit, new_case
from fraudops.cases.store import CaseError, CaseStore, open_store

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_store(postgres_server) -> Iterator[CaseStore]:  # type: ignore[no-untyped-def]
    name = f"cases_{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [
            str(postgres_server.bin_dir / "createdb"),
            "-h", str(postgres_server.socket_dir),
            "-p", str(postgres_server.port),
            "-U", "postgres",
            name,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    url = (
        f"postgresql+psycopg2://postgres@/{name}"
        f"?host={postgres_server.socket_dir}&port={postgres_server.port}"
    )
    store = open_store(url)
    open_store(url).close()  # migrations run twice are a no-op
    yield store
    store.close()


def test_states_and_audit_trail_on_postgres(pg_store: CaseStore) -> None:
    assert pg_store.engine.dialect.name == "postgresql"
    check_states_and_audit(pg_store)


def test_label_conflicts_on_postgres(pg_store: CaseStore) -> None:
    check_conflicts(pg_store)


def test_two_analysts_cannot_both_close_a_case(pg_store: CaseStore) -> None:
    pg_store.create_cases([new_case(1)], T0)
    case_id = pg_store.queue()[0].cases[0].id
    outcomes: list[str] = []

    def close(verdict: str) -> None:
        try:
            pg_store.transition(case_id, verdict, verdict, T0 + timedelta(minutes=1))
            outcomes.append("ok")
        except CaseError:
            outcomes.append("refused")

    workers = [threading.Thread(target=close, args=(v,)) for v in ("fraud", "genuine")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcomes) == ["ok", "refused"]
    verdicts = [e for e in pg_store.get(case_id).events if e.action == "verdict"]
    assert len(verdicts) == 1
