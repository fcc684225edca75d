from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack


@pytest.fixture
def stack(local_stack: LocalStack) -> Iterator[LocalStack]:
    """The session's stack with no faults and the real clock, before and after the test."""
    local_stack.clear_faults()
    local_stack.reset_clock()
    yield local_stack
    local_stack.clear_faults()
    local_stack.reset_clock()
