"""The skip policy itself: under FRAUDOPS_REQUIRE_SERVICES=1 no skip passes silently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

PROBES = """
import pytest
from skip_policy import require

def test_present():
    assert require("/bin/tool", "tool is missing") == "/bin/tool"

def test_missing_tool():
    require(None, "probe tool is missing (apt-get install probe)")

def test_plain_skip():
    pytest.skip("skipped by hand")

def test_not_expected_here():
    require(False, "probe wheels exist only for another platform", expected_here=False)
"""


def run_probes(tmp_path: Path, *selection: str, required: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probes.py").write_text(PROBES)
    env = {k: v for k, v in os.environ.items() if k != "FRAUDOPS_REQUIRE_SERVICES"}
    if required:
        env["FRAUDOPS_REQUIRE_SERVICES"] = "1"
    env["PYTHONPATH"] = str(TESTS)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the policy: a fast subprocess
    nodes = [f"test_probes.py::{name}" for name in selection] or ["test_probes.py"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "skip_policy", "-p", "no:cacheprovider",
         "-q", "-rs", *nodes],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_without_the_variable_missing_things_skip(tmp_path: Path) -> None:
    result = run_probes(tmp_path, required=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 3 skipped" in result.stdout
    # the skip names the test's own line, not the helper's
    assert "test_probes.py:9: probe tool is missing (apt-get install probe)" in result.stdout


def test_required_a_missing_thing_fails_the_test(tmp_path: Path) -> None:
    result = run_probes(tmp_path, "test_present", "test_missing_tool", required=True)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 failed, 1 passed" in result.stdout
    assert "probe tool is missing (apt-get install probe); FRAUDOPS_REQUIRE_SERVICES=1" in (
        result.stdout
    )


def test_required_any_skip_fails_the_session_and_is_listed(tmp_path: Path) -> None:
    result = run_probes(tmp_path, "test_present", "test_plain_skip", required=True)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 passed, 1 skipped" in result.stdout  # no test failed: the session did
    assert "skipped although FRAUDOPS_REQUIRE_SERVICES=1" in result.stdout
    assert "SKIPPED test_probes.py::test_plain_skip: skipped by hand" in result.stdout


def test_required_a_need_this_machine_cannot_meet_may_skip(tmp_path: Path) -> None:
    result = run_probes(tmp_path, "test_present", "test_not_expected_here", required=True)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "1 skip(s) allowed: their needs cannot be met here" in result.stdout
    assert "skipped although" not in result.stdout
