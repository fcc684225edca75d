"""The invocation's deadline: the instant by which every upstream call must be done.

Set once per invocation by the Lambda entry point (`edge.http`) from the context's remaining time; read
by the AWS adapters (`adapters.aws`) and the JWKS fetch (`edge.auth`). No AWS SDK here, so handlers that make
no AWS call do not pay for importing it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import NamedTuple, Protocol

# Kept free at the end of an invocation to write the answer and the audit record.
RESERVE_SECONDS = 0.5
DEFAULT_REMAINING_SECONDS = 30.0


class RemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Deadline(NamedTuple):
    """The monotonic instant by which this invocation's upstream calls must be done. A NamedTuple, not a
    Struct: the health function imports this module and nothing else that needs msgspec."""

    at: float

    @classmethod
    def from_context(cls, context: RemainingTime | None) -> Deadline:
        remaining = (
            context.get_remaining_time_in_millis() / 1000
            if context is not None
            else DEFAULT_REMAINING_SECONDS
        )
        return cls(time.monotonic() + remaining - RESERVE_SECONDS)

    def remaining(self) -> float:
        return self.at - time.monotonic()


invocation_deadline: ContextVar[Deadline | None] = ContextVar("invocation_deadline", default=None)
