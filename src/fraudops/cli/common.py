"""What every command group shares: consoles, user errors, settings, the progress bar."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fraudops.config import Settings, get_settings

console = Console()
err_console = Console(stderr=True)


class CliError(Exception):
    """An error the user can fix; printed without a traceback."""


# Failures a user can fix, by the module that raises them: looked up only among modules
# already imported (one not imported cannot have raised), so no command pays for importing
# pandera or MLflow just to name their errors.
USER_ERRORS = (
    ("fraudops.data.ingest", "MappingError"),
    ("fraudops.data.validate", "BatchRejectedError"),
    ("fraudops.models.registry", "RegistryError"),
    ("fraudops.models.bundle", "BundleIntegrityError"),
    ("fraudops.features.spark.session", "SparkUnavailableError"),
)


def is_user_error(exc: BaseException) -> bool:
    if isinstance(exc, CliError | FileNotFoundError | ValueError):
        return True
    for module_name, name in USER_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, name)):
            return True
    return False


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected failures into a one-line message and exit code 1."""
    from pydantic import ValidationError

    try:
        yield
    except ValidationError as exc:
        err_console.print(f"[bold red]error:[/] invalid settings: {exc}")
        raise typer.Exit(1) from None
    except Exception as exc:
        if not is_user_error(exc):
            raise
        err_console.print(f"[bold red]error:[/] {exc}")
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


def parse_day(value: str | None, option: str) -> datetime | None:
    """``--train-end 2026-02-01`` as a UTC time (``None`` stays ``None``)."""
    from datetime import UTC

    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise CliError(f"{option} must be a date as YYYY-MM-DD, got {value!r}") from None
