"""The DAGs' shared helpers: configuration mapping, intervals, training plan, trigger markers."""

from __future__ import annotations

import inspect
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import DAGS, require_airflow

pytestmark = pytest.mark.airflow
require_airflow()

if str(DAGS) not in sys.path:
    sys.path.append(str(DAGS))

import _fraudops_common as common  # noqa: E402


def variables(**values: str) -> common.Lookup:
    """A stand-in for Airflow Variables ``fraudops_<name>``."""
    return values.get


def test_option_prefers_variable_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FRAUDOPS_RETRAIN_COOLDOWN_HOURS", raising=False)
    assert common.option("retrain_cooldown_hours", variables()) == "24"
    monkeypatch.setenv("FRAUDOPS_RETRAIN_COOLDOWN_HOURS", "6")
    assert common.option("retrain_cooldown_hours", variables()) == "6"
    assert common.option("retrain_cooldown_hours", variables(retrain_cooldown_hours="1")) == "1"
    with pytest.raises(KeyError, match="unknown fraudops DAG option"):
        common.option("no_such_option", variables())


def test_variables_map_onto_settings_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRAUDOPS_PSI_THRESHOLD", "0.4")
    monkeypatch.setenv("FRAUDOPS_DRIFT_SHARE_THRESHOLD", "0.3")
    settings = common.task_settings(
        variables(drift_share_threshold="0.35", api_url="http://api:8000", unrelated="x")
    )
    assert settings.drift_share_threshold == 0.35  # the Variable wins
    assert settings.psi_threshold == 0.4  # the environment when no Variable is set
    assert settings.api_url == "http://api:8000"
    assert common.settings_overrides(variables(unrelated="x")) == {}


def test_simulation_config_from_json() -> None:
    raw = json.dumps(
        {"customers": 200, "start": "2026-03-01", "seed": 3, "drift_kinds": "amount_shift"}
    )
    config = common.simulation_config(variables(simulation=raw))
    assert (config.customers, config.start, config.seed) == (200, date(2026, 3, 1), 3)
    assert config.drift_kinds == ("amount_shift",)
    with pytest.raises(ValueError, match="fraudops_simulation"):
        common.simulation_config(variables(simulation='{"customer": 10}'))


def test_training_plan_takes_the_window_end_and_options() -> None:
    lookup = variables(training_models="lr, lgbm", training_history_days="28")
    end = datetime(2026, 2, 16, tzinfo=UTC)
    plan = common.training_plan({}, end, lookup)
    assert plan["window_end"] == "2026-02-16T00:00:00+00:00"
    assert plan["train_start"] == "2026-01-19T00:00:00+00:00"
    assert plan["models"] == ["lr", "lgbm"]
    assert plan["reason"] == "scheduled"
    triggered = common.training_plan(
        {"reason": "drift share 0.44 > 0.2", "window_end": "ignored: resolved before"},
        end,
        lookup,
        run_type="manual",
    )
    assert triggered["reason"] == "drift share 0.44 > 0.2"
    assert common.training_plan({"reason": None}, end, lookup, "manual")["reason"] == "manual"
    own = common.training_plan({"models": ["xgb"], "train_start": "2026-01-01"}, end, lookup)
    assert own["models"] == ["xgb"]
    assert own["train_start"] == "2026-01-01T00:00:00+00:00"
    with pytest.raises(ValueError, match="no models"):
        common.training_plan({}, end, variables(training_models=" , "))


def test_permanent_errors_fail_without_retry_and_transient_ones_are_left_to_retries() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from fraudops.data.validate import BatchRejectedError

    for error in (ValueError("bad conf"), BatchRejectedError("too many bad rows")):
        with pytest.raises(AirflowFailException, match=str(error)), common.permanent_errors_fail():
            raise error
    with pytest.raises(ConnectionError), common.permanent_errors_fail():
        raise ConnectionError("object store unreachable")


def test_latest_stored_day_reads_the_clean_partitions(tmp_path: Path) -> None:
    import polars as pl

    from fraudops.config import Settings
    from fraudops.data import store

    settings = Settings(home=tmp_path)
    assert common.latest_stored_day(settings) is None
    clean = store.join_uri(settings.dataset_uri("validated"), "clean")
    for day in ("2026-02-13", "2026-02-14"):
        store.write_partition(clean, day, pl.DataFrame({"x": [1]}))
    assert common.latest_stored_day(settings) == date(2026, 2, 14)


def test_trigger_markers_round_trip(tmp_path: Path) -> None:
    from fraudops.config import Settings

    settings = Settings(home=tmp_path)
    assert common.previous_triggers(settings) == []
    as_of = datetime(2026, 2, 16, 3, tzinfo=UTC)
    common.record_trigger(settings, as_of, {"reason": "drift"})
    assert common.previous_triggers(settings) == [as_of]


def test_xcom_payloads_are_plain_json() -> None:
    payload: dict[str, Any] = {
        "when": datetime(2026, 2, 16, tzinfo=UTC),
        "ap": float("nan"),
        "split": (1, 2),
    }
    assert common.to_json(payload) == {
        "when": "2026-02-16T00:00:00+00:00",
        "ap": None,
        "split": [1, 2],
    }


def test_the_engine_reaches_steps_that_take_one_and_spark_is_never_dropped() -> None:
    from fraudops.pipelines.features import build_features

    def step_with_engine(uri: str, engine: str = "polars") -> str:
        return engine

    spark = common.task_settings(variables(engine="spark"))
    polars = common.task_settings(variables(engine="polars"))
    assert common.engine_argument(step_with_engine, spark) == {"engine": "spark"}
    assert common.engine_argument(step_with_engine, polars) == {"engine": "polars"}
    if "engine" in inspect.signature(build_features).parameters:  # the Spark feature engine
        assert common.engine_argument(build_features, spark) == {"engine": "spark"}
    else:
        assert common.engine_argument(build_features, polars) == {}
        with pytest.raises(ValueError, match="build_features of this fraudops has no Spark"):
            common.engine_argument(build_features, spark)
