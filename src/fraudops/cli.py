"""The ``fraudops`` command line: thin wrappers over ``fraudops.pipelines``."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fraudops import __version__
from fraudops.cli_features import features_app
from fraudops.config import Settings, get_settings

app = typer.Typer(
    name="fraudops",
    help="End-to-end MLOps for payment-card fraud detection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Simulate, ingest, validate and store transactions.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")

console = Console()
err_console = Console(stderr=True)


class CliError(Exception):
    """An error the user can fix; printed without a traceback."""


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected failures into a one-line message and exit code 1."""
    from pydantic import ValidationError

    from fraudops.data.ingest import MappingError
    from fraudops.data.validate import BatchRejectedError

    try:
        yield
    except (CliError, MappingError, BatchRejectedError, FileNotFoundError, ValueError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except ValidationError as exc:
        err_console.print(f"[bold red]error:[/] invalid settings: {exc}")
        raise typer.Exit(1) from None


def settings() -> Settings:
    with user_errors():
        return get_settings()


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


def print_json(payload: Any) -> None:
    console.print_json(json.dumps(payload, default=str))


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)
    ] = False,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "WARNING",
) -> None:
    """fraudops: simulate, validate, featurise, train, serve and monitor fraud models."""
    if version:
        console.print(f"fraudops {__version__}")
        raise typer.Exit()
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # results come as tables; library chatter (MLflow's database set-up, SQLAlchemy's
    # deprecation notices) would bury them
    import warnings

    logging.getLogger("mlflow").setLevel(max(logging.WARNING, logging.getLogger().level))
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


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
    label_delay_days: Annotated[
        float, typer.Option(min=0.01, help="Mean days until a fraud is reported.")
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
    console.print(_report_table(report, "Validation"))
    failures = _failures_table(report)
    if failures:
        console.print(failures)
    console.print(f"clean data: {report['clean_uri']}  report: {out}/report.json")


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
    console.print(_report_table(report, f"Ingested {input}"))
    failures = _failures_table(report)
    if failures:
        console.print(failures)
    console.print(f"clean data: {report['clean_uri']}  report: {out}/report.json")


def _parse_day(value: str | None, option: str) -> Any:
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise CliError(f"{option} must be a date as YYYY-MM-DD, got {value!r}") from None


def comparison_table(models: dict[str, dict[str, float]], best: str | None) -> Table:
    from fraudops.models.train import ALGORITHM_NAMES

    columns = [
        ("cv_average_precision", "CV AP"),
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


@app.command("train")
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
            models=tuple(m.strip() for m in models.split(",") if m.strip()),
            trials=trials,
            timeout_seconds=timeout,
            tune_model=tune_model,
            train_start=_parse_day(train_start, "--train-start"),
            train_end=_parse_day(train_end, "--train-end"),
            delay_days=delay_days,
            test_end=_parse_day(test_end, "--test-end"),
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
                }.get(kind, kind)
                bar.update(task, advance=1 if kind != "tuned" else 0, detail=detail)

            summary = run_training(s, source, options, emit)
    console.print(comparison_table(summary["models"], summary["best"]))
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


@app.command("promote")
def promote(
    version: Annotated[
        int | None, typer.Option(min=1, help="Version to promote (default: the challenger).")
    ] = None,
    k: Annotated[int, typer.Option(min=1, help="Alerts per day for card precision@k.")] = 100,
) -> None:
    """Promote a version to champion if it passes the gate on its test window."""
    from fraudops.models.registry import RegistryError
    from fraudops.pipelines.training import promote_version

    s = settings()
    with user_errors():
        try:
            decision = promote_version(s, version, k)
        except RegistryError as exc:
            raise CliError(str(exc)) from None
    if decision.promoted:
        console.print(
            f"[green]version {decision.challenger_version} is now champion[/]: {decision.reason}"
        )
    else:
        err_console.print(
            f"[yellow]version {decision.challenger_version} stays challenger[/]: {decision.reason}"
        )
        raise typer.Exit(1)


@app.command("rollback")
def rollback() -> None:
    """Move the champion alias back to the previous champion."""
    from fraudops.models.registry import Registry, RegistryError
    from fraudops.pipelines.training import configure_mlflow

    s = settings()
    with user_errors():
        configure_mlflow(s)
        registry = Registry(s.resolved_tracking_uri, s.resolved_registry_uri, s.model_name)
        try:
            current, previous = registry.rollback()
        except RegistryError as exc:
            raise CliError(str(exc)) from None
    console.print(f"champion moved back from version {current} to version {previous}")


@app.command("score")
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
    from fraudops.models.registry import RegistryError
    from fraudops.pipelines.scoring import score_dataset

    s = settings()
    with user_errors():
        try:
            summary = score_dataset(s, input, out, alias, reasons, compiled)
        except RegistryError as exc:
            raise CliError(str(exc)) from None
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


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    warm_from: Annotated[
        str | None,
        typer.Option(help="Warm the online store from these stored transactions at start."),
    ] = None,
    warm_days: Annotated[int, typer.Option(min=1, help="Days of history to warm from.")] = 35,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the champion model over HTTP (FastAPI + uvicorn, one worker)."""
    # Read by polars' allocator (jemalloc) when polars loads, so set before any import of
    # it: freed pages go back to the OS within a second instead of staying resident — the
    # start-up warm-up alone frees ~100 MB that would otherwise be held for good.
    os.environ.setdefault(
        "_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
    )
    import uvicorn

    from fraudops.serving.app import create_app

    s = settings()
    app_ = create_app(s, warm_from=warm_from, warm_days=warm_days)
    state = app_.state.fraudops

    class DrainingServer(uvicorn.Server):
        """On SIGTERM/SIGINT readiness turns 503 first, then uvicorn drains requests."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            state.draining = True
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app_,
        host=host,
        port=port,
        log_level=s.log_level.lower(),
        access_log=access_log,
        timeout_graceful_shutdown=20,
        http="httptools",
        loop="uvloop",
    )
    console.print(f"fraudops API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    DrainingServer(config).run()


@app.command("smoke")
def smoke(
    url: Annotated[str, typer.Option(help="Base URL of a running fraudops API.")],
    api_key: Annotated[
        str | None,
        typer.Option(help="API key (default: FRAUDOPS_API_KEY).", envvar="FRAUDOPS_API_KEY"),
    ] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for readiness.")] = 60,
) -> None:
    """Check a deployed API: liveness, readiness, a prediction and the model version."""
    import time as time_

    import httpx

    from fraudops.serving.schemas import EXAMPLE_TRANSACTION

    key = api_key or settings().api_key.get_secret_value()
    checks: list[tuple[str, bool, str]] = []
    with httpx.Client(base_url=url.rstrip("/"), timeout=10, headers={"X-API-Key": key}) as client:
        try:
            live = client.get("/health/live")
            checks.append(("live", live.status_code == 200, str(live.status_code)))
            deadline = time_.monotonic() + timeout
            ready = client.get("/health/ready")
            while ready.status_code != 200 and time_.monotonic() < deadline:
                time_.sleep(1)
                ready = client.get("/health/ready")
            checks.append(("ready", ready.status_code == 200, ready.text[:80]))
            tx = {**EXAMPLE_TRANSACTION, "transaction_id": f"smoke-{time_.time_ns()}"}
            predicted = client.post("/v1/predict", json=tx)
            body = predicted.json() if predicted.status_code == 200 else {}
            valid = (
                predicted.status_code == 200
                and 0 <= body.get("fraud_probability", -1) <= 1
                and body.get("decision") in ("approve", "review", "decline")
                and len(body.get("reasons", [])) > 0
            )
            checks.append(("predict", valid, f"{predicted.status_code} {body.get('decision', '')}"))
            model = client.get("/v1/model")
            served = model.json().get("version") if model.status_code == 200 else None
            same = served is not None and served == body.get("model", {}).get("version")
            checks.append(("model version", same, f"serving v{served}"))
        except httpx.HTTPError as exc:
            checks.append(("connection", False, str(exc)))
    table = Table(title=f"Smoke test of {url}")
    for column in ("check", "result", "detail"):
        table.add_column(column)
    for name, ok, detail in checks:
        table.add_row(name, "[green]ok[/]" if ok else "[red]FAILED[/]", detail)
    console.print(table)
    if not all(ok for _, ok, _ in checks):
        raise typer.Exit(1)


@app.command("demo")
def demo(
    days: Annotated[int, typer.Option(min=22, help="Days to simulate (history + live).")] = 60,
    drift_day: Annotated[
        int | None,
        typer.Option(min=0, help="Day the world changes (default 40; none: --no-drift)."),
    ] = 40,
    no_drift: Annotated[
        bool, typer.Option("--no-drift", help="Simulate a stationary world.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    customers: Annotated[int, typer.Option(min=100, help="Card holders simulated.")] = 3_000,
    warmup_days: Annotated[
        int, typer.Option(min=21, help="Days of history before going live.")
    ] = 30,
) -> None:
    """Run the closed loop: simulate, score, label, monitor, retrain and promote, day by day."""
    from fraudops.monitoring.report import render_report
    from fraudops.pipelines.loop import (
        HEADLINE_FACTS,
        LoopConfig,
        reset_workspace,
        run_loop,
        summarise,
    )

    s = settings()
    with user_errors():
        config = LoopConfig(
            days=days,
            drift_day=None if no_drift else drift_day,
            warmup_days=warmup_days,
            seed=seed,
            customers=customers,
        )
    home = Path(s.home)
    if s.data_uri or s.mlflow_tracking_uri:
        err_console.print(
            "[yellow]note:[/] the demo runs on the configured data store and registry"
        )
    home.mkdir(parents=True, exist_ok=True)
    reset_workspace(home)
    loop_settings = s.model_copy(update={"label_maturity_days": config.label_maturity_days})
    console.rule(f"fraudops demo · {days} days · drift on day {config.drift_day} · seed {seed}")
    console.print(f"workspace: {home.resolve()}")
    timeline = Table(title="Live days", show_lines=False)
    for column in ("day", "date", "tx", "frauds", "caught", "drift", "PSI", "champion", "event"):
        timeline.add_column(column, justify="right" if column not in ("date", "event") else "left")

    with progress_bar() as bar:
        task = bar.add_task("closed loop", total=days - warmup_days + 2, detail="history")

        def emit(kind: str, payload: dict[str, Any]) -> None:
            if kind == "history":
                bar.update(task, advance=1, detail="training the first champion")
            elif kind == "trained":
                bar.update(task, advance=1, detail="live")
                bar.console.print(comparison_table(payload["models"], payload["best"]))
            elif kind == "day":
                event = []
                if payload["retrained"]:
                    event.append(
                        f"[green]promoted v{payload['promoted_version']}[/]"
                        if payload["promoted_version"]
                        else "[yellow]retrained, gate refused[/]"
                    )
                if payload["retrain_verdict"]:
                    event.append("; ".join(payload["reasons"])[:60])
                drift = payload["drift_share"]
                psi = payload["score_psi"]
                bar.console.print(
                    f"day {payload['day']:>3} {payload['date']}  tx {payload['transactions']:>6,}  "
                    f"frauds {payload['frauds']:>3}  caught {payload['frauds_caught']:>3}  "
                    f"drift {'-' if drift is None else f'{drift:.2f}'}  "
                    f"PSI {'-' if psi is None else f'{psi:.3f}'}  v{payload['champion_version']}  "
                    + " ".join(event)
                )
                bar.update(task, advance=1, detail=payload["date"])

        with user_errors():
            result = run_loop(loop_settings, config, emit)
            summary = summarise(loop_settings, config, result)
    summary_path = home / "demo-summary.json"
    report_path = home / "report.html"
    summary_path.write_text(json.dumps(summary, indent=2, default=str))
    report_path.write_text(render_report(summary))
    facts = Table(title="Closed loop summary")
    facts.add_column("fact")
    facts.add_column("value", justify="right")
    for key in (*HEADLINE_FACTS, "transactions_scored", "frauds_caught", "frauds"):
        facts.add_row(key, str(summary.get(key)))
    console.print(facts)
    console.print(f"summary: {summary_path.resolve()}")
    console.print(f"report:  {report_path.resolve()}")


@app.command("monitor")
def monitor(
    as_of: Annotated[
        str | None,
        typer.Option(help="End of the window, ISO time (default: the latest stored prediction)."),
    ] = None,
    window: Annotated[str, typer.Option(help="Window length: e.g. 1d, 6h, 30m.")] = "1d",
    performance_days: Annotated[
        int, typer.Option(min=1, help="Days of matured predictions to judge performance on.")
    ] = 7,
    source: Annotated[
        str, typer.Option(help="predictions (the API's log), data (stored transactions) or auto.")
    ] = "auto",
    report: Annotated[
        str, typer.Option(help="Evidently HTML report: auto, always or never.")
    ] = "auto",
) -> None:
    """Judge one window: drift, score PSI, decision rates, matured-label performance."""
    from datetime import UTC, datetime, timedelta

    from fraudops.data import store
    from fraudops.models.registry import RegistryError
    from fraudops.pipelines.monitoring import run_monitoring

    s = settings()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    with user_errors():
        if len(window) < 2 or window[-1] not in units or not window[:-1].isdigit():
            raise CliError(f"--window must look like 1d, 6h or 30m, got {window!r}")
        length = timedelta(**{units[window[-1]]: int(window[:-1])})
        if source not in ("auto", "predictions", "data"):
            raise CliError(f"--source must be auto, predictions or data, got {source!r}")
        if report not in ("auto", "always", "never"):
            raise CliError(f"--report must be auto, always or never, got {report!r}")
        if as_of is None:
            logged = store.read_chunks(
                s.dataset_uri("predictions"), storage_options=s.storage_options()
            )
            if logged.height:
                latest = logged["timestamp"].max()
                assert isinstance(latest, datetime)
                end = latest
            else:
                stored = store.list_partitions(s.dataset_uri("raw"), s.storage_options())
                if not stored:
                    raise CliError("nothing to monitor yet: no prediction log and no stored data")
                end = datetime.fromisoformat(stored[-1]).replace(tzinfo=UTC) + timedelta(days=1)
        else:
            try:
                end = datetime.fromisoformat(as_of)
            except ValueError:
                raise CliError(f"--as-of must be an ISO date or time, got {as_of!r}") from None
            end = end.replace(tzinfo=UTC) if end.tzinfo is None else end
        try:
            record = run_monitoring(s, end, length, performance_days, report=report, source=source)
        except RegistryError as exc:
            raise CliError(str(exc)) from None
    span = f"{record.window_start:%Y-%m-%d %H:%M} → {record.window_end:%Y-%m-%d %H:%M}"
    table = Table(title=f"Monitoring {span}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    live = record.live_average_precision
    for name, value in (
        ("rows", f"{record.rows:,}"),
        ("model version", str(record.model_version)),
        ("drift share", "–" if record.drift_share is None else f"{record.drift_share:.2f}"),
        ("score PSI", "–" if record.score_psi is None else f"{record.score_psi:.3f}"),
        ("review rate", f"{record.decision_rates.get('review', 0):.3%}"),
        ("decline rate", f"{record.decision_rates.get('decline', 0):.3%}"),
        ("live AP (matured)", "–" if live is None else f"{live:.3f}"),
        ("verdict", "retrain" if record.verdict.retrain else "ok"),
    ):
        table.add_row(name, value)
    console.print(table)
    for reason in record.verdict.reasons:
        console.print(f"  • {reason}")
    if record.report_html:
        console.print(f"Evidently report: {record.report_html}")
