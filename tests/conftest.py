"""Fixtures every test area may use. Areas add their own in `tests/<area>/conftest.py`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import LocalStack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One seeded emulator + OIDC issuer for the whole run, on free ports, state and logs in a temp dir."""
    state_dir: Path = tmp_path_factory.mktemp("local-stack")
    with LocalStack(aws_port=0, idp_port=0, state_dir=state_dir, latency_ms=0) as stack:
        yield stack
