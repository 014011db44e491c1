"""``fraudops data``: simulate, validate and ingest transactions into the store."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fraudops.cli.common import CliError, console, progress_bar, settings, user_errors

data_app = typer.Typer(
    help="Simulate, ingest, validate and store transactions.", no_args_is_help=True
)


@data_app.command("generate")
def data_generate(
    out: Annotated[
        str | None, typer.Option(help="Output dataset URI (path or s3://). Default: <data>/raw.")
    ] = None,
    customers: Annotated[int, typer.Option(min=10, help="Number of card holders.")] = 5_000,
    merchants: Annotated[
        int | None, typer.Option(min=1, help="Number of merchants (default customers/10).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Number of days to simulate.")] = 30,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2026-01-01",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
    fraud_rate: Annotated[
        float, typer.Option(min=0.0, max=0.49, help="Target share of fraudulent transactions.")
    ] = 0.005,
    tx_per_day: Annotated[
        float, typer.Option(min=0.01, help="Mean transactions per card holder per day.")
    ] = 1.6,
    label_delay_model: Annotated[
        str,
        typer.Option(
            help="realistic (a call within days or a chargeback after weeks), constant "
            "(every fraud reported --label-delay-days later) or gamma (mean --label-delay-days)."
        ),
    ] = "realistic",
    label_delay_days: Annotated[
        float,
        typer.Option(min=0.01, help="Days until a fraud is reported (constant and gamma)."),
    ] = 4.0,
    unreported: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of frauds never reported.")
    ] = 0.05,
    drift_day: Annotated[
        int | None, typer.Option(min=0, help="Day index from which the world drifts.")
    ] = None,
    drift_kind: Annotated[
        str, typer.Option(help="Comma list of: new_pattern, amount_shift, channel_mix.")
    ] = "new_pattern",
) -> None:
    """Simulate card transactions with fraud scenarios into date-partitioned parquet."""
    from fraudops.data.generate import SimulationConfig
    from fraudops.pipelines.data import generate_to_store

    s = settings()
    with user_errors():
        try:
            first_day = date.fromisoformat(start)
        except ValueError:
            raise CliError(f"--start must be a date as YYYY-MM-DD, got {start!r}") from None
        config = SimulationConfig(
            customers=customers,
            merchants=merchants,
            days=days,
            start=first_day,
            seed=seed,
            fraud_rate=fraud_rate,
            tx_per_customer_per_day=tx_per_day,
            label_delay_model=label_delay_model,
            label_delay_mean_days=label_delay_days,
            unreported_fraction=unreported,
            drift_day=drift_day,
            drift_kinds=tuple(k.strip() for k in drift_kind.split(",") if k.strip()),
        )
        target = out or f"{s.resolved_data_uri}/raw"
        with progress_bar() as bar:
            task = bar.add_task("simulating", total=days, detail="")
            total = 0

            def on_day(day: str, rows: int) -> None:
                nonlocal total
                total += rows
                bar.update(task, advance=1, detail=f"{day} · {total:,} transactions")

            summary = generate_to_store(config, target, s.storage_options(), on_day=on_day)
    table = Table(title="Simulated transactions")
    for column in ("days", "transactions", "dataset hash", "written to"):
        table.add_column(column)
    table.add_row(
        str(summary.partitions), f"{summary.rows:,}", (summary.dataset_hash or "")[:12], target
    )
    console.print(table)


def _report_table(report: dict[str, Any], title: str) -> Table:
    totals = report["totals"]
    table = Table(title=title)
    for column in ("rows", "valid", "quarantined", "bad fraction", "passed"):
        table.add_column(column)
    table.add_row(
        f"{totals['rows']:,}",
        f"{totals['valid_rows']:,}",
        f"{totals['quarantined_rows']:,}",
        f"{totals['bad_fraction']:.4%}",
        "yes" if report["passed"] else "[red]no[/]",
    )
    return table


def _failures_table(report: dict[str, Any]) -> Table | None:
    failures: dict[str, int] = {}
    for batch in report["batches"].values():
        for check, count in batch["failures_by_check"].items():
            failures[check] = failures.get(check, 0) + count
    if not failures:
        return None
    table = Table(title="Quarantined rows by failed check")
    table.add_column("check")
    table.add_column("rows", justify="right")
    for check, count in sorted(failures.items(), key=lambda kv: -kv[1]):
        table.add_row(check, f"{count:,}")
    return table


def _print_report(report: dict[str, Any], title: str, out: str) -> None:
    console.print(_report_table(report, title))
    failures = _failures_table(report)
    if failures:
        console.print(failures)
    console.print(f"clean data: {report['clean_uri']}  report: {out}/report.json")


@data_app.command("validate")
def data_validate(
    input: Annotated[str, typer.Option("--input", help="Dataset to validate (path or s3://).")],
    out: Annotated[str, typer.Option(help="Output root: writes clean/, quarantine/, report.json.")],
    max_bad_fraction: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Fail when a batch has more bad rows than this."),
    ] = None,
) -> None:
    """Validate each day: good rows to clean/, bad rows (with reasons) to quarantine/."""
    from fraudops.pipelines.data import validate_dataset

    s = settings()
    limit = s.max_bad_fraction if max_bad_fraction is None else max_bad_fraction
    from fraudops.data.validate import BatchRejectedError

    with user_errors(), progress_bar() as bar:
        task = bar.add_task("validating", total=None, detail="")
        try:
            report = validate_dataset(
                input,
                out,
                limit,
                s.storage_options(),
                on_day=lambda day, rows: bar.update(task, advance=1, detail=f"{day} · {rows:,}"),
            )
        except BatchRejectedError:
            bar.stop()
            from fraudops.data import store

            report = store.read_json(f"{out}/report.json", s.storage_options())
            console.print(_report_table(report, "Validation"))
            raise
    _print_report(report, "Validation", out)


@data_app.command("ingest")
def data_ingest(
    input: Annotated[str, typer.Option("--input", help="CSV or parquet export to ingest.")],
    mapping: Annotated[Path, typer.Option(help="YAML column mapping (see README).")],
    out: Annotated[str, typer.Option(help="Output root: writes clean/, quarantine/, report.json.")],
    max_bad_fraction: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Fail when a day has more bad rows than this."),
    ] = None,
) -> None:
    """Map a transaction export onto the canonical schema, validate it and store it."""
    from fraudops.data.ingest import load_mapping
    from fraudops.pipelines.data import ingest_export

    s = settings()
    limit = s.max_bad_fraction if max_bad_fraction is None else max_bad_fraction
    with user_errors():
        report = ingest_export(input, load_mapping(mapping), out, limit, s.storage_options())
    _print_report(report, f"Ingested {input}", out)
