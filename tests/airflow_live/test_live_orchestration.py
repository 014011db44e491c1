"""The three DAGs under a real scheduler, driven through the REST API as users and CD do.

One stack (conftest.py), one story, in order: the stored history ends on 2026-02-12; a
backfill stores 02-13 and 02-14, one run at a time, in order; a bare manual training run
trains up to the latest complete stored day (the data lives in the past); a manual run with
``conf {"day": "2026-02-15"}`` stores the drifted day; monitoring judges it and triggers
training with the reason and the window in ``conf``.
"""

from __future__ import annotations

from typing import Any

import pytest
from live_airflow import SIM_START, LiveAirflow, wait_for

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DATA, TRAINING, MONITORING = (
    "fraud_data_pipeline",
    "fraud_training_pipeline",
    "fraud_monitoring_pipeline",
)
# a deadline per DAG run, for hangs: a training run takes ~1 min on an idle 2-core
# machine and 2.5 min when four other jobs share it
RUN_TIMEOUT = 420.0


def _settings(live: LiveAirflow) -> Any:
    from fraudops.config import Settings

    return Settings(home=live.fraudops_home)


def _partitions(live: LiveAirflow, *path: str) -> list[str]:
    from fraudops.data import store

    settings = _settings(live)
    uri = store.join_uri(settings.dataset_uri(path[0]), *path[1:])
    days: list[str] = store.list_partitions(uri)
    return days


@pytest.fixture(scope="module")
def nothing_to_train_run(live_airflow: LiveAirflow) -> str:
    """A training run for a window before any stored day, triggered first: it runs beside
    the backfill (parallelism 2) and is checked last."""
    return live_airflow.api.trigger(TRAINING, {"window_end": "2025-06-01T00:00:00Z"})


@pytest.fixture(scope="module")
def backfill(live_airflow: LiveAirflow, nothing_to_train_run: str) -> list[dict[str, Any]]:
    """``POST /backfills`` for 02-13..02-14 with max_active_runs 1: its runs, by day."""
    api = live_airflow.api
    created = api.call(
        "POST",
        "/backfills",
        json={
            "dag_id": DATA,
            "from_date": "2026-02-13T00:00:00Z",
            "to_date": "2026-02-14T00:00:00Z",
            "max_active_runs": 1,
            "reprocess_behavior": "completed",
            "run_backwards": False,
        },
    )

    def backfill_runs() -> list[dict[str, Any]] | None:
        runs = [r for r in api.runs(DATA) if r["run_type"] == "backfill"]
        done = len(runs) == 2 and all(r["state"] in ("success", "failed") for r in runs)
        return sorted(runs, key=lambda r: r["logical_date"]) if done else None

    runs = wait_for(backfill_runs, 2 * RUN_TIMEOUT, f"backfill {created['id']}", every=2.0)
    assert [r["state"] for r in runs] == ["success", "success"], runs
    return runs


@pytest.fixture(scope="module")
def bare_training_run(live_airflow: LiveAirflow, backfill: list[dict[str, Any]]) -> str:
    """A manual training run with no window in conf: the store ends on 02-14."""
    api = live_airflow.api
    run_id = api.trigger(TRAINING, {"reason": "live tier"})
    api.wait_finished(TRAINING, run_id, RUN_TIMEOUT)
    return run_id


@pytest.fixture(scope="module")
def conf_day_run(live_airflow: LiveAirflow, bare_training_run: str) -> dict[str, Any]:
    """``POST /dagRuns`` with ``conf {"day": "2026-02-15"}`` (the drifted day), no logical
    date."""
    api = live_airflow.api
    run_id = api.trigger(DATA, {"day": "2026-02-15"})
    return api.wait_finished(DATA, run_id, RUN_TIMEOUT)


@pytest.fixture(scope="module")
def monitoring_run(live_airflow: LiveAirflow, conf_day_run: dict[str, Any]) -> str:
    """The window ending 02-16 (the drifted day 02-15) judged by the monitoring DAG."""
    api = live_airflow.api
    run_id = api.trigger(MONITORING, {"window_end": "2026-02-16T00:00:00+00:00"})
    api.wait_finished(MONITORING, run_id, RUN_TIMEOUT)
    return run_id


