"""``fraud_data_pipeline``: one day of transactions, from arrival to features (daily).

A thin wrapper over ``fraudops.pipelines``: every task calls the pipeline function the CLI
and ``fraudops demo`` call, for the day of its data interval.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, TriggerRule, dag, task

# DagBag(dag_folder=...) outside a DAG bundle does not put this folder on sys.path
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from _fraudops_common import (  # noqa: E402
    DEFAULT_ARGS,
    START_DATE,
    engine_argument,
    option,
    permanent_errors_fail,
    simulation_config,
    skip,
    task_settings,
    to_json,
)
from _fraudops_window import Window, data_day, run_facts  # noqa: E402


def _day(context: dict[str, Any]) -> Window:
    """The run's day, logged with the rule that chose it (_fraudops_window)."""
    window = data_day(run_facts(context))
    logging.getLogger("airflow.task").info(
        "processing %s %s: %s", window.day, window.describe(), window.why
    )
    return window


DOC = """
### fraud_data_pipeline (daily)

One day of card transactions, from arrival to features:

```
choose_source ─┬─► simulate_day ─► validate_day ─┬─► build_features ─► refresh_online_store
               └─► ingest_export ────────────────┘
```

- **Day**: one UTC day *D*, never from the clock: `conf` `{"day": "D"}` first, else a
  scheduled or backfill run's data interval `[D 00:00, D+1 00:00)` (it starts right after
  midnight), else a manual run's logical date (the day ending there), else the last complete
  day before the trigger. The task log says which rule chose the day.
- **Source**: the seeded simulator by default (`fraudops_simulation`, JSON of
  `SimulationConfig` fields; day *D* is a pure function of the config and its index), or a
  user's daily export when the Variable `fraudops_export_uri` is set (`{ds}` is replaced by
  the day) with its column mapping `fraudops_export_mapping`.
- **Validate**: bad rows go to `validated/quarantine/` with their reason; a day with more
  bad rows than `max_bad_fraction` fails without retry and writes nothing clean.
- **Features**: point-in-time features of the stored history (a day's features depend on
  the days before it), written by day; earlier days are rewritten with identical values.
- **Online store**: a shared Redis store is topped up from the stored history (loading the
  same history twice adds nothing); `memory://` lives in the API process (warmed by
  `fraudops serve --warm-from`), so it is skipped.
- **Idempotent**: each task overwrites the partitions of its day; a re-run gives the same
  files and hashes, and the same `validated/reports/D.json`. **Catchup** is off: fill
  history with `airflow backfill create --dag-id fraud_data_pipeline --from-date D1
  --to-date D2 --max-active-runs 1 --reprocess-behavior completed` (features need the
  earlier days: one run at a time, in order; a backfill's own default is 10 at once).
- **Nothing to do** (a day before the simulation start, no export for the day yet) is a
  skip whose message names the day; bad data fails without retry; retries are for
  transient errors (the object store, Redis).
"""


@dag(
    dag_id="fraud_data_pipeline",
    description="Daily: simulate or ingest a day of transactions, validate, store, featurise.",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    default_args=DEFAULT_ARGS,
    tags=["fraudops", "data"],
    doc_md=DOC,
    params={
        "day": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="The UTC day to process (YYYY-MM-DD); default: the run's interval.",
        ),
    },
)
def fraud_data_pipeline() -> None:
    @task.branch
    def choose_source() -> str:
        """The simulator unless a daily export is configured (fraudops_export_uri)."""
        return "ingest_export" if option("export_uri") else "simulate_day"

    @task
    def simulate_day(**context: Any) -> dict[str, Any]:
        """Simulate the interval's day(s) into ``raw/date=D`` (overwritten on re-run)."""
        from fraudops.pipelines.data import generate_to_store

        window = _day(context)
        with permanent_errors_fail():
            settings = task_settings()
            config = simulation_config()
        index = (window.day - config.start).days
        if index < 0:
            skip(
                f"no data for {window.day} {window.describe()}: it is before the simulation "
                f"start {config.start} (fraudops_simulation's start)"
            )
        summary = generate_to_store(
            config,
            settings.dataset_uri("raw"),
            settings.storage_options(),
            day_indices=range(index, index + 1),
        )
        return to_json({"day": window.day, **summary.__dict__})

    @task
    def validate_day(**context: Any) -> dict[str, Any]:
        """Validate the interval's raw partitions into ``validated/`` (clean + quarantine)."""
        from fraudops.pipelines.data import validate_dataset

        window = _day(context)
        settings = task_settings()
        with permanent_errors_fail():
            report = validate_dataset(
                settings.dataset_uri("raw"),
                settings.dataset_uri("validated"),
                settings.max_bad_fraction,
                settings.storage_options(),
                start=window.day,
                end=window.day,
            )
        keep = ("passed", "totals", "clean_partitions")
        return to_json({"day": window.day, **{k: report.get(k) for k in keep}})

    @task
    def ingest_export(**context: Any) -> dict[str, Any]:
        """Map, validate and store the user's export of the interval's day."""
        from airflow.sdk.exceptions import AirflowFailException

        from fraudops.data import store
        from fraudops.data.ingest import load_mapping
        from fraudops.pipelines.data import ingest_export as ingest

        window = _day(context)
        settings = task_settings()
        template, mapping = option("export_uri"), option("export_mapping")
        if not template or not mapping:
            raise AirflowFailException(
                "fraudops_export_uri needs fraudops_export_mapping (the column-mapping YAML)"
            )
        source = template.format(ds=window.day.isoformat())
        if not store.exists(source, settings.storage_options()):
            skip(f"no export for {window.day} yet: {source} does not exist")
        with permanent_errors_fail():
            report = ingest(
                source,
                load_mapping(mapping),
                settings.dataset_uri("validated"),
                settings.max_bad_fraction,
                settings.storage_options(),
            )
        keep = ("passed", "totals")
        return to_json({"day": window.day, "source": source, **{k: report.get(k) for k in keep}})

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def build_features() -> dict[str, Any]:
        """Point-in-time features of the stored history into ``features/`` by day."""
        from fraudops.pipelines.features import build_features as build

        settings = task_settings()
        with permanent_errors_fail():
            engine = engine_argument(build, settings)  # Settings.engine: polars or spark
        summary = build(
            settings.dataset_uri("validated"),
            settings.dataset_uri("features"),
            settings.storage_options(),
            **engine,
        )
        keep = ("rows", "partitions", "spec_hash", "dataset_hash", "source_dataset_hash")
        return to_json({"engine": settings.engine, **{k: summary.get(k) for k in keep}})

    @task
    def refresh_online_store() -> dict[str, Any]:
        """Top up a shared (Redis) online store from the stored history."""
        from fraudops.features.online import OnlineFeatureEngine, open_online_store
        from fraudops.pipelines.features import backfill_online_store

        settings = task_settings()
        uri = settings.online_store_uri
        if uri.startswith("memory"):
            skip(
                "online store is memory:// (inside the API process: fraudops serve --warm-from); "
                "set FRAUDOPS_ONLINE_STORE_URI=redis://... to share one"
            )
        store = open_online_store(uri)
        try:
            indexed = backfill_online_store(
                OnlineFeatureEngine(store),
                settings.dataset_uri("validated"),
                settings.storage_options(),
            )
        finally:
            store.close()
        return {"online_store": uri.split("@")[-1], "transactions_indexed": indexed}

    source = choose_source()
    simulated = simulate_day()
    ingested = ingest_export()
    features = build_features()
    source >> [simulated, ingested]
    simulated >> validate_day() >> features
    ingested >> features
    features >> refresh_online_store()


fraud_data_pipeline()
