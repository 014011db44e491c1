"""``fraudops score``: bulk scoring of stored transactions."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fraudops.cli.common import console, settings, user_errors


def score(
    input: Annotated[str, typer.Option("--input", help="Transactions to score (path or s3://).")],
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
) -> None:
    """Bulk-score stored transactions with the champion through the offline features."""
    from fraudops.pipelines.scoring import score_dataset

    s = settings()
    with user_errors():
        summary = score_dataset(s, input, out, alias, reasons, compiled)
    table = Table(title=f"Scored with {s.model_name} v{summary['model_version']}")
    columns = ("rows", "approve", "review", "decline", "model step (s)", "engine", "written to")
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
