"""``fraudops demo``: the closed loop, day by day, in one process."""

from __future__ import annotations

import json
from dataclasses import replace
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
    analysts: Annotated[
        bool,
        typer.Option(
            help="Simulate an analyst team working the review queue (verdicts are labels "
            "the same day; confirmed cards blocked; one rule drafted after the drift)."
        ),
    ] = True,
    analyst_capacity: Annotated[
        int, typer.Option(min=1, help="Cases the analyst team reviews a day.")
    ] = 40,
    compare: Annotated[
        bool,
        typer.Option(
            help="Also run the same world with chargebacks as the only labels and report "
            "both recoveries (about doubles the run time)."
        ),
    ] = True,
) -> None:
    """Run the closed loop: simulate, score, label, monitor, retrain and promote, day by day."""
    from fraudops.decisions import EXAMPLE_RULES
    from fraudops.pipelines.analysts import AnalystTeam
    from fraudops.pipelines.loop import LoopConfig, reset_workspace, run_loop
    from fraudops.pipelines.loop_summary import HEADLINE_FACTS, compare_arms, summarise
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
            analysts=AnalystTeam(capacity=analyst_capacity, seed=seed) if analysts else None,
        )
    home = Path(s.home)
    embedded = not (s.data_uri or s.mlflow_tracking_uri)
    if not embedded:
        why = " (no chargebacks-only comparison: it needs a workspace of its own)"
        err_console.print(
            "[yellow]note:[/] the demo runs on the configured data store and registry"
            + (why if compare else "")
        )
    compare = compare and embedded and config.analysts is not None and config.drift_day is not None
    home.mkdir(parents=True, exist_ok=True)
    reset_workspace(home)
    loop_settings = s.model_copy(update={"label_maturity_days": config.label_maturity_days})
    console.rule(f"fraudops demo · {days} days · drift on day {config.drift_day} · seed {seed}")
    console.print(f"workspace: {home.resolve()}")
    timeline = Table(title="Live days", show_lines=False)
    for column in ("day", "date", "tx", "frauds", "caught", "drift", "PSI", "champion", "event"):
        timeline.add_column(column, justify="right" if column not in ("date", "event") else "left")

    live_days = days - warmup_days + 2
    with progress_bar() as bar:
        total = live_days * (2 if compare else 1)
        task = bar.add_task("closed loop", total=total, detail="history")

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
                if payload.get("analyst_rule"):
                    event.append(f"[cyan]analyst rule: {payload['analyst_rule'][:50]}[/]")
                if payload["retrain_verdict"]:
                    event.append("; ".join(payload["reasons"])[:60])
                drift = payload["drift_share"]
                psi = payload["score_psi"]
                bar.console.print(
                    f"day {payload['day']:>3} {payload['date']}  tx {payload['transactions']:>6,}  "
                    f"frauds {payload['frauds']:>3}  caught {payload['frauds_caught']:>3}  "
                    f"cases {payload['analyst_verdicts']:>3}  "
                    f"drift {'-' if drift is None else f'{drift:.2f}'}  "
                    f"PSI {'-' if psi is None else f'{psi:.3f}'}  v{payload['champion_version']}  "
                    + " ".join(event)
                )
                bar.update(task, advance=1, detail=payload["date"])

        with user_errors():
            result = run_loop(loop_settings, config, emit)
            summary = summarise(loop_settings, config, result)
            if compare:
                # the same world and first champion, chargebacks as the only labels: the
                # selection is deterministic, so only the algorithm it chose is retrained
                bar.console.rule("the same world with chargebacks as the only labels")
                arm_home = home / "arms" / "chargebacks_only"
                arm_home.mkdir(parents=True, exist_ok=True)
                reset_workspace(arm_home)
                arm_settings = loop_settings.model_copy(update={"home": arm_home})
                arm_config = replace(
                    config,
                    analysts=None,
                    initial_models=(result.initial_training["best"],),
                )
                arm = run_loop(arm_settings, arm_config, emit)
                summary.update(compare_arms(summary, summarise(arm_settings, arm_config, arm)))
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