def test_a_backfill_runs_its_days_in_order_one_at_a_time(
    live_airflow: LiveAirflow, backfill: list[dict[str, Any]]
) -> None:
    api = live_airflow.api
    days = [api.xcom(DATA, r["dag_run_id"], "simulate_day")["day"] for r in backfill]
    assert days == ["2026-02-13", "2026-02-14"]
    first, second = backfill
    assert first["end_date"] <= second["start_date"], "the two days overlapped"
    expected = [str(SIM_START.fromordinal(SIM_START.toordinal() + i)) for i in range(45)]
    for dataset in (("raw",), ("validated", "clean"), ("features",)):
        assert _partitions(live_airflow, *dataset) == expected, dataset


def test_a_bare_manual_training_run_trains_up_to_the_latest_stored_day(
    live_airflow: LiveAirflow, bare_training_run: str
) -> None:
    from fraudops.models.registry import CHAMPION, Registry

    api = live_airflow.api
    plan = api.xcom(TRAINING, bare_training_run, "plan_training")
    assert plan["window_end"] == "2026-02-15T00:00:00+00:00"
    assert plan["reason"] == "live tier"
    log = api.log(TRAINING, bare_training_run, "plan_training")
    assert "latest complete stored day 2026-02-14" in log
    trained = api.xcom(TRAINING, bare_training_run, "train_and_register")
    registry = Registry.from_settings(_settings(live_airflow))
    assert registry.version_by_alias(CHAMPION) == trained["registered_version"]


def test_a_manual_run_processes_the_day_in_its_conf(
    live_airflow: LiveAirflow, conf_day_run: dict[str, Any]
) -> None:
    api, run_id = live_airflow.api, conf_day_run["dag_run_id"]
    # Airflow gave the manual run no logical date; the day came from conf and says so
    assert conf_day_run["logical_date"] is None
    assert api.task_states(DATA, run_id) == {
        "choose_source": "success",
        "simulate_day": "success",
        "ingest_export": "skipped",
        "validate_day": "success",
        "build_features": "success",
        "refresh_online_store": "skipped",
    }
    assert api.xcom(DATA, run_id, "simulate_day")["day"] == "2026-02-15"
    assert "processing 2026-02-15" in api.log(DATA, run_id, "simulate_day")
    assert "conf day 2026-02-15" in api.log(DATA, run_id, "validate_day")
    assert _partitions(live_airflow, "raw")[-1] == "2026-02-15"


def test_monitoring_a_drifted_day_triggers_training_with_the_reason_in_conf(
    live_airflow: LiveAirflow, monitoring_run: str
) -> None:
    api = live_airflow.api
    summary = api.xcom(MONITORING, monitoring_run, "monitor_window")
    assert summary["drift_share"] > 0.2, summary
    assert api.task_states(MONITORING, monitoring_run)["trigger_training"] == "success"
    triggered_id = f"retrain__{monitoring_run}"
    triggered = api.run(TRAINING, triggered_id)
    assert triggered["conf"]["reason"].startswith("drift share")
    assert triggered["conf"]["window_end"] == "2026-02-16T00:00:00+00:00"
    assert triggered["conf"]["monitoring_run_id"] == monitoring_run
    # the triggered run plans its window from that conf (its training is not awaited: the
    # bare manual run above already trained and registered through the scheduler)
    wait_for(
        lambda: api.task_states(TRAINING, triggered_id).get("plan_training") == "success",
        RUN_TIMEOUT,
        "the triggered training run to plan its window",
        every=2.0,
    )
    plan = api.xcom(TRAINING, triggered_id, "plan_training")
    assert plan["window_end"] == "2026-02-16T00:00:00+00:00"
    assert plan["reason"] == triggered["conf"]["reason"]


def test_nothing_to_train_on_is_a_skip_that_names_the_window(
    live_airflow: LiveAirflow, nothing_to_train_run: str
) -> None:
    api, run_id = live_airflow.api, nothing_to_train_run
    api.wait_finished(TRAINING, run_id, RUN_TIMEOUT)
    states = api.task_states(TRAINING, run_id)
    assert set(states.values()) == {"skipped"}, states
    log = api.log(TRAINING, run_id, "plan_training")
    assert "nothing to train on" in log
    assert "2025-06-01" in log
