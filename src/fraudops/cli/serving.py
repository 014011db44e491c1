"""``fraudops serve`` and ``fraudops smoke``: run the API, check a running one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fraudops.cli.common import CliError, console, err_console, settings, user_errors


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    warm_from: Annotated[
        str | None,
        typer.Option(help="Warm the online store from these stored transactions at start."),
    ] = None,
    warm_days: Annotated[
        int | None,
        typer.Option(min=1, help="Days of history to warm from (default: the spec's look-back)."),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="API processes on the port (more than 1 needs the Redis online store; "
            "worker i's metrics on FRAUDOPS_METRICS_PORT + i).",
        ),
    ] = 1,
) -> None:
    """Serve the champion model over HTTP (FastAPI + uvicorn; one process per worker).

    SIGTERM drains: readiness turns 503 for FRAUDOPS_DRAIN_SECONDS while requests are
    still served, then the server stops. Ctrl-C stops at once.
    """
    from fraudops.features.online import WARM_UP_DAYS
    from fraudops.serving.server import serve as run_server
    from fraudops.serving.workers import WorkersRefusedError, check_workers

    s = settings()
    with user_errors():
        try:
            check_workers(workers, s.online_store_uri)
        except WorkersRefusedError as exc:
            raise CliError(str(exc)) from None
    metrics_port = s.resolved_metrics_port
    console.print(f"fraudops API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    if metrics_port is not None:
        console.print(f"metrics on http://{host}:{metrics_port}/metrics")
    with user_errors():
        try:
            status = run_server(
                s, host, port, warm_from, warm_days or WARM_UP_DAYS, access_log, workers
            )
        except OSError as exc:  # e.g. the metrics port is taken
            raise CliError(f"cannot serve on {host}: {exc}") from None
    if status:
        raise typer.Exit(status)


def smoke(
    url: Annotated[str, typer.Option(help="Base URL of a running fraudops API.")],
    api_key: Annotated[
        str | None,
        typer.Option(help="API key (default: FRAUDOPS_API_KEY).", envvar="FRAUDOPS_API_KEY"),
    ] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for readiness.")] = 60,
) -> None:
    """Check a deployed API: liveness, readiness, a prediction and the model version."""
    from fraudops.serving.smoke import run_smoke, smoke_client

    if not url.startswith(("http://", "https://")):
        err_console.print(f"[bold red]error:[/] --url must start with http(s)://, got {url!r}")
        raise typer.Exit(2)
    key = api_key or settings().api_key.get_secret_value()
    with smoke_client(url, key) as client:
        checks = run_smoke(client, ready_timeout=timeout)
    table = Table(title=f"Smoke test of {url}")
    for column in ("check", "result", "detail"):
        table.add_column(column)
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAILED[/]", check.detail)
    console.print(table)
    if not all(check.ok for check in checks):
        failed = ", ".join(check.name for check in checks if not check.ok)
        err_console.print(f"[bold red]smoke test failed:[/] {failed}")
        raise typer.Exit(1)
