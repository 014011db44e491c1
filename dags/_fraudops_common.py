"""What the three fraudops DAGs share: retry policy, configuration, data intervals.

The DAG processor imports every file of this folder every few seconds, so this module does
nothing at import time: no metadata-DB access, no network, no disk, no heavy imports.
Airflow Variables and ``fraudops`` itself are read inside tasks only.

Configuration, highest precedence first:

1. Airflow Variable ``fraudops_<field>`` for every field of ``fraudops.config.Settings``
   (``fraudops_drift_share_threshold``, ``fraudops_data_uri``, ...), and for the DAG
   options below (``fraudops_training_models``, ...);
2. the worker's environment: ``FRAUDOPS_<FIELD>`` (read by ``Settings`` itself) and
   ``FRAUDOPS_<OPTION>``;
3. the defaults of ``Settings`` and of :data:`OPTION_DEFAULTS`.

Secrets (``api_key``, ``admin_api_key``, database passwords inside URIs) belong in the
worker's environment or an Airflow secrets backend, never in DAG code; Airflow masks
Variables whose name contains ``api_key``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

import pendulum
from _fraudops_window import to_utc

if TYPE_CHECKING:
    from fraudops.config import Settings
    from fraudops.data.generate import SimulationConfig

VARIABLE_PREFIX = "fraudops_"
ENV_PREFIX = "FRAUDOPS_"

# the first interval any DAG knows about; runs before it are never created
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

# Transient failures (object store, MLflow server, Redis) are retried with exponential
# backoff: 2 min, 4 min, ... capped at 30 min. Data and configuration problems raise
# AirflowFailException (permanent_errors_fail), which skips the retries: re-running cannot
# fix a rejected batch. Nothing to do (no data for the window yet) is a skip (`skip`).
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "fraudops",
    "depends_on_past": False,
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(minutes=30),
}

# DAG options that are not Settings fields (Variable fraudops_<name> / env FRAUDOPS_<NAME>)
OPTION_DEFAULTS: dict[str, str | None] = {
    # data: JSON of SimulationConfig fields, e.g. {"customers": 5000, "seed": 42}
    "simulation": None,
    # data: a user's daily export instead of the simulator, "{ds}" is the day (YYYY-MM-DD)
    "export_uri": None,
    "export_mapping": None,  # the column-mapping YAML of that export
    # training
    "training_models": "lr,rf,xgb,lgbm",
    "training_trials": "0",
    "training_history_days": None,  # None: every stored day before the test window
    "training_delay_days": "7",
    "training_test_days": "7",
    # monitoring
    "monitoring_window_hours": "24",
    "monitoring_source": "auto",  # auto | predictions | data
    "monitoring_report": "auto",  # auto | always | never
    "retrain_cooldown_hours": "24",
}

Lookup = Callable[[str], "str | None"]


def airflow_variable(name: str) -> str | None:
    """The Airflow Variable ``fraudops_<name>``; call it inside a running task only."""
    from airflow.sdk import Variable

    value = Variable.get(f"{VARIABLE_PREFIX}{name}", default=None)
    return None if value is None or str(value) == "" else str(value)


def option(name: str, lookup: Lookup | None = None) -> str | None:
    """A DAG option: Variable ``fraudops_<name>``, else env ``FRAUDOPS_<NAME>``, else default."""
    if name not in OPTION_DEFAULTS:
        raise KeyError(f"unknown fraudops DAG option {name!r}")
    value = (lookup or airflow_variable)(name)
    if value is None:
        value = os.environ.get(f"{ENV_PREFIX}{name.upper()}") or None
    return value if value is not None else OPTION_DEFAULTS[name]


def settings_overrides(lookup: Lookup) -> dict[str, str]:
    """``Settings`` fields set through Variables (the environment is read by Settings)."""
    from fraudops.config import Settings

    found = {name: lookup(name) for name in Settings.model_fields}
    return {name: value for name, value in found.items() if value is not None}


def task_settings(lookup: Lookup | None = None) -> Settings:
    """Fresh settings for this task run: Variables over the worker's FRAUDOPS_* environment.

    Not ``get_settings()``: that cache would keep a Variable's old value in a long-lived
    worker process.
    """
    from fraudops.config import Settings

    return Settings(**settings_overrides(lookup or airflow_variable))  # type: ignore[arg-type]


def engine_argument(step: Callable[..., Any], settings: Settings) -> dict[str, str]:
    """``{"engine": settings.engine}`` for a pipeline step that takes ``engine=``.

    A step without that parameter runs in this worker; asking it for Spark
    (``FRAUDOPS_ENGINE=spark`` / Variable ``fraudops_engine``) is a configuration error,
    never a silent fall-back to one machine.
    """
    import inspect

    if "engine" in inspect.signature(step).parameters:
        return {"engine": settings.engine}
    if settings.engine != "polars":
        raise ValueError(
            f"engine={settings.engine!r}: {step.__name__} of this fraudops has no "
            "Spark engine; set FRAUDOPS_ENGINE=polars or install a fraudops that has one"
        )
    return {}


def simulation_config(lookup: Lookup | None = None) -> SimulationConfig:
    """The simulated world, from the JSON option ``simulation`` (SimulationConfig fields)."""
    from fraudops.data.generate import SimulationConfig

    raw = option("simulation", lookup)
    params: dict[str, Any] = json.loads(raw) if raw else {}
    if not isinstance(params, dict):
        raise ValueError(f"fraudops_simulation must be a JSON object, got {raw!r}")
    if "start" in params:
        params["start"] = date.fromisoformat(str(params["start"]))
    if isinstance(params.get("drift_kinds"), str):
        params["drift_kinds"] = [k.strip() for k in params["drift_kinds"].split(",")]
    if "drift_kinds" in params:
        params["drift_kinds"] = tuple(params["drift_kinds"])
    try:
        return SimulationConfig(**params)
    except TypeError as error:  # an unknown key
        raise ValueError(f"fraudops_simulation: {error}") from None


def latest_stored_day(settings: Settings) -> date | None:
    """The latest day of validated (else raw) transactions in the store; None when empty.

    The data DAG writes whole days, so a stored day is a complete day.
    """
    from fraudops.data import store

    options = settings.storage_options()
    for uri in (
        store.join_uri(settings.dataset_uri("validated"), "clean"),
        settings.dataset_uri("raw"),
    ):
        days = store.list_partitions(uri, options)
        if days:
            return date.fromisoformat(days[-1])
    return None


def skip(message: str) -> NoReturn:
    """Nothing to do: the task is skipped, and its log says why (Airflow itself logs only
    "Skipping task.")."""
    from airflow.sdk.exceptions import AirflowSkipException

    logging.getLogger("airflow.task").warning("skipped: %s", message)
    raise AirflowSkipException(message)


# Errors a retry cannot fix: bad configuration or data. Everything else (OSError, the
# object store, MLflow, Redis, HTTP) is worth the retries of DEFAULT_ARGS.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, KeyError)


@contextmanager
def permanent_errors_fail() -> Iterator[None]:
    """Turn a permanent error into ``AirflowFailException``: the task fails at once."""
    from airflow.sdk.exceptions import AirflowFailException

    from fraudops.data.validate import BatchRejectedError
    from fraudops.models.registry import RegistryError

    permanent: tuple[type[Exception], ...] = (*PERMANENT_ERRORS, BatchRejectedError, RegistryError)
    try:
        yield
    except permanent as error:
        raise AirflowFailException(f"{type(error).__name__}: {error}") from error


def _models(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(m).strip() for m in items if str(m).strip()]


def training_plan(
    conf: Mapping[str, Any],
    window_end: datetime,
    lookup: Lookup | None = None,
    run_type: str = "scheduled",
) -> dict[str, Any]:
    """What one training run does, as small JSON (it becomes the first task's XCom).

    ``window_end`` comes from ``_fraudops_window.window_end`` (conf, interval, logical
    date or the stored data; never "now": a re-run trains on the same window). ``conf``
    overrides the options ``fraudops_training_*``.
    """
    conf = {k: v for k, v in conf.items() if v not in (None, "")}
    history = conf.get("history_days", option("training_history_days", lookup))
    train_start = (
        to_utc(conf["train_start"], "conf train_start")
        if "train_start" in conf
        else window_end - timedelta(days=int(history))
        if history is not None
        else None
    )
    models = _models(conf.get("models") or option("training_models", lookup) or "")
    if not models:
        raise ValueError("no models to train (fraudops_training_models is empty)")
    return {
        "reason": str(conf.get("reason") or run_type)[:250],
        "window_end": window_end.isoformat(),
        "train_start": train_start.isoformat() if train_start else None,
        "models": models,
        "trials": int(conf.get("trials", option("training_trials", lookup) or 0)),
        "delay_days": int(conf.get("delay_days", option("training_delay_days", lookup) or 7)),
        "test_days": int(conf.get("test_days", option("training_test_days", lookup) or 7)),
    }


def to_json(payload: Any) -> Any:
    """XComs are small JSON: datetimes become ISO strings, NaN becomes null."""
    import math

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    def default(value: Any) -> Any:
        return value.isoformat() if isinstance(value, date | datetime) else str(value)

    return clean(json.loads(json.dumps(payload, default=default)))


TRIGGER_FOLDER = ("monitoring", "triggers")


def _trigger_marker(settings: Settings, as_of: datetime) -> str:
    from fraudops.data import store

    name = as_of.strftime("%Y-%m-%dT%H%M%SZ") + ".json"
    return store.join_uri(settings.resolved_data_uri, *TRIGGER_FOLDER, name)


def previous_triggers(settings: Settings) -> list[datetime]:
    """When earlier monitoring windows asked the training DAG to retrain (from markers)."""
    import fsspec

    from fraudops.data import store

    root = store.join_uri(settings.resolved_data_uri, *TRIGGER_FOLDER)
    fs, path = fsspec.core.url_to_fs(root, **settings.storage_options())
    if not fs.exists(path):
        return []
    times = []
    for item in fs.glob(f"{path}/*.json"):
        stem = str(item).rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
        times.append(datetime.strptime(stem, "%Y-%m-%dT%H%M%SZ").replace(tzinfo=UTC))
    return sorted(times)


def record_trigger(settings: Settings, as_of: datetime, payload: dict[str, Any]) -> str:
    from fraudops.data import store

    uri = _trigger_marker(settings, as_of)
    store.write_json(uri, payload, settings.storage_options())
    return uri
