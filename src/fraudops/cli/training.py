"""``fraudops train``, ``promote`` and ``rollback``: the model registry's life cycle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fraudops.cli.common import (
    CliError,
    console,
    err_console,
    parse_day,
    progress_bar,
    settings,
    user_errors,
)


def parse_models(value: str) -> tuple[str, ...]:
    """``--models lr,lgbm``: known algorithm names, in the order given."""
    from fraudops.models.train import ALGORITHM_NAMES

    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in ALGORITHM_NAMES]
    if not names or unknown:
        known = ", ".join(ALGORITHM_NAMES)
        raise CliError(f"--models takes a comma list of {known}; got {value!r}")
    return names


def comparison_table(models: dict[str, dict[str, float]], best: str | None) -> Table:
    from fraudops.models.train import ALGORITHM_NAMES

    columns = [
        ("holdout_average_precision", "held-out AP"),
        ("roc_auc", "ROC AUC"),
        ("average_precision", "AP"),
        ("recall_at_1pct_fpr", "recall@1%FPR"),
        ("precision_at_k", "P@k"),
        ("card_precision_at_k", "card P@k"),
        ("savings", "savings"),
    ]
    table = Table(title="Model comparison (test window)")
    table.add_column("model")
    for _, header in columns:
        table.add_column(header, justify="right")
    for name, metrics in models.items():
        label = ALGORITHM_NAMES.get(name, name) + (" ★" if name == best else "")
        cells = []
        for key, _ in columns:
            value = metrics.get(key)
            if value is None:
                cells.append("–")
            elif key == "savings":
                cells.append(f"{value:,.0f}")
            else:
                cells.append(f"{value:.3f}")
        table.add_row(label, *cells)
    return table


def train(
    data: Annotated[
        str | None,
        typer.Option(help="Transactions or feature table (path or s3://). Default: <data>/raw."),
    ] = None,
    models: Annotated[
        str, typer.Option(help="Comma list of lr, rf, xgb, lgbm.")
    ] = "lr,rf,xgb,lgbm",
    trials: Annotated[int, typer.Option(min=0, help="Optuna trials for the best model.")] = 0,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Optuna time budget in seconds.")
    ] = None,
    tune_model: Annotated[
        str | None, typer.Option(help="Model to tune (default: best by cross-validation).")
    ] = None,
    train_start: Annotated[str | None, typer.Option(help="First training day.")] = None,
    train_end: Annotated[str | None, typer.Option(help="Training cutoff (exclusive).")] = None,
    delay_days: Annotated[int, typer.Option(min=0, help="Label-delay gap in days.")] = 7,
    label_cutoff: Annotated[
        str | None,
        typer.Option(
            help="When the model is built: it learns the labels reported by then, and the "
            "test window and gate are judged with them too (default: the test start for "
            "training, final labels for the test window)."
        ),
    ] = None,
    test_end: Annotated[
        str | None, typer.Option(help="End of the test window (exclusive).")
    ] = None,
    test_days: Annotated[
        int, typer.Option(min=1, help="Test days when --train-end is not set.")
    ] = 7,
    k: Annotated[int, typer.Option(min=1, help="Alerts per day for precision@k.")] = 100,
    calibration: Annotated[str, typer.Option(help="isotonic, platt or none.")] = "isotonic",
    resampling: Annotated[str, typer.Option(help="none, undersample or smote.")] = "none",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    no_promote: Annotated[
        bool, typer.Option("--no-promote", help="Register as challenger without the gate.")
    ] = False,
    metrics_out: Annotated[
        Path | None, typer.Option(help="Write the comparison as JSON to this file.")
    ] = None,
) -> None:
    """Train and compare models on a time split, register the best, run the promotion gate."""
    from fraudops.models.train import RESAMPLING
    from fraudops.pipelines.training import TrainingOptions, run_training

    s = settings()
    with user_errors():
        if resampling not in RESAMPLING:
            raise CliError(f"--resampling must be one of {RESAMPLING}, got {resampling!r}")
        if calibration not in ("isotonic", "platt", "none"):
            raise CliError(f"--calibration must be isotonic, platt or none, got {calibration!r}")
        options = TrainingOptions(
            models=parse_models(models),
            trials=trials,
            timeout_seconds=timeout,
            tune_model=tune_model,
            train_start=parse_day(train_start, "--train-start"),
            train_end=parse_day(train_end, "--train-end"),
            delay_days=delay_days,
            label_cutoff=parse_day(label_cutoff, "--label-cutoff"),
            test_end=parse_day(test_end, "--test-end"),
            test_days=test_days,
            k=k,
            calibration=calibration,
            resampling=resampling,
            seed=seed,
            promote=not no_promote,
        )
        source = data or f"{s.resolved_data_uri}/raw"
        with progress_bar() as bar:
            steps = len(options.models) * 2 + 3 + options.trials
            task = bar.add_task("training", total=steps, detail="features")

            def emit(kind: str, payload: dict[str, Any]) -> None:
                detail = {
                    "features": f"{payload.get('rows', 0):,} rows",
                    "split": f"train {payload.get('train', 0):,} / test {payload.get('test', 0):,}",
                    "cv": f"cross-validated {payload.get('algorithm')}",
                    "trial": f"trial {payload.get('trial')} of {payload.get('algorithm')}",
                    "tuned": f"tuned {payload.get('algorithm')}",
                    "fitted": f"fitted {payload.get('algorithm')}",
                    "registered": f"registered version {payload.get('version')}",
                    "gate": "promotion gate",
                    "selected": f"selected {payload.get('chosen')}",
                }.get(kind, kind)
                bar.update(task, advance=1 if kind != "tuned" else 0, detail=detail)

            summary = run_training(s, source, options, emit)
    console.print(comparison_table(summary["models"], summary["best"]))
    selection = summary.get("selection") or {}
    if selection:
        console.print(
            f"selection on {selection['rows']:,} held-out rows with {selection['frauds']} known "
            f"frauds (spread {selection['spread']:.3f}): {selection['reason']}"
        )
    promotion = summary.get("promotion") or {}
    console.print(
        f"best: [bold]{summary['best']}[/] · registered version "
        f"{summary['registered_version']} as challenger"
    )
    if promotion:
        verdict = (
            "[green]promoted to champion[/]"
            if promotion["promoted"]
            else "[yellow]kept as challenger[/]"
        )
        console.print(f"promotion gate: {verdict} — {promotion['reason']}")
    if metrics_out:
        metrics_out.write_text(json.dumps(summary, indent=2, default=str))
        console.print(f"metrics written to {metrics_out}")


def promote(
    version: Annotated[
        int | None, typer.Option(min=1, help="Version to promote (default: the challenger).")
    ] = None,
    k: Annotated[int, typer.Option(min=1, help="Alerts per day for card precision@k.")] = 100,
) -> None:
    """Promote a version to champion if it passes the gate on its test window."""
    from fraudops.pipelines.training import promote_version

    s = settings()
    with user_errors():
        decision = promote_version(s, version, k)
    if decision.promoted:
        console.print(
            f"[green]version {decision.challenger_version} is now champion[/]: {decision.reason}"
        )
    else:
        err_console.print(
            f"[yellow]version {decision.challenger_version} stays challenger[/]: {decision.reason}"
        )
        raise typer.Exit(1)


def rollback() -> None:
    """Move the champion alias back to the previous champion."""
    from fraudops.models.registry import Registry
    from fraudops.models.tracking import configure_mlflow

    s = settings()
    with user_errors():
        configure_mlflow(s)
        registry = Registry.from_settings(s)
        current, previous = registry.rollback()
    console.print(f"champion moved back from version {current} to version {previous}")
