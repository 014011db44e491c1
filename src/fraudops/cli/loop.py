"""``fraudops demo``: the closed loop, day by day, in one process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fraudops.cli.common import console, err_console, progress_bar, settings, user_errors
from fraudops.cli.training import comparison_table, parse_models


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
    models: Annotated[
        str, typer.Option(help="Comma list of lr, rf, xgb, lgbm for the first champion.")
    ] = "lr,rf,xgb,lgbm",
    rules: Annotated[
        Path | None,
        typer.Option(help="Rules file the service decides with (default: the example rules)."),
    ] = None,
    no_rules: Annotated[
        bool, typer.Option("--no-rules", help="Decide with the model's thresholds alone.")
    ] = False,
) -> None:
    """Run the closed loop: simulate, score, label, monitor, retrain and promote, day by day."""
    from fraudops.decisions import EXAMPLE_RULES
    from fraudops.pipelines.loop import LoopConfig, reset_workspace, run_loop
    from fraudops.pipelines.loop_summary import HEADLINE_FACTS, summarise
    from fraudops.pipelines.report import render_report

    s = settings()
    with user_errors():
        config = LoopConfig(
            days=days,
            drift_day=None if no_drift else drift_day,
            warmup_days=warmup_days,
            seed=seed,
            customers=customers,
            initial_models=parse_models(models),
            rules_path=None if no_rules else (rules or EXAMPLE_RULES),
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
    extra = ("transactions_scored", "frauds_caught", "frauds", "policy_savings", "model_savings")
    for key in (*HEADLINE_FACTS, *extra):
        facts.add_row(key, str(summary.get(key)))
    console.print(facts)
    console.print(f"summary: {summary_path.resolve()}")
    console.print(f"report:  {report_path.resolve()}")
