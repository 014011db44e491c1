"""checkov over the Terraform: no failed check, and every skip says why, in place."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from infra_support import REPO_ROOT, TERRAFORM_DIR

SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(?P<id>[^:\s]+)(?::(?P<reason>.*))?")


@pytest.fixture(scope="module")
def checkov_report(checkov: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(TERRAFORM_DIR.relative_to(REPO_ROOT)),
            "--framework",
            "terraform",
            "--output",
            "json",
            "--skip-download",  # no Prisma Cloud API: the checks themselves are local
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.stdout.strip(), f"checkov printed nothing:\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout)
    if isinstance(report, list):  # one entry per framework
        (report,) = [entry for entry in report if entry.get("check_type") == "terraform"]
    return report


def test_checkov_has_no_failed_check(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failures = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for check in checkov_report["results"]["failed_checks"]
    ]
    assert summary["failed"] == 0, "\n".join(failures)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 200, summary  # the modules were really scanned


def test_every_skip_has_a_reason(checkov_report: dict[str, Any]) -> None:
    for check in checkov_report["results"]["skipped_checks"]:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) >= 20, f"{check['check_id']} on {check['resource']}: {reason!r}"


@pytest.mark.parametrize(
    "path",
    sorted(TERRAFORM_DIR.rglob("*.tf")),
    ids=lambda p: p.relative_to(TERRAFORM_DIR).as_posix(),
)
def test_skip_comments_are_well_formed(path: Path) -> None:
    """Checked without checkov: an ID and a real reason on every in-place skip."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = SKIP_COMMENT.search(line)
        if match:
            assert re.fullmatch(r"CKV2?_AWS_\d+", match["id"]), f"{path}:{number}: {line.strip()}"
            reason = (match["reason"] or "").strip()
            assert len(reason) >= 20, f"{path}:{number}: the skip needs a reason"
