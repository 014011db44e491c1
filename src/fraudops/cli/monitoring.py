"""``fraudops monitor``: judge one window of predictions or stored data."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fraudops.cli.common import CliError, console, settings, user_errors


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
        record = run_monitoring(s, end, length, performance_days, report=report, source=source)
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
