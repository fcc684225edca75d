"""Runs Lambda handlers in this process the way one warm Lambda execution environment would: for
`make invoke` and the in-process test harness (`local.functions`). The gateway runs each function in
processes of its own instead (`local.gateway.environments`).

Functions run here share the process, so their environment variables are merged into `os.environ` once,
before any handler module is imported (their configuration is read at import/init time). Two functions
that need different values for the same variable cannot share a process: that is refused at start-up
rather than served wrongly.

Each function runs one invocation at a time (Lambda gives an execution environment one request at a
time, and per-invocation state such as Powertools' logger keys relies on it). An invocation still
running when the function's timeout (or, if earlier, the integration timeout) elapses is abandoned: the
caller learns which timeout it was, and the next invocation does not wait for it, as Lambda would
replace the environment.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from local.gateway.template import Function
from local.lambda_context import LambdaContext

FUNCTION_TIMEOUT = "function"
INTEGRATION_TIMEOUT = "integration"
# A developer's own AWS identity and configuration, which no Lambda execution environment has: they must
# not reach the functions from the shell that started the local stack or the tests.
FOREIGN_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


class EnvironmentConflictError(ValueError):
    """Two functions (or the local stack) want different values for one environment variable."""


def merged_environment(functions: Iterable[Function], local_variables: Mapping[str, str]) -> dict[str, str]:
    """One environment for every function served from this process, refusing contradictions."""
    merged: dict[str, str] = dict(local_variables)
    owner = dict.fromkeys(local_variables, "the local stack")
    for function in functions:
        for name, value in function.environment.items():
            if name in merged and merged[name] != value:
                raise EnvironmentConflictError(
                    f"environment variable {name} is {merged[name]!r} for {owner[name]} but {value!r} for "
                    f"{function.logical_id}; functions run in this one process share one environment"
                )
            merged[name] = value
            owner[name] = function.logical_id
    return merged


def install_variables(environment: Mapping[str, str]) -> None:
    """Put `environment` into os.environ, without the developer's own AWS identity and configuration
    (unless `environment` itself names them: the execution role's session token)."""
    installed = dict(environment)  # read before os.environ changes: it may be os.environ itself
    for name in FOREIGN_AWS_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(installed)


def install_environment(functions: Iterable[Function], local_variables: Mapping[str, str]) -> None:
    """Put the functions' environment into os.environ and their code directories on sys.path."""
    functions = list(functions)
    install_variables(merged_environment(functions, local_variables))
    for code_dir in dict.fromkeys(str(function.code_dir) for function in functions):
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)


def load_handler(function: Function) -> Callable[[dict[str, Any], Any], Any]:
    module_name, _, attribute = function.handler.rpartition(".")
    if not module_name:
        raise ValueError(f"{function.logical_id}: Handler {function.handler!r} must be module.function")
    module = importlib.import_module(module_name)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise ValueError(f"{function.logical_id}: {function.handler} is not a callable in {module.__file__}")
    answer: Callable[[dict[str, Any], Any], Any] = handler
    return answer


def lambda_context(
    function: Function, *, timeout_seconds: float | None = None, request_id: str | None = None
) -> LambdaContext:
    """The context Lambda passes the function (its timeout unless `timeout_seconds` shortens it)."""
    return LambdaContext(
        function.logical_id,
        timeout_seconds=function.timeout_seconds if timeout_seconds is None else timeout_seconds,
        memory_mb=function.memory_mb,
        request_id=request_id,
    )


@dataclass(frozen=True)
class Invocation:
    """What came back from one invocation: a result, an error, or nothing in time."""

    result: Any = None
    error: BaseException | None = None
    timed_out: str | None = None  # FUNCTION_TIMEOUT (Lambda's own) or INTEGRATION_TIMEOUT (API Gateway's)
    duration_ms: float = 0.0
    aws_request_id: str = ""


class FunctionRuntime:
    """One function's warm execution environment: its handler, running one invocation at a time."""

    def __init__(self, function: Function) -> None:
        self.function = function
        self._handler = load_handler(function)
        self._idle = threading.Condition()
        self._busy_with: object | None = None  # the invocation that holds the environment

    def invoke(
        self, event: dict[str, Any], *, integration_timeout_seconds: float, aws_request_id: str | None = None
    ) -> Invocation:
        aws_request_id = aws_request_id or str(uuid.uuid4())
        deadline = time.monotonic() + integration_timeout_seconds
        # Time spent queued behind another invocation counts against the integration timeout only;
        # the function's own timeout starts when its handler starts.
        token = object()
        with self._idle:
            if not self._idle.wait_for(
                lambda: self._busy_with is None, max(0.0, deadline - time.monotonic())
            ):
                return Invocation(timed_out=INTEGRATION_TIMEOUT, aws_request_id=aws_request_id)
            self._busy_with = token
        outcome: dict[str, Any] = {}
        context = lambda_context(self.function, request_id=aws_request_id)
        started = time.monotonic()

        def run() -> None:
            try:
                outcome["result"] = self._handler(event, context)
            except BaseException as exc:  # noqa: BLE001 - even sys.exit() is a function error in Lambda
                outcome["error"] = exc
            finally:
                self._release(token)

        thread = threading.Thread(target=run, name=f"lambda-{self.function.logical_id}", daemon=True)
        thread.start()
        function_deadline = started + self.function.timeout_seconds
        thread.join(max(0.0, min(deadline, function_deadline) - time.monotonic()))
        duration_ms = (time.monotonic() - started) * 1000
        if thread.is_alive():
            # Python cannot stop the thread; Lambda would discard the environment, so stop waiting for it.
            self._release(token)
            kind = FUNCTION_TIMEOUT if function_deadline <= deadline else INTEGRATION_TIMEOUT
            return Invocation(timed_out=kind, duration_ms=duration_ms, aws_request_id=aws_request_id)
        return Invocation(
            result=outcome.get("result"),
            error=outcome.get("error"),
            duration_ms=duration_ms,
            aws_request_id=aws_request_id,
        )

    def _release(self, token: object) -> None:
        with self._idle:
            if self._busy_with is token:
                self._busy_with = None
                self._idle.notify()
