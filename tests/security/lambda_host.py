"""One Lambda execution environment in its own process, driven over loopback HTTP by the suite.

`sam local invoke` runs a handler with no API Gateway authorizer in front, in a fresh environment.
This host does the same. Its environment is the one the local gateway gives the functions (derived
from template.yaml and the stack's `/_local/config` by `local.gateway`'s own code, so the two cannot
drift), plus the overrides the test asks for (a counting JWKS proxy, no cache...). The suite POSTs
`{"method","path","headers","query","body","claims","timeoutSeconds"}` to `/invoke` and gets the
handler's result plus the Lambda's remaining time. Module state (configuration, JWKS cache, identity
sessions) lives only in this process: a cold start is a new process, and nothing leaks into or out
of the pytest process.

    python -m tests.security.lambda_host --aws-endpoint URL [--env NAME=VALUE ...]
    (prints "PORT <n>" once the handlers are imported and it listens)
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import logging
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.apigw_events import build_http_api_event
from local.functions import function_for, invoke, lambda_context, stack_environment
from local.gateway.runtime import install_variables

# Lambda runs one invocation at a time per execution environment.
_one_at_a_time = threading.Lock()


def _invoke(request: dict[str, Any]) -> dict[str, Any]:
    method, path = request["method"], request["path"]
    function = function_for(method, path)
    event = build_http_api_event(
        method,
        path,
        headers=request.get("headers") or {},
        query=request.get("query"),
        body=base64.b64decode(request["bodyBase64"]) if request.get("bodyBase64") else request.get("body"),
        claims=request.get("claims"),
    )
    context = lambda_context(function, timeout_seconds=float(request.get("timeoutSeconds", 10)))
    with _one_at_a_time:
        result = invoke(function, event, context=context)
    return {"result": result, "remainingMs": context.get_remaining_time_in_millis()}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length))
        try:
            answer, status = _invoke(request), 200
        except Exception as error:  # a crash of the handler itself is what the suite must see
            answer, status = {"crash": f"{type(error).__name__}: {error}"}, 500
        body = json.dumps(answer, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the handlers' own logs are what matters


def install_environment(aws_endpoint: str, overrides: dict[str, str]) -> None:
    install_variables(stack_environment(aws_endpoint, **overrides))  # exactly as the gateway's runtime does


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.security.lambda_host")
    parser.add_argument("--aws-endpoint", required=True)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    install_environment(args.aws_endpoint, dict(item.split("=", 1) for item in args.env))
    if os.environ.get("AWS_LAMBDA_LOG_LEVEL") == "DEBUG":
        # Lambda's advanced logging controls at DEBUG: the runtime's root handler takes every record,
        # including the AWS SDK's (whose debug output would carry request bodies and credentials).
        logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)
    # The shared library is imported before announcing readiness, as an init phase would; each handler
    # module on its first invocation.
    importlib.import_module("edge.http")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
