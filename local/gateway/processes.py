"""Ending a child process: asked to stop (SIGTERM), killed if it does not within the grace period."""

from __future__ import annotations

import subprocess
from typing import Any

GRACE_SECONDS = 10.0


def stop(process: subprocess.Popen[Any], grace_seconds: float = GRACE_SECONDS) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace_seconds)
