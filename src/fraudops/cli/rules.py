"""``fraudops rules``: check a rules file, backtest it on stored history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fraudops.cli.common import CliError, err_console, parse_day, settings, user_errors

rules_app = typer.Typer(
    help="Decision rules: check a rules file, backtest it.", no_args_is_help=True
)


@rules_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The rules file (YAML).")],
) -> None:
    """Validate a rules file: exit code 1 and the problem, naming the rule, when it is bad."""
    from fraudops.decisions.rules import compile_rules, load_rules

    with user_errors():
        compiled = compile_rules(load_rules(file))
    active = sum(r.active for r in compiled.rules)
    typer.echo(
        f"{file}: version {compiled.version}, {len(compiled.rules)} rules "
        f"({active} active, {len(compiled.rules) - active} shadow), digest {compiled.digest[:12]}"
    )


@rules_app.command("backtest")
def backtest(
    rules: Annotated[Path, typer.Option("--rules", help="The rules file (YAML).")],
    data: Annotated[
        str, typer.Option("--data", help="Stored transactions (path or s3://) or a parquet file.")
    ],
    start: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC), included.")
    ] = None,
    model_version: Annotated[
        int | None, typer.Option("--model-version", min=1, help="Registered version to score with.")
    ] = None,
    alias: Annotated[
        str, typer.Option(help="Registry alias to score with (when no --model-version).")
    ] = "champion",
    lists: Annotated[
        Path | None, typer.Option("--lists", help="List snapshot (JSON) for list flags.")
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Per rule: hits per day, precision on known labels, fraud caught, genuine cards
    affected, overlap with the model; the policy's savings against the model alone."""
    from datetime import timedelta

    from fraudops.pipelines.backtest import run_backtest
    from fraudops.pipelines.backtest_report import render_html, render_text

    s = settings()
    with user_errors():
        first = parse_day(start, "--from")
        last = parse_day(end, "--to")
        window_end = None if last is None else last + timedelta(days=1)
        if first is not None and window_end is not None and first >= window_end:
            raise CliError("--from must not be after --to")
        report = run_backtest(s, rules, data, first, window_end, model_version, alias, lists)
        if html is not None:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(render_html(report), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        typer.echo(render_text(report), nl=False)
    if html is not None:
        err_console.print(f"HTML report: {html}")
