"""``promote``, ``rollback`` and ``score`` through the CLI against a real embedded registry:
the aliases they leave, the files they write, their exit codes and messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner, Result

from fraudops.cli import app
from fraudops.config import get_settings
from fraudops.data import store

if TYPE_CHECKING:
    from conftest import EmbeddedRegistry

runner = CliRunner()


def said(result: Result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def use_home(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Point the CLI's settings at ``home`` for this test."""

    def use(home: Path) -> None:
        monkeypatch.setenv("FRAUDOPS_HOME", str(home))
        get_settings.cache_clear()

    return use


@pytest.fixture(scope="module")
def two_versions(linear_registry: Callable[..., EmbeddedRegistry]) -> EmbeddedRegistry:
    """Version 1 champion, version 2 (the same model) challenger."""
    return linear_registry(versions=2, champion=1)


def test_promote_refuses_a_challenger_that_does_not_beat_the_champion(
    two_versions: EmbeddedRegistry, use_home: Callable[[Path], None]
) -> None:
    use_home(two_versions.home)
    result = runner.invoke(app, ["promote", "--k", "5"])
    assert result.exit_code == 1, result.output
    assert "version 2 stays challenger" in said(result)
    assert "does not beat the champion" in said(result)
    assert two_versions.aliases() == {"champion": 1, "challenger": 2}


def test_promote_then_rollback_move_the_champion_alias(
    two_versions: EmbeddedRegistry,
    use_home: Callable[[Path], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_home(two_versions.home)
    monkeypatch.setenv("FRAUDOPS_PROMOTION_AP_MARGIN", "-1")  # an equal model now passes
    get_settings.cache_clear()
    promoted = runner.invoke(app, ["promote", "--version", "2", "--k", "5"])
    assert promoted.exit_code == 0, promoted.output
    assert "version 2 is now champion" in said(promoted)
    assert two_versions.aliases() == {"champion": 2, "challenger": None}

    rolled = runner.invoke(app, ["rollback"])
    assert rolled.exit_code == 0, rolled.output
    assert "from version 2 to version 1" in said(rolled)
    assert two_versions.aliases()["champion"] == 1
    tags = two_versions.registry().version_tags(2)
    assert tags["rolled_back"] == "replaced by version 1"

    again = runner.invoke(app, ["rollback"])  # version 1 was the first champion
    assert again.exit_code == 1
    assert "no previous champion to roll back to" in said(again)
    assert "Traceback" not in said(again)
    assert two_versions.aliases()["champion"] == 1


def test_promote_and_rollback_refuse_clearly_without_a_registry(
    use_home: Callable[[Path], None], tmp_path: Path
) -> None:
    use_home(tmp_path / "empty-home")
    for args, message in (
        (["promote"], "no --version given and no challenger alias to promote"),
        (["promote", "--version", "3"], "has no version 3"),
        (["rollback"], "no previous champion to roll back to"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in said(result), (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_score_writes_every_transaction_with_its_decision(
    two_versions: EmbeddedRegistry, use_home: Callable[[Path], None], tmp_path: Path
) -> None:
    use_home(two_versions.home)
    out = tmp_path / "scored"
    result = runner.invoke(app, ["score", "--input", two_versions.raw, "--out", str(out)])
    assert result.exit_code == 0, result.output
    transactions = store.read_dataset(two_versions.raw)
    scored = store.read_dataset(str(out))
    assert scored.height == transactions.height
    assert sorted(scored["transaction_id"].to_list()) == sorted(
        transactions["transaction_id"].to_list()
    )
    expected = {
        "transaction_id",
        "timestamp",
        "fraud_probability",
        "score",
        "decision",
        "reasons",
        "model_version",
    }
    assert expected <= set(scored.columns), scored.columns
    assert scored["fraud_probability"].is_between(0, 1).all()
    assert set(scored["decision"].unique()) <= {"approve", "review", "decline"}
    assert set(scored["model_version"].unique()) == {1}  # the champion's
    flagged = scored.filter(scored["decision"] != "approve")
    assert flagged.height > 0, "the linear model flags cards with many transactions"
    assert flagged["reasons"].list.len().min() > 0  # --reasons flagged: every flagged row
    assert store.list_partitions(str(out)) == store.list_partitions(two_versions.raw)
    assert f"{transactions.height:,}" in said(result)


def test_score_refuses_an_unknown_alias_and_reason_mode(
    two_versions: EmbeddedRegistry, use_home: Callable[[Path], None], tmp_path: Path
) -> None:
    use_home(two_versions.home)
    args = ["score", "--input", two_versions.raw, "--out", str(tmp_path / "scored")]
    unknown = runner.invoke(app, [*args, "--alias", "shadow"])
    assert unknown.exit_code == 1
    assert "no 'shadow' model registered yet" in said(unknown)
    bad_mode = runner.invoke(app, [*args, "--reasons", "sometimes"])
    assert bad_mode.exit_code == 1
    assert "sometimes" in said(bad_mode)
    assert not (tmp_path / "scored").exists()
