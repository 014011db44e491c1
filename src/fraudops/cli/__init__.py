"""The ``fraudops`` command line: one module per command group, each a thin wrapper over
``fraudops.pipelines`` and the library. Heavy imports happen inside the commands, so
``fraudops --help`` stays fast."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from fraudops import __version__
from fraudops.cli import (
    console as console_users,
)
from fraudops.cli import (
    data,
    features,
    lists,
    loop,
    monitoring,
    rules,
    scoring,
    serving,
    shadow,
    training,
)
from fraudops.cli.common import console

app = typer.Typer(
    name="fraudops",
    help="End-to-end MLOps for payment-card fraud detection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.data_app, name="data")
app.add_typer(features.features_app, name="features")
app.add_typer(lists.lists_app, name="lists")
app.add_typer(rules.rules_app, name="rules")
app.add_typer(shadow.shadow_app, name="shadow")
app.add_typer(console_users.console_app, name="console")
app.command("train")(training.train)
app.command("promote")(training.promote)
app.command("rollback")(training.rollback)
app.command("score")(scoring.score)
app.command("serve")(serving.serve)
app.command("smoke")(serving.smoke)
app.command("demo")(loop.demo)
app.command("monitor")(monitoring.monitor)


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)
    ] = False,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "WARNING",
) -> None:
    """fraudops: simulate, validate, featurise, train, serve and monitor fraud models."""
    if version:
        console.print(f"fraudops {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:  # `fraudops` alone: the help, as before
        console.print(ctx.get_help())
        raise typer.Exit()
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # results come as tables; library chatter (MLflow's database set-up, SQLAlchemy's
    # deprecation notices) would bury them
    import warnings

    logging.getLogger("mlflow").setLevel(max(logging.WARNING, logging.getLogger().level))
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


__all__ = ["app"]
