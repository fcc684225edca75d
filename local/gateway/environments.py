"""Execution environments as Lambda runs them: each function gets a pool of separate processes
(`local.gateway.bootstrap`), each of which imports the handler once and then serves one invocation at a
time, keeping its module state between invocations, exactly like a warm Lambda environment.

Module state is per request on Lambda because an environment never serves two requests at once: the
Powertools resolver's current event, the logger's keys, the service's caches. Functions sharing one
process on threads mixed concurrent requests up (one request read another's body; audit records carried
other requests' ids), so here a process is an environment, and nothing is shared but the files they log
to.

A request takes an idle environment, or starts a new one while the function has fewer than
`concurrency`, or waits for one to become idle; it waits no longer than the route's integration timeout
(then API Gateway's 503). The function's own timeout starts when its handler starts: an environment that
overruns it is ended and replaced, as Lambda replaces it ("Task timed out", a function error). One that
overruns only the integration timeout finishes in the background and becomes idle again, as on Lambda.
An environment whose process dies is dropped; the next request starts another.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from local.gateway.processes import stop
from local.gateway.runtime import FUNCTION_TIMEOUT, INTEGRATION_TIMEOUT, Invocation
from local.gateway.template import Function

DEFAULT_CONCURRENCY = 4
# Lambda's Init phase may take 10 s; a first request waits for it (within its integration timeout).
INIT_TIMEOUT_SECONDS = 10.0
REPO_ROOT = Path(__file__).resolve().parents[2]
# What a process needs to run Python at all; nothing else of the gateway's environment (the developer's
# AWS profile, proxies) reaches a function.
_PROCESS_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT", "HOME")

log = logging.getLogger("local.gateway")


class FunctionError(Exception):
    """The function failed: its error as the runtime reported it (type, message; the trace is in its
    log), or its process died."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


class InitError(FunctionError):
    """The handler could not be imported (Lambda's Runtime.ImportModuleError and the like)."""


