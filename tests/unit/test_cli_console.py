"""``fraudops console add-user``: users land in the case store the API reads; the password
comes from stdin or a prompt, never the command line; refusals name the problem."""

from __future__ import annotations

from typer.testing import CliRunner

from fraudops.cases.store import open_store
from fraudops.cases.users import authenticate
from fraudops.cli import app
from fraudops.config import get_settings

runner = CliRunner()


def test_add_user_reaches_the_store_the_api_reads() -> None:
    added = runner.invoke(
        app,
        ["console", "add-user", "ana", "--role", "admin", "--password-stdin"],
        input="a long password\n",
    )
    assert added.exit_code == 0, added.output
    get_settings.cache_clear()
    store = open_store(get_settings().resolved_cases_url)
    user = authenticate(store, "ana", "a long password")
    assert user is not None
    assert user.role == "admin"

    again = runner.invoke(
        app, ["console", "add-user", "ana", "--password-stdin"], input="a long password\n"
    )
    assert again.exit_code == 1
    assert "user 'ana' exists already" in again.output


def test_refusals_are_one_line_errors() -> None:
    cases = [
        (["--role", "boss"], "a long password\n", "role 'boss' is not one of analyst, admin"),
        ([], "short\n", "at least 10 characters"),
        ([], "\n", "an empty password is refused"),
    ]
    for extra, stdin, message in cases:
        result = runner.invoke(
            app, ["console", "add-user", "bob", "--password-stdin", *extra], input=stdin
        )
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "Traceback" not in result.output


def test_the_prompt_asks_twice_and_hides_the_password() -> None:
    result = runner.invoke(
        app, ["console", "add-user", "carl"], input="a long password\na long password\n"
    )
    assert result.exit_code == 0, result.output
    assert "a long password" not in result.output
