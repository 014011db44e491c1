"""deployment/release_version.py: the next release version (CD's meta job), by the rule
deployment/DEPLOYMENT_GUIDE.md states ("Releases and versions")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from deployment_support import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "deployment" / "release_version.py"


@pytest.fixture(scope="module")
def release() -> ModuleType:
    return load_script("release_version")


@pytest.mark.parametrize(
    ("tags", "bump", "labels", "expected"),
    [
        ([], "auto", [], (0, 1, 0)),  # the first release is pyproject's version
        (["v0.1.0"], "auto", [], (0, 1, 1)),  # a patch by default
        (["v0.1.0", "v0.1.4", "v0.1.10"], "auto", [], (0, 1, 11)),  # numeric, not text, order
        (["v0.1.3"], "auto", ["bug", "Release:Minor"], (0, 2, 0)),
        (["v0.1.3"], "auto", ["release:minor", "release:major"], (1, 0, 0)),
        (["v0.1.3"], "minor", ["release:major"], (0, 2, 0)),  # the explicit input wins
        (["v0.1.3", "nightly", "v2-beta"], "patch", [], (0, 1, 4)),  # other tags ignored
    ],
)
def test_next_version(
    release: ModuleType,
    tags: list[str],
    bump: str,
    labels: list[str],
    expected: tuple[int, int, int],
) -> None:
    assert release.next_version((0, 1, 0), tags, bump, labels) == expected


def test_a_bump_in_pyproject_wins(release: ModuleType) -> None:
    assert release.next_version((1, 0, 0), ["v0.4.2"], "auto", []) == (1, 0, 0)


def test_bad_bump_is_refused(release: ModuleType) -> None:
    with pytest.raises(ValueError, match="--bump must be auto, major, minor or patch"):
        release.next_version((0, 1, 0), ["v0.1.0"], "huge", [])


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_command_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0.3.0"\n')
    result = _run("--tags", "v0.3.0\nv0.3.1\n", "--labels", "release:minor", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0.4.0\n"


def test_command_line_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "one"\n')
    result = _run(cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: not a MAJOR.MINOR.PATCH version: 'one'"
    missing = _run("--pyproject", "nope.toml", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ")
    assert "Traceback" not in missing.stderr
