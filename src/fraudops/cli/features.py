"""``fraudops features``: build the offline feature table, list the features."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from fraudops.cli.common import CliError, console, progress_bar, settings, user_errors
from fraudops.config import Settings

features_app = typer.Typer(
    help="Point-in-time fraud features: one definition, offline table and online store.",
    no_args_is_help=True,
)


@features_app.command("build")
def features_build(
    input: Annotated[
        str,
        typer.Option(
            "--input",
            help="Transactions: the output of 'data generate', or of 'data validate'/'ingest'.",
        ),
    ],
    out: Annotated[str, typer.Option(help="Feature table root (path or s3://), by date.")],
    labels: Annotated[
        str | None,
        typer.Option(
            help="Label feed (transaction_id, is_fraud, reported_at) as parquet/CSV file or "
            "dataset; default: the transactions' own labels and label_available_at."
        ),
    ] = None,
    chunk_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Compute this many days at a time, each with the look-back its windows need "
            "(bounded memory, same values); default: the whole history at once.",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="polars (this process) or spark (FRAUDOPS_SPARK_MASTER, default local[*]); "
            "default: FRAUDOPS_ENGINE, else polars. Both write the same table.",
        ),
    ] = None,
) -> None:
    """Compute every feature of every transaction as of its own time and store them."""
    s = settings()
    chosen = engine or s.engine
    with user_errors():
        if chosen not in ("polars", "spark"):
            raise CliError(f"--engine must be polars or spark, not {chosen!r}")
        if chosen == "spark" and chunk_days is not None:
            raise CliError("--chunk-days is for the polars engine (Spark bounds memory itself)")
    with user_errors(), progress_bar() as bar:
        task = bar.add_task(f"building features ({chosen})", total=None, detail="")

        def on_day(day: str, rows: int) -> None:
            bar.update(task, advance=1, detail=f"wrote {day} · {rows:,} rows")

        if chosen == "spark":
            summary = _build_with_spark(input, out, s, labels, on_day)
        else:
            from fraudops.pipelines.features import build_features

            summary = build_features(
                input, out, s.storage_options(), labels, on_day=on_day, chunk_days=chunk_days
            )
    table = Table(title="Features")
    for column in ("transactions", "features", "days", "spec hash", "seconds", "written to"):
        table.add_column(column)
    table.add_row(
        f"{summary['rows']:,}",
        str(summary["features"]),
        str(summary["partitions"]),
        summary["spec_hash"],
        f"{summary['seconds']:.1f}",
        out,
    )
    console.print(table)
    console.print(f"feature list: {out}/feature_list.json  labels: {summary['labels']}")


def _build_with_spark(
    input: str, out: str, s: Settings, labels: str | None, on_day: Callable[[str, int], None]
) -> dict[str, Any]:
    from fraudops.features.spark import stopping_if_started
    from fraudops.pipelines.features import build_features

    with stopping_if_started():
        return build_features(
            input,
            out,
            s.storage_options(),
            labels,
            on_day=on_day,
            engine="spark",
            spark_master=s.spark_master,
        )


@features_app.command("list")
def features_list() -> None:
    """Print every feature of the spec, in model input order."""
    from fraudops.features.spec import describe_features, spec_hash

    table = Table(title=f"Features (spec {spec_hash()})")
    for column in ("#", "name", "description"):
        table.add_column(column)
    for position, feature in enumerate(describe_features(), start=1):
        table.add_row(str(position), feature["name"], feature["description"])
    console.print(table)
