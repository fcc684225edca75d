"""The invocation's upstream budget: at most MAX_DATA_ACCESS_CALLS GetDataAccess calls per request.

A batch of 100 presign items over 100 prefixes would otherwise make 100 calls (and with 80 ms each outlive
the function). Set once per invocation by the Lambda entry point (`edge.http`), spent by the AWS adapter
(`adapters.aws`); a batch turns the refusal into that item's problem and goes on with the items it can serve
from credentials it already holds.
"""

from __future__ import annotations

from contextvars import ContextVar

from domain.errors import UpstreamBudgetExhausted

MAX_DATA_ACCESS_CALLS = 10


class UpstreamBudget:
    def __init__(self, data_access_calls: int = MAX_DATA_ACCESS_CALLS) -> None:
        self._limit = data_access_calls
        self._left = data_access_calls

    def spend_data_access_call(self) -> None:
        if self._left <= 0:
            raise UpstreamBudgetExhausted(
                f"this request already made {self._limit} GetDataAccess calls; ask for this item in "
                "another request"
            )
        self._left -= 1


invocation_budget: ContextVar[UpstreamBudget | None] = ContextVar("invocation_budget", default=None)
