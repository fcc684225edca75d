"""Static security scan (checkov) of the Terraform and of the SAM template: no failed check, and every
suppression says why."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[2]
SCANS = {
    "terraform": ["--directory", str(REPO / "terraform"), "--framework", "terraform"],
    "template.yaml": ["--file", str(REPO / "template.yaml"), "--framework", "cloudformation"],
}
MIN_REASON_CHARS = 20
TERRAFORM_SKIP = re.compile(r"#\s*checkov:skip=(?P<id>[A-Z0-9_]+)(?::(?P<reason>.*))?")


def _checkov() -> str:
    candidate = REPO / ".tools" / "checkov" / "bin" / "checkov"
    found = str(candidate) if candidate.is_file() else shutil.which("checkov")
    assert found, "checkov is required: `make tools` installs it into .tools/checkov"
    return found


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    """One checkov run per target, side by side; --skip-download keeps it offline (no platform calls)."""
    checkov = _checkov()
    processes = {
        name: subprocess.Popen(
            [checkov, *arguments, "--skip-download", "--output", "json"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, arguments in SCANS.items()
    }
    reports = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        assert stdout.strip(), f"checkov printed nothing for {name}:\n{stderr[-3000:]}"
        report = json.loads(stdout)
        assert isinstance(report, dict), f"expected one report for {name}, got {len(report)}"
        reports[name] = report
    return reports


@pytest.mark.parametrize("target", SCANS)
def test_scan_finds_no_failed_check(reports: dict[str, dict[str, Any]], target: str) -> None:
    report = reports[target]
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, summary
    assert summary["resource_count"] > 0 and summary["passed"] > 0, summary
    failed = [
        f"{c['check_id']} {c['resource']} ({c['check_name']}) {c['file_path']}:{c['file_line_range']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)


@pytest.mark.parametrize("target", SCANS)
def test_every_suppression_carries_its_reason(reports: dict[str, dict[str, Any]], target: str) -> None:
    for check in reports[target]["results"].get("skipped_checks", []):
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= MIN_REASON_CHARS, (
            f"{check['check_id']} on {check['resource']}: reason {reason!r}"
        )


def test_terraform_skip_comments_name_a_check_and_a_reason() -> None:
    """Also the comments checkov did not need (a skip without reason must not wait for a failing check)."""
    for path in sorted((REPO / "terraform").rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = TERRAFORM_SKIP.search(line)
            if match:
                reason = (match["reason"] or "").strip()
                assert len(reason) >= MIN_REASON_CHARS, f"{path}:{number}: {match['id']} has no reason"
