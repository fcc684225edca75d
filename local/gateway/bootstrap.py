"""One execution environment: `python -m local.gateway.bootstrap`, started by the gateway's pool
(`local.gateway.environments`), plays Lambda's runtime for one function.

Its process environment is the function's alone (the template's variables and the execution role's
session), as Lambda gives it. It imports the handler once (Init) and says so, then serves invocations one
at a time over the connection it was handed, keeping its module state between them (a warm environment),
until the gateway closes the connection. An unhandled error is written to stderr with its traceback, as
Lambda's runtime logs it, and answered as a function error; the process goes on serving. Timeouts are the
gateway's to enforce: it replaces an environment that overran, as Lambda does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TextIO

from local.gateway.runtime import load_handler
from local.gateway.template import Function
from local.lambda_context import LambdaContext


class AuditTee:
    """The service logger's stream, copying each audit record (one JSON line) to a file as well."""

    def __init__(self, stream: TextIO, path: Path) -> None:
        self._stream = stream
        path.parent.mkdir(parents=True, exist_ok=True)
        # Append mode: every environment of every function adds whole lines to one file.
        self._file = path.open("a", encoding="utf-8", buffering=1)

    def write(self, text: str) -> int:
        if '"audit":true' in text:
            self._file.write(text if text.endswith("\n") else text + "\n")
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


def copy_audit_records(path: Path) -> None:
    """Tee the service's audit records to `path`, when the handler is the service's (it imported them)."""
    audit = sys.modules.get("domain.audit")
    if audit is None:
        return
    handler = audit.logger.registered_handler
    handler.setStream(AuditTee(handler.stream, path))


def _error(error: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }


def serve(connection: Connection, function: Function, audit_log: Path | None) -> None:
    started = time.monotonic()
    if str(function.code_dir) not in sys.path:
        sys.path.insert(0, str(function.code_dir))
    try:
        handler = load_handler(function)
    except BaseException as error:  # noqa: BLE001 - Lambda reports a failed Init; so does this
        traceback.print_exc()
        connection.send(("init-error", _error(error)))
        return
    if audit_log is not None:
        copy_audit_records(audit_log)
    connection.send(("ready", {"initMs": (time.monotonic() - started) * 1000, "pid": os.getpid()}))
    while True:
        try:
            event, request_id = connection.recv()
        except (EOFError, OSError):
            return  # the gateway closed the connection: this environment is done
        context = LambdaContext(
            function.logical_id,
            timeout_seconds=function.timeout_seconds,
            memory_mb=function.memory_mb,
            request_id=request_id,
        )
        try:
            answer: tuple[str, Any] = ("result", handler(event, context))
        except BaseException as error:  # noqa: BLE001 - even sys.exit() is a function error in Lambda
            print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr)
            traceback.print_exc()
            answer = ("error", _error(error))
        with contextlib.suppress(BrokenPipeError, OSError):
            connection.send(answer)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.gateway.bootstrap", description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="the connection's socket, inherited")
    parser.add_argument("--logical-id", required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--code-dir", type=Path, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--audit-log", type=Path)
    args = parser.parse_args(argv)
    function = Function(
        logical_id=args.logical_id,
        handler=args.handler,
        code_dir=args.code_dir,
        timeout_seconds=args.timeout,
        memory_mb=args.memory,
        environment={},
    )
    connection = Connection(socket.socket(fileno=args.fd).detach())
    serve(connection, function, args.audit_log)


if __name__ == "__main__":
    main()
