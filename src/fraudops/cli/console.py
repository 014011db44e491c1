"""``fraudops console``: the analyst console's users, kept in the case store the API reads
(``FRAUDOPS_CASES_URL``). Passwords are read from a prompt or standard input, never from
the command line (where `ps` and shell history would keep them)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from fraudops.cli.common import CliError, console, settings, user_errors

console_app = typer.Typer(help="The analyst console (users).")


@console_app.command("add-user")
def add_user(
    username: Annotated[str, typer.Argument(help="Lower-case letters, digits, '.', '_', '-'.")],
    role: Annotated[str, typer.Option(help="analyst or admin.")] = "analyst",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a console user (the password is stored as a scrypt hash)."""
    from fraudops.cases.store import open_store
    from fraudops.cases.users import add_user as create

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with user_errors():
        if not password:
            raise CliError("an empty password is refused")
        store = open_store(settings().resolved_cases_url)
        try:
            create(store, username, password, role, datetime.now(UTC))
        finally:
            store.close()
    console.print(f"user [bold]{username}[/] ({role}) added")
