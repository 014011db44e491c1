"""``fraudops lists``: entries written where the API reads them, and clear refusals."""

from __future__ import annotations

from datetime import UTC, datetime

from typer.testing import CliRunner

from fraudops.cli import app
from fraudops.config import get_settings
from fraudops.decisions.lists import ListCache, open_list_backend

runner = CliRunner()


def api_view() -> ListCache:
    """What an API process on the same home reads (a separate cache on the same store)."""
    get_settings.cache_clear()
    return ListCache(open_list_backend(get_settings().resolved_lists_uri))


def test_add_show_remove_reach_the_store_the_api_reads() -> None:
    added = runner.invoke(
        app,
        [
            "lists",
            "add",
            "--list",
            "block",
            "--kind",
            "card",
            "--value",
            "card-9",
            "--ttl-days",
            "2",
            "--reason",
            "skimmed",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "card card-9 is on the 'block' list until" in added.output
    api = api_view()
    now = datetime.now(UTC).timestamp()
    assert api.first_hit({"card_id": "card-9"}, "block", now) == "card"
    assert api.first_hit({"card_id": "card-9"}, "block", now + 3 * 86400) is None  # expired

    shown = runner.invoke(app, ["lists", "show", "--list", "block"])
    assert shown.exit_code == 0
    assert "card-9" in shown.output
    assert "skimmed" in shown.output

    removed = runner.invoke(
        app, ["lists", "remove", "--list", "block", "--kind", "card", "--value", "card-9"]
    )
    assert removed.exit_code == 0, removed.output
    api.refresh()
    assert api.first_hit({"card_id": "card-9"}, "block", now) is None


def test_wrong_input_is_named_with_exit_code_1() -> None:
    cases = [
        (["lists", "add", "--list", "block", "--kind", "iban", "--value", "x"], "kind 'iban'"),
        (
            [
                "lists",
                "add",
                "--list",
                "block",
                "--kind",
                "card",
                "--value",
                "x",
                "--ttl-days",
                "-1",
            ],
            "--ttl-days must be positive",
        ),
        (["lists", "add", "--list", "Bad Name", "--kind", "card", "--value", "x"], "list name"),
        (
            ["lists", "remove", "--list", "block", "--kind", "card", "--value", "nobody"],
            "'nobody' is not on the 'block' card list",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, result.output
        assert "Traceback" not in result.output
