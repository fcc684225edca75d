"""The quick lane's tools are the same everywhere: the pre-commit hooks are a valid configuration and run
the very linters `make check` runs, from the project's virtual environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_the_pre_commit_configuration_is_valid() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_hook_runs_a_check_of_make_check_from_the_virtual_environment() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    check = makefile.split("\ncheck: venv\n", 1)[1].split("\n\n", 1)[0]
    for tool in ("ruff check", "ruff format --check", "mypy", "lint-imports"):
        assert re.search(rf"/bin/{re.escape(tool)}\b", check), f"make check runs no {tool}"
        assert any(f".venv/bin/{tool}" in hook["entry"] for hook in hooks), f"no hook runs {tool}"
    assert all(hook["language"] == "system" and ".venv/bin/" in hook["entry"] for hook in hooks)
