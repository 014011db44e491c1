"""``fraudops shadow``: how the challenger did beside the champion on live traffic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fraudops.cli.common import CliError, console, parse_day, settings, user_errors

if TYPE_CHECKING:
    from fraudops.monitoring.shadow import ShadowReport

shadow_app = typer.Typer(
    help="Compare the shadow-scored challenger with the champion.", no_args_is_help=True
)


@shadow_app.command("report")
def report(
    since: Annotated[
        str | None, typer.Option(help="First day of shadow traffic, YYYY-MM-DD (default: all).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day of shadow traffic, YYYY-MM-DD, included.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Report time, ISO (default: now): labels reported by then count."),
    ] = None,
    k: Annotated[int, typer.Option(min=1, help="Cards reviewed per day for precision@k.")] = 100,
    html: Annotated[
        Path | None, typer.Option(help="Also write the report as an HTML page.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON instead of tables.")
    ] = False,
) -> None:
    """Champion against each challenger version on the same matured transactions: AP, card
    precision@k, savings, and the decisions that would change."""
    from fraudops.monitoring.shadow_page import render_shadow_page
    from fraudops.pipelines.shadow import shadow_report

    s = settings()
    with user_errors():
        start = parse_day(since, "--since")
        last = parse_day(until, "--until")
        end = last + timedelta(days=1) if last else None
        if start and end and end <= start:
            raise CliError(f"--until {until} is before --since {since}")
        now = datetime.now(UTC)
        if as_of is not None:
            try:
                now = datetime.fromisoformat(as_of)
            except ValueError:
                raise CliError(f"--as-of must be an ISO date or time, got {as_of!r}") from None
            now = now if now.tzinfo else now.replace(tzinfo=UTC)
        result = shadow_report(s, now, start, end, k)
        if html is not None:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(render_shadow_page(result))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    _print_tables(result)
    if html is not None:
        console.print(f"HTML report: {html}")


def _print_tables(result: ShadowReport) -> None:
    from fraudops.models.decision import DECISIONS
    from fraudops.monitoring.shadow import comparison_rows

    if not result.versions:
        console.print("no challenger was shadow-scored in this period")
        return
    for v in result.versions:
        champions = ", ".join(f"v{c}" for c in v.champion_versions) or "–"
        table = Table(
            title=f"challenger v{v.challenger_version} vs champion {champions} "
            f"({v.first_seen:%Y-%m-%d} → {v.last_seen:%Y-%m-%d}, "
            f"matured: older than {result.maturity_days} days)"
        )
        for name, justify in (
            ("measure", "left"),
            ("champion", "right"),
            ("challenger", "right"),
            ("difference", "right"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in comparison_rows(v):
            table.add_row(*row)
        console.print(table)
        changes = Table(title=f"decisions that would change: {v.changed:,} of {v.transactions:,}")
        changes.add_column("champion \\ challenger")
        for d in DECISIONS:
            changes.add_column(d, justify="right")
        for a in DECISIONS:
            changes.add_row(a, *(f"{v.transitions[a][b]:,}" for b in DECISIONS))
        console.print(changes)
