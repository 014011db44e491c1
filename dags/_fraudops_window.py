"""Which day or window a DAG run works on, decided once and said in the task log.

Airflow 3.2 gives a manual run a data interval inferred from its trigger time
(``airflow dags trigger``) or from the day before its logical date (the REST API), so the
interval of a manual run is never what a user meant. The rules, highest first:

1. ``conf``: ``{"day": "2026-02-12"}`` (that UTC day) or ``{"window_end": "..."}`` (the
   window ends there; for the data DAG, the day that ends there);
2. a scheduled or backfill run: its data interval;
3. a manual run with a logical date: the logical date is the end of the window (as the
   REST API and ``dag.test()`` infer it; the data DAG takes the day that ends there);
4. a manual run with neither: the last complete period before the trigger time, or, when
   the stored data ends earlier (a store of past data), the latest complete stored day.

Pure functions of :class:`RunFacts`; :func:`run_facts` reads them from a task's context.
Like its sibling module, nothing here runs at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class RunFacts:
    """What a DAG run says about its time (all UTC)."""

    run_type: str  # manual | scheduled | backfill | asset_triggered
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    logical_date: datetime | None = None
    run_after: datetime | None = None
    conf: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """``[start, end)`` and why: the sentence the task logs."""

    start: datetime
    end: datetime
    why: str

    @property
    def day(self) -> date:
        return self.start.date()

    def describe(self) -> str:
        return f"[{self.start:%Y-%m-%dT%H:%M}Z, {self.end:%Y-%m-%dT%H:%M}Z)"


def to_utc(value: Any, what: str) -> datetime:
    """An aware UTC datetime from a datetime or an ISO 8601 text (naive means UTC)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not an ISO 8601 date or time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    c = parsed.astimezone(UTC)
    return datetime(c.year, c.month, c.day, c.hour, c.minute, c.second, c.microsecond, UTC)


def floor(value: datetime, unit: timedelta) -> datetime:
    """``value`` rounded down to a whole ``unit`` (an hour or a day) of UTC time."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((value - epoch) // unit) * unit


def _given(conf: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in conf.items() if v not in (None, "")}


def _conf_end(conf: Mapping[str, Any]) -> tuple[datetime, str] | None:
    if "day" in conf:
        day = to_utc(str(conf["day"])[:10], "conf day")
        if floor(day, DAY) != day or len(str(conf["day"])) != 10:
            raise ValueError(f"conf day: {conf['day']!r} is not a date (YYYY-MM-DD)")
        return day + DAY, f"conf day {conf['day']}"
    if "window_end" in conf:
        return to_utc(
            conf["window_end"], "conf window_end"
        ), f"conf window_end {conf['window_end']}"
    return None


def data_day(facts: RunFacts) -> Window:
    """The one UTC day a data run processes."""
    conf = _given(facts.conf)
    explicit = _conf_end(conf)
    if explicit is not None:
        end, why = explicit
        start = floor(end - timedelta(microseconds=1), DAY)
        return Window(start, start + DAY, why)
    if facts.run_type != "manual" and facts.interval_start is not None:
        start = floor(facts.interval_start, DAY)
        return Window(start, start + DAY, f"the {facts.run_type} run's data interval")
    if facts.logical_date is not None:
        end = floor(facts.logical_date, DAY)
        return Window(
            end - DAY,
            end,
            "the manual run's logical date (the day that ends there, as Airflow's API infers it)",
        )
    if facts.run_after is None:
        raise ValueError("the run has no conf day, data interval, logical date or run_after")
    end = floor(facts.run_after, DAY)
    return Window(
        end - DAY,
        end,
        "no conf day and no logical date: the last complete UTC day before the trigger "
        f'({facts.run_after:%Y-%m-%dT%H:%M}Z); trigger with --conf \'{{"day": "YYYY-MM-DD"}}\' '
        "for another day",
    )


def window_end(
    facts: RunFacts,
    unit: timedelta,
    latest_stored_day: Callable[[], date | None],
) -> tuple[datetime, str]:
    """Where a training or monitoring window ends, and why.

    ``unit`` rounds the end of a scheduled interval and of a trigger time down (a day for
    training: complete days only; an hour for monitoring). ``latest_stored_day`` is asked
    only for a manual run with neither conf nor logical date.
    """
    explicit = _conf_end(_given(facts.conf))
    if explicit is not None:
        return explicit
    if facts.run_type != "manual" and facts.interval_end is not None:
        return floor(facts.interval_end, unit), f"the {facts.run_type} run's data interval"
    if facts.logical_date is not None:
        return floor(facts.logical_date, unit), "the manual run's logical date"
    if facts.run_after is None:
        raise ValueError("the run has no conf window_end, data interval, logical date or run_after")
    end = floor(facts.run_after, unit)
    latest = latest_stored_day()
    if latest is not None:
        stored_end = datetime(latest.year, latest.month, latest.day, tzinfo=UTC) + DAY
        if stored_end < end:
            return stored_end, (
                f"no conf window_end and no logical date, and the stored data ends before the "
                f"trigger time: the window ends after the latest complete stored day {latest}"
            )
    return end, (
        f"no conf window_end and no logical date: the trigger time "
        f"{facts.run_after:%Y-%m-%dT%H:%M}Z rounded down"
    )


def run_facts(context: Mapping[str, Any]) -> RunFacts:
    """The time facts of the running task's DAG run, with DAG params under its conf."""
    dag_run = context["dag_run"]

    def utc(value: Any) -> datetime | None:
        return None if value is None else to_utc(value, "Airflow")

    run_type = getattr(dag_run, "run_type", None) or "manual"
    return RunFacts(
        run_type=str(getattr(run_type, "value", run_type)),
        interval_start=utc(context.get("data_interval_start")),
        interval_end=utc(context.get("data_interval_end")),
        logical_date=utc(getattr(dag_run, "logical_date", None)),
        run_after=utc(getattr(dag_run, "run_after", None)),
        conf={**(context.get("params") or {}), **(getattr(dag_run, "conf", None) or {})},
    )
