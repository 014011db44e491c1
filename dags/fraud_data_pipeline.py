"""``fraud_data_pipeline``: one day of transactions, from arrival to features (daily).

A thin wrapper over ``fraudops.pipelines``: every task calls the pipeline function the CLI
and ``fraudops demo`` call, for the day of its data interval.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, TriggerRule, dag, task

# DagBag(dag_folder=...) outside a DAG bundle does not put this folder on sys.path
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from _fraudops_common import (  # noqa: E402
    DEFAULT_ARGS,
    START_DATE,
    data_interval,
    interval_days,
    option,
    simulation_config,
    task_settings,
    to_json,
)

DOC = """
### fraud_data_pipeline (daily)

One day of card transactions, from arrival to features:

```
choose_source ─┬─► simulate_day ─► validate_day ─┬─► build_features ─► refresh_online_store
               └─► ingest_export ────────────────┘
```

- **Interval**: the run for `[D 00:00, D+1 00:00)` UTC handles day *D* only, from the data
  interval, never from the clock. It starts right after midnight.
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
  files and hashes. **Catchup** is off: fill history with
  `airflow backfill create --dag-id fraud_data_pipeline --from-date ... --to-date ...`,
  which runs the days in order (`max_active_runs=1`, features need the earlier days).
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
)
def fraud_data_pipeline() -> None:
    @task.branch
    def choose_source() -> str:
        """The simulator unless a daily export is configured (fraudops_export_uri)."""
        return "ingest_export" if option("export_uri") else "simulate_day"

    @task
    def simulate_day(**context: Any) -> dict[str, Any]:
        """Simulate the interval's day(s) into ``raw/date=D`` (overwritten on re-run)."""
        from airflow.sdk.exceptions import AirflowFailException

        from fraudops.pipelines.data import generate_to_store

        settings = task_settings()
        config = simulation_config()
        start, end = data_interval(context)
        indices = [(day - config.start).days for day in interval_days(start, end)]
        if indices[0] < 0:
            raise AirflowFailException(
                f"{start:%Y-%m-%d} is before the simulation start {config.start}; "
                "set fraudops_simulation's start earlier"
            )
        summary = generate_to_store(
            config,
            settings.dataset_uri("raw"),
            settings.storage_options(),
            day_indices=range(indices[0], indices[-1] + 1),
        )
        return to_json(summary.__dict__)

    @task
    def validate_day(**context: Any) -> dict[str, Any]:
        """Validate the interval's raw partitions into ``validated/`` (clean + quarantine)."""
        from airflow.sdk.exceptions import AirflowFailException

        from fraudops.data.validate import BatchRejectedError
        from fraudops.pipelines.data import validate_dataset

        settings = task_settings()
        start, end = data_interval(context)
        days = interval_days(start, end)
        try:
            report = validate_dataset(
                settings.dataset_uri("raw"),
                settings.dataset_uri("validated"),
                settings.max_bad_fraction,
                settings.storage_options(),
                start=days[0],
                end=days[-1],
            )
        except BatchRejectedError as error:
            raise AirflowFailException(str(error)) from None
        return to_json({k: report.get(k) for k in ("passed", "totals", "dataset_hash")})

    @task
    def ingest_export(**context: Any) -> dict[str, Any]:
        """Map, validate and store the user's export of the interval's day."""
        from airflow.sdk.exceptions import AirflowFailException

        from fraudops.data.ingest import load_mapping
        from fraudops.data.validate import BatchRejectedError
        from fraudops.pipelines.data import ingest_export as ingest

        settings = task_settings()
        start, end = data_interval(context)
        template, mapping = option("export_uri"), option("export_mapping")
        if not template or not mapping:
            raise AirflowFailException(
                "fraudops_export_uri needs fraudops_export_mapping (the column-mapping YAML)"
            )
        source = template.format(ds=interval_days(start, end)[0].isoformat())
        try:
            report = ingest(
                source,
                load_mapping(mapping),
                settings.dataset_uri("validated"),
                settings.max_bad_fraction,
                settings.storage_options(),
            )
        except BatchRejectedError as error:
            raise AirflowFailException(str(error)) from None
        return to_json({"source": source, **{k: report.get(k) for k in ("passed", "totals")}})

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def build_features() -> dict[str, Any]:
        """Point-in-time features of the stored history into ``features/`` by day."""
        from fraudops.pipelines.features import build_features as build

        settings = task_settings()
        summary = build(
            settings.dataset_uri("validated"),
            settings.dataset_uri("features"),
            settings.storage_options(),
        )
        keep = ("rows", "partitions", "spec_hash", "dataset_hash", "source_dataset_hash")
        return to_json({k: summary.get(k) for k in keep})

    @task
    def refresh_online_store() -> dict[str, Any]:
        """Top up a shared (Redis) online store from the stored history."""
        from airflow.sdk.exceptions import AirflowSkipException

        from fraudops.features.online import OnlineFeatureEngine, open_online_store
        from fraudops.pipelines.features import backfill_online_store

        settings = task_settings()
        uri = settings.online_store_uri
        if uri.startswith("memory"):
            raise AirflowSkipException(
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
