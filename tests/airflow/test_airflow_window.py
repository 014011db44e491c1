"""The day or window a DAG run works on: conf first, then the run's interval, then a manual
run's logical date, then the trigger time or the stored data (dags/_fraudops_window.py)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from airflow_harness import DAGS, require_airflow

pytestmark = pytest.mark.airflow
require_airflow()

if str(DAGS) not in sys.path:
    sys.path.append(str(DAGS))

from _fraudops_window import DAY, HOUR, RunFacts, data_day, run_facts, window_end  # noqa: E402

TRIGGERED = datetime(2026, 12, 2, 5, 17, tzinfo=UTC)  # the wall clock of a manual trigger
# what Airflow 3.2's CLI gives a manual run: an interval inferred from the trigger time
CLI_INTERVAL = {
    "interval_start": datetime(2026, 12, 1, tzinfo=UTC),
    "interval_end": datetime(2026, 12, 2, tzinfo=UTC),
}


def manual(**fields: object) -> RunFacts:
    return RunFacts(run_type="manual", run_after=TRIGGERED, **fields)  # type: ignore[arg-type]


def never_asked() -> date | None:
    raise AssertionError("the stored data is read only when nothing else says the window")


def test_conf_day_wins_over_the_interval_airflow_inferred_for_a_manual_run() -> None:
    window = data_day(
        manual(conf={"day": "2026-02-12"}, logical_date=datetime(2026, 2, 20, tzinfo=UTC))
    )
    assert (window.start, window.end) == (
        datetime(2026, 2, 12, tzinfo=UTC),
        datetime(2026, 2, 13, tzinfo=UTC),
    )
    assert window.why == "conf day 2026-02-12"
    # the data DAG also takes a window end: the day that ends there
    assert data_day(manual(conf={"window_end": "2026-02-13T00:00:00Z"})).day == date(2026, 2, 12)


def test_a_manual_runs_logical_date_ends_the_window_whatever_interval_airflow_gave_it() -> None:
    # `airflow dags trigger --logical-date 2026-02-13`: interval from the trigger time
    facts = manual(logical_date=datetime(2026, 2, 13, tzinfo=UTC), **CLI_INTERVAL)
    assert data_day(facts).day == date(2026, 2, 12)
    assert "logical date" in data_day(facts).why
    assert window_end(facts, DAY, never_asked)[0] == datetime(2026, 2, 13, tzinfo=UTC)


def test_scheduled_and_backfill_runs_use_their_data_interval() -> None:
    for run_type in ("scheduled", "backfill"):
        facts = RunFacts(
            run_type=run_type,
            interval_start=datetime(2026, 2, 14, tzinfo=UTC),
            interval_end=datetime(2026, 2, 15, tzinfo=UTC),
            logical_date=datetime(2026, 2, 14, tzinfo=UTC),
            run_after=TRIGGERED,
        )
        assert data_day(facts).day == date(2026, 2, 14)
        assert run_type in data_day(facts).why
    weekly = RunFacts(
        run_type="scheduled",
        interval_start=datetime(2026, 2, 9, 6, tzinfo=UTC),
        interval_end=datetime(2026, 2, 16, 6, tzinfo=UTC),
    )
    # training: complete days only; monitoring: whole hours
    assert window_end(weekly, DAY, never_asked)[0] == datetime(2026, 2, 16, tzinfo=UTC)
    assert window_end(weekly, HOUR, never_asked)[0] == datetime(2026, 2, 16, 6, tzinfo=UTC)


def test_a_bare_manual_run_on_past_data_uses_the_latest_complete_stored_day() -> None:
    end, why = window_end(manual(), DAY, lambda: date(2026, 2, 14))
    assert end == datetime(2026, 2, 15, tzinfo=UTC)
    assert "latest complete stored day 2026-02-14" in why
    # live data reaching the trigger day: the trigger time, rounded down
    assert window_end(manual(), DAY, lambda: date(2026, 12, 2))[0] == datetime(
        2026, 12, 2, tzinfo=UTC
    )
    assert window_end(manual(), HOUR, lambda: None)[0] == datetime(2026, 12, 2, 5, tzinfo=UTC)
    # the data DAG's day: the last complete day before the trigger, and it says how to pick
    window = data_day(manual())
    assert window.day == date(2026, 12, 1)
    assert '"day"' in window.why


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"day": "2026-02-30"}, "conf day"),
        ({"day": "2026-02-12T06:00"}, "is not a date"),
        ({"window_end": "next tuesday"}, "conf window_end"),
    ],
)
def test_a_bad_conf_says_what_is_wrong(conf: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        data_day(manual(conf=conf))


def test_run_facts_reads_the_task_context() -> None:
    dag_run = SimpleNamespace(
        run_type="manual", logical_date=None, run_after=TRIGGERED, conf={"day": "2026-02-12"}
    )
    facts = run_facts(
        {
            "dag_run": dag_run,
            "params": {"day": None, "reason": "x"},
            "data_interval_start": None,
            "data_interval_end": None,
        }
    )
    assert facts.run_type == "manual"
    assert facts.conf == {"day": "2026-02-12", "reason": "x"}  # conf over the params
    assert facts.run_after == TRIGGERED
