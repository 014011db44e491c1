"""One skip policy for every tier (a pytest plugin, loaded by tests/conftest.py).

A test that needs something outside the project (a service binary, a tool from
`make tools`, an optional extra) calls ``require(thing, reason)``: it gets the thing back,
or the test is skipped with the reason. ``FRAUDOPS_REQUIRE_SERVICES=1`` (set by
``.ci/run`` and CI, which install everything) promises that nothing is missing: then
``require`` fails the test instead, and the session fails if any test was skipped at all,
listing each one with its reason, so a tier can never pass by not running.

The one exception is a need that cannot be met on this machine by design — a package
whose wheels exist only for some platforms, a registry the machine cannot reach. Such a
test says so with ``require(thing, reason, expected_here=False)``; its skip is listed, but
does not fail the session.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

REQUIRE_VARIABLE = "FRAUDOPS_REQUIRE_SERVICES"
# The prefix of a skip that FRAUDOPS_REQUIRE_SERVICES=1 allows (see ``require``).
NOT_EXPECTED_HERE = "not expected on this machine: "

T = TypeVar("T")

_skips: list[tuple[str, str]] = []


def services_required() -> bool:
    return os.environ.get(REQUIRE_VARIABLE) == "1"


def require(thing: T | None, reason: str, *, expected_here: bool = True) -> T:
    """``thing`` when it is truthy; else skip the test (or module) with ``reason``.

    Under ``FRAUDOPS_REQUIRE_SERVICES=1`` a missing thing fails the test instead, unless
    ``expected_here`` is false: then the skip stands and the session hook lets it pass.
    """
    __tracebackhide__ = True  # report the caller's line, not this one
    if thing:
        return thing
    if not expected_here:
        pytest.skip(NOT_EXPECTED_HERE + reason, allow_module_level=True)
    if services_required():
        pytest.fail(f"{reason}; {REQUIRE_VARIABLE}=1 requires it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
    raise AssertionError("unreachable: skip raises")


def require_executable(name: str, hint: str, *, also_in: Iterable[Path] = ()) -> str:
    """Path of an executable on PATH, beside this interpreter (the venv's scripts) or in
    one of the folders ``also_in`` (say, where a distribution keeps it off PATH)."""
    __tracebackhide__ = True
    folders = os.pathsep.join(str(folder) for folder in (Path(sys.executable).parent, *also_in))
    found = shutil.which(name) or shutil.which(name, path=folders)
    return require(found, f"{name} is not installed ({hint})")


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _record(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skips.append((report.nodeid, _skip_reason(report)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _record(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _record(report)


def _forbidden_skips() -> list[tuple[str, str]]:
    return [(node, why) for node, why in _skips if not why.startswith(NOT_EXPECTED_HERE)]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if (
        services_required()
        and _forbidden_skips()
        and exitstatus
        in (
            pytest.ExitCode.OK,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        )
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not services_required() or not _skips:
        return
    forbidden = _forbidden_skips()
    if forbidden:
        terminalreporter.section(f"skipped although {REQUIRE_VARIABLE}=1", red=True)
        for node, why in forbidden:
            terminalreporter.line(f"SKIPPED {node}: {why}")
        terminalreporter.line(
            f"{len(forbidden)} skipped test(s) fail this run: install what they need "
            "(.ci/run and `make tools` should), or mark a need this machine cannot meet "
            "with require(..., expected_here=False)"
        )
    allowed = len(_skips) - len(forbidden)
    if allowed:
        terminalreporter.line(f"{allowed} skip(s) allowed: their needs cannot be met here")
