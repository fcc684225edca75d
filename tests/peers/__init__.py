"""Data tools the suite runs as peers, each in its own process with the data-tools interpreter
(.tools/data-tools, pinned in requirements.txt here; `make tools` installs it): the scripts beside this
module are theirs, `run_peer` is the suite's way to call one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

PEERS = Path(__file__).resolve().parent
DATA_TOOLS_PYTHON = PEERS.parents[1] / ".tools" / "data-tools" / "bin" / "python"


def data_tools_python() -> str:
    assert DATA_TOOLS_PYTHON.is_file(), "the data tools are required: `make tools` installs .tools/data-tools"
    return str(DATA_TOOLS_PYTHON)


def run_peer(
    script: str, *arguments: str, environment: dict[str, str], timeout: float = 180
) -> dict[str, Any]:
    """The JSON document the peer script printed last (its answer, or what the tool raised)."""
    completed = subprocess.run(
        [data_tools_python(), str(PEERS / script), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))
