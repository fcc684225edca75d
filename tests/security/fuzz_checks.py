"""Schemathesis checks of the security suite, loaded by `st run` through SCHEMATHESIS_HOOKS.

A registered check runs only when `--checks` names it (or `all`), so each run picks its own.
"""

from __future__ import annotations

from typing import Any

import schemathesis

PUBLIC_PATHS = {"/v1/health"}


@schemathesis.check
def only_public_routes_answer_without_a_valid_token(ctx: Any, response: Any, case: Any) -> bool | None:
    """For runs without (or with a forged) token: every protected route answers 401, nothing else."""
    if case.operation.path in PUBLIC_PATHS:
        return None
    if case.method.upper() != case.operation.method.upper():
        # An undeclared method (coverage phase) has no route: 404/405, never a 2xx.
        if 200 <= response.status_code < 300:
            raise AssertionError(f"{case.method} {case.operation.path} answered 2xx without a valid token")
        return None
    if response.status_code != 401:
        raise AssertionError(
            f"{case.operation.label} answered {response.status_code} without a valid token (expected 401)"
        )
    return None


@schemathesis.check
class SomeRequestsSucceed:
    """For the authenticated run: fuzzing that never got past validation would prove little."""

    def __init__(self) -> None:
        self.succeeded: set[str] = set()

    def after_response(self, ctx: Any, response: Any, case: Any) -> None:
        if 200 <= response.status_code < 300:
            self.succeeded.add(case.operation.label)

    def after_run(self, ctx: Any) -> None:
        protected = {label for label in self.succeeded if not label.endswith(tuple(PUBLIC_PATHS))}
        if not protected:
            raise AssertionError("no authenticated request succeeded during fuzzing")