class ExecutionEnvironment:
    """One process serving one function, one invocation at a time."""

    def __init__(self, function: Function, environment: Mapping[str, str], audit_log: Path | None) -> None:
        self.function = function
        ours, theirs = socket.socketpair()
        command = [
            sys.executable,
            "-m",
            "local.gateway.bootstrap",
            "--fd",
            str(theirs.fileno()),
            "--logical-id",
            function.logical_id,
            "--handler",
            function.handler,
            "--code-dir",
            str(function.code_dir),
            "--timeout",
            str(function.timeout_seconds),
            "--memory",
            str(function.memory_mb),
        ]
        if audit_log is not None:
            command += ["--audit-log", str(audit_log)]
        variables = {name: os.environ[name] for name in _PROCESS_VARIABLES if name in os.environ}
        variables |= {**environment, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
        # Its output is the function's log: the gateway's own stdout and stderr (gateway.log).
        self.process = subprocess.Popen(command, env=variables, pass_fds=(theirs.fileno(),), cwd=REPO_ROOT)
        theirs.close()
        self._connection = Connection(ours.detach())
        self.pid = self.process.pid

    def wait_ready(self, timeout: float) -> None:
        """Until Init is done; InitError if it failed, FunctionError if the process died or hung."""
        kind, detail = self._receive(timeout, "Init")
        if kind == "init-error":
            self.stop()
            raise InitError(detail["errorType"], detail["errorMessage"])

    def send(self, event: dict[str, Any], request_id: str) -> None:
        self._connection.send((event, request_id))

    def answer_within(self, timeout: float) -> tuple[str, Any] | None:
        """The invocation's answer (`("result", value)` or `("error", details)`), or None if none came in
        time (the invocation is still running)."""
        if not self._connection.poll(max(0.0, timeout)):
            return None
        return self._receive(0, "the invocation")

    def _receive(self, timeout: float, what: str) -> tuple[str, Any]:
        try:
            if not self._connection.poll(timeout):
                self.stop()
                raise FunctionError("Runtime.Timeout", f"{what} did not finish within {timeout:.0f}s")
            kind, detail = self._connection.recv()
        except (EOFError, OSError, ConnectionError):
            self.stop()
            raise FunctionError(
                "Runtime.ExitError", f"the runtime exited (status {self.process.poll()}) during {what}"
            ) from None
        return kind, detail

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """End the environment (closing the connection ends its loop; a hung one is killed)."""
        self._connection.close()
        stop(self.process)


class FunctionPool:
    """One function's execution environments: at most `concurrency`, each serving one request at a time."""

    def __init__(
        self,
        function: Function,
        environment: Mapping[str, str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        audit_log: Path | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.function = function
        self._environment = dict(environment)
        self._concurrency = concurrency
        self._audit_log = audit_log
        self._lock = threading.Condition()
        self._idle: list[ExecutionEnvironment] = []
        self._count = 0  # environments alive or starting
        self._closed = False

    def warm_up(self) -> None:
        """Start one environment now (Init), as a deployed function's first one; raises what Init raised."""
        with self._lock:
            self._count += 1
        environment = self._start()
        self._release(environment)

    def invoke(
        self, event: dict[str, Any], *, integration_timeout_seconds: float, aws_request_id: str | None = None
    ) -> Invocation:
        aws_request_id = aws_request_id or str(uuid.uuid4())
        deadline = time.monotonic() + integration_timeout_seconds
        try:
            environment = self._acquire(deadline)
        except FunctionError as error:
            return Invocation(error=error, aws_request_id=aws_request_id)
        if environment is None:  # every environment busy until the integration timeout
            return Invocation(timed_out=INTEGRATION_TIMEOUT, aws_request_id=aws_request_id)
        started = time.monotonic()
        function_deadline = started + self.function.timeout_seconds
        try:
            environment.send(event, aws_request_id)
            answer = environment.answer_within(min(deadline, function_deadline) - time.monotonic())
        except (FunctionError, OSError, ValueError) as error:
            self._drop(environment)
            failure = (
                error if isinstance(error, FunctionError) else FunctionError("Runtime.ExitError", str(error))
            )
            return Invocation(error=failure, aws_request_id=aws_request_id)
        duration_ms = (time.monotonic() - started) * 1000
        if answer is None:
            if function_deadline <= deadline:
                # "Task timed out": Lambda ends this environment; the next request gets a fresh one.
                self._drop(environment)
                return Invocation(
                    timed_out=FUNCTION_TIMEOUT, duration_ms=duration_ms, aws_request_id=aws_request_id
                )
            threading.Thread(
                target=self._finish_late, args=(environment, function_deadline), daemon=True
            ).start()
            return Invocation(
                timed_out=INTEGRATION_TIMEOUT, duration_ms=duration_ms, aws_request_id=aws_request_id
            )
        self._release(environment)
        kind, detail = answer
        if kind == "error":
            return Invocation(
                error=FunctionError(detail["errorType"], detail["errorMessage"]),
                duration_ms=duration_ms,
                aws_request_id=aws_request_id,
            )
        return Invocation(result=detail, duration_ms=duration_ms, aws_request_id=aws_request_id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.stop()

    @property
    def environments(self) -> int:
        with self._lock:
            return self._count

    # -- the pool --
    def _acquire(self, deadline: float) -> ExecutionEnvironment | None:
        with self._lock:
            while True:
                while self._idle:
                    environment = self._idle.pop()
                    if environment.alive:
                        return environment
                    self._count -= 1  # died while idle
                if self._count < self._concurrency:
                    self._count += 1
                    break
                if (
                    not self._lock.wait(max(0.0, deadline - time.monotonic()))
                    and time.monotonic() >= deadline
                ):
                    return None
        try:
            return self._start(deadline)
        except FunctionError:
            with self._lock:
                self._count -= 1
                self._lock.notify()
            raise

    def _start(self, deadline: float | None = None) -> ExecutionEnvironment:
        environment = ExecutionEnvironment(self.function, self._environment, self._audit_log)
        budget = (
            INIT_TIMEOUT_SECONDS
            if deadline is None
            else min(INIT_TIMEOUT_SECONDS, deadline - time.monotonic())
        )
        environment.wait_ready(max(0.1, budget))
        return environment

    def _release(self, environment: ExecutionEnvironment) -> None:
        with self._lock:
            if self._closed or not environment.alive:
                self._count -= 1
                closed = True
            else:
                self._idle.append(environment)
                closed = False
            self._lock.notify()
        if closed:
            environment.stop()

    def _drop(self, environment: ExecutionEnvironment) -> None:
        environment.stop()
        with self._lock:
            self._count -= 1
            self._lock.notify()

    def _finish_late(self, environment: ExecutionEnvironment, function_deadline: float) -> None:
        """An invocation API Gateway stopped waiting for: the environment is busy until it answers (then
        idle again) or its own timeout ends it."""
        try:
            answer = environment.answer_within(function_deadline - time.monotonic())
        except FunctionError:
            answer = None
        if answer is None:
            log.warning(
                "%s: Task timed out after %.2f seconds",
                self.function.logical_id,
                self.function.timeout_seconds,
            )
            self._drop(environment)
        else:
            self._release(environment)
