"""``fraudops lists``: allow, block and watch list entries, in the store the API reads.

The CLI writes to the same backend as the API (``FRAUDOPS_LISTS_URI``: SQLite under the
home folder by default, or Redis), so an API process sees a change within
``FRAUDOPS_LISTS_REFRESH_SECONDS``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fraudops.cli.common import CliError, console, settings, user_errors

if TYPE_CHECKING:
    from fraudops.decisions.lists import ListCache

lists_app = typer.Typer(help="Allow, block and watch lists (cards, devices, merchants…).")

ListOption = Annotated[str, typer.Option("--list", help="allow, block, or a list rules read.")]
KindOption = Annotated[str, typer.Option(help="card, device, merchant, terminal or country.")]


def _cache() -> ListCache:
    from fraudops.decisions.lists import ListCache, open_list_backend

    return ListCache(open_list_backend(settings().resolved_lists_uri))


@lists_app.command("add")
def add(
    list_name: ListOption,
    kind: KindOption,
    value: Annotated[str, typer.Option(help="The id (or two-letter country code).")],
    ttl_days: Annotated[
        float | None, typer.Option(help="Expire after this many days (default: never).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
    added_by: Annotated[str, typer.Option(help="Who adds it.")] = "cli",
) -> None:
    """Add (or replace) an entry."""
    from fraudops.decisions.lists import ListEntry

    with user_errors():
        if ttl_days is not None and ttl_days <= 0:
            raise CliError(f"--ttl-days must be positive, got {ttl_days:g}")
        now = datetime.now(UTC)
        expires = now + timedelta(days=ttl_days) if ttl_days else None
        entry = ListEntry(list_name, kind, value, expires, reason, added_by, now)
        cache = _cache()
        cache.add(entry)
    until = f" until {expires:%Y-%m-%d %H:%M} UTC" if expires else ""
    console.print(f"{entry.kind} {entry.value} is on the {entry.list!r} list{until}")


@lists_app.command("remove")
def remove(list_name: ListOption, kind: KindOption, value: Annotated[str, typer.Option()]) -> None:
    """Remove an entry (exit code 1 when there is none)."""
    from fraudops.decisions.context import LIST_KINDS

    with user_errors():
        if kind not in LIST_KINDS:
            raise CliError(f"--kind {kind!r} is not one of {', '.join(LIST_KINDS)}")
        cache = _cache()
        if not cache.remove(list_name, kind, value):
            raise CliError(f"{value!r} is not on the {list_name!r} {kind} list")
    console.print(f"removed {kind} {value} from the {list_name!r} list")


@lists_app.command("show")
def show(
    list_name: Annotated[str | None, typer.Option("--list", help="Only this list.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    include_expired: Annotated[bool, typer.Option(help="Show expired entries too.")] = False,
) -> None:
    """The entries in force."""
    with user_errors():
        cache = _cache()
        now = None if include_expired else datetime.now(UTC)
        entries = cache.entries(list_name, kind, now)
    table = Table(title=f"{len(entries)} list entries")
    for column in ("list", "kind", "value", "expires (UTC)", "reason", "added by", "added"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            e.list,
            e.kind,
            e.value,
            f"{e.expires_at:%Y-%m-%d %H:%M}" if e.expires_at else "never",
            e.reason,
            e.added_by,
            f"{e.added_at:%Y-%m-%d %H:%M}" if e.added_at else "",
        )
    console.print(table)
