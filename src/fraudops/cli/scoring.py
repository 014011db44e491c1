"""``fraudops score``: bulk scoring of stored transactions."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from fraudops.cli.common import CliError, console, settings, user_errors
from fraudops.config import Settings


def score(
    input: Annotated[
        str,
        typer.Option(
            "--input",
            help="Transactions, or a feature table from 'features build' (path or s3://); "
            "engine spark scores a feature table.",
        ),
    ],
    out: Annotated[str, typer.Option(help="Where to write the scored, date-partitioned table.")],
    alias: Annotated[str, typer.Option(help="Registry alias to score with.")] = "champion",
    reasons: Annotated[
        str,
        typer.Option(
            help="Which rows get reason codes: flagged (review and decline), all, or none."
        ),
    ] = "flagged",
    compiled: Annotated[
        bool | None,
        typer.Option(
            "--compiled/--interpreted",
            help="LightGBM through native code (fraudops[compiled]) or LightGBM's own "
            "predict. Default: compiled when installed and worth the compile.",
            show_default=False,
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="polars (this process) or spark (settings.spark_master, for data past one "
            "machine). Default: FRAUDOPS_ENGINE, else polars.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Bulk-score stored transactions with the champion through the offline features."""
    s = settings()
    chosen = engine or s.engine
    with user_errors():
        if chosen == "spark":
            summary = _score_on_spark(s, input, out, alias, reasons, compiled)
        elif chosen == "polars":
            from fraudops.pipelines.scoring import score_dataset

            summary = score_dataset(s, input, out, alias, reasons, compiled)
        else:
            raise CliError(f"--engine must be polars or spark, not {chosen!r}")
    table = Table(title=f"Scored with {s.model_name} v{summary['model_version']}")
    step = "model step (s)" if chosen == "polars" else "spark job (s)"
    columns = ("rows", "approve", "review", "decline", step, "engine", "written to")
    for column in columns:
        table.add_column(column)
    d = summary["decisions"]
    table.add_row(
        f"{summary['rows']:,}",
        f"{d.get('approve', 0):,}",
        f"{d.get('review', 0):,}",
        f"{d.get('decline', 0):,}",
        f"{summary['model_seconds']:.2f}",
        summary["engine"],
        out,
    )
    console.print(table)


def _score_on_spark(
    s: Settings, input: str, out: str, alias: str, reasons: str, compiled: bool | None
) -> dict[str, Any]:
    from fraudops.features.spark import stopping_if_started
    from fraudops.pipelines.spark_scoring import score_dataset_spark

    if compiled:
        raise CliError("--compiled is a polars-engine option; engine spark scores interpreted")
    with stopping_if_started():
        return score_dataset_spark(s, input, out, alias, reasons)
