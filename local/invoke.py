"""`make invoke FN=<function logical id> EVENT=events/<file>.json`: one handler, one event, like
`sam local invoke` but without Docker.

The function's handler, timeout, memory size and environment come from template.yaml, resolved with the
local stack's parameter values exactly as the gateway resolves them. The event's `{{token:<email>}}` and
`{{issuer}}` placeholders are filled in by the local issuer (events/README.md). As with
`sam local invoke`, no API Gateway runs in front: no JWT authorizer, no CORS; the handler verifies the
token itself.

The emulator is, in order: `--aws-endpoint` (`make invoke … ENDPOINT=…`), `LOCAL_AWS_ENDPOINT`, the one
`make run` wrote to `.local/stack.json` (whatever its ports), or 127.0.0.1:4000, when it answers; otherwise
a temporary stack is started for this invocation and stopped after it. Which one was used goes to stderr.
The handler's result goes to stdout; START/END/REPORT lines and the handler's logs to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import requests

from local.gateway.runtime import FunctionRuntime, install_environment
from local.gateway.server import DEFAULT_TEMPLATE, load_api, local_environment

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENDPOINT = "http://127.0.0.1:4000"
RUNNING_STACK_FILE = REPO_ROOT / ".local" / "stack.json"


def _answers(endpoint: str) -> bool:
    with requests.Session() as http:
        http.trust_env = False
        try:
            return http.get(f"{endpoint}/_local/config", timeout=2).status_code == 200
        except requests.RequestException:
            return False


def _candidates() -> list[tuple[str, str]]:
    if os.environ.get("LOCAL_AWS_ENDPOINT"):
        return [(os.environ["LOCAL_AWS_ENDPOINT"], "LOCAL_AWS_ENDPOINT")]
    found = []
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        found.append(
            (str(json.loads(RUNNING_STACK_FILE.read_text())["awsEndpoint"]), "make run, .local/stack.json")
        )
    return [*found, (DEFAULT_ENDPOINT, "the default port")]


@contextlib.contextmanager
def local_stack_endpoint(explicit: str | None) -> Iterator[str]:
    """The emulator to use: the one named, the running one, or a temporary one for this invocation."""
    if explicit:
        print(f"using the emulator at {explicit} (as asked)", file=sys.stderr)
        yield explicit
        return
    for endpoint, source in _candidates():
        if _answers(endpoint):
            print(f"using the local stack at {endpoint} ({source})", file=sys.stderr)
            yield endpoint
            return
    endpoint = os.environ.get("LOCAL_AWS_ENDPOINT", DEFAULT_ENDPOINT)
    if str(REPO_ROOT / "src") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "src"))
    from local.stack import LocalStack

    notice = f"nothing answers on {endpoint}; starting a temporary local stack (`make run` keeps one)"
    print(notice, file=sys.stderr)
    with (
        tempfile.TemporaryDirectory(prefix="invoke-stack-") as state_dir,
        LocalStack(aws_port=0, idp_port=0, state_dir=state_dir) as stack,
    ):
        yield stack.aws_endpoint


def invoke(function_name: str, event_path: Path, aws_endpoint: str, template: Path = DEFAULT_TEMPLATE) -> int:
    from local.event_files import issuer_minter, load_event

    loaded = load_api(template, aws_endpoint, "http://127.0.0.1:3000")
    function = loaded.api.functions.get(function_name)
    if function is None:
        known = ", ".join(sorted(loaded.api.functions))
        print(f"no function {function_name!r} in {template.name}; functions: {known}", file=sys.stderr)
        return 2
    issuer = loaded.config["issuer"]
    event = load_event(event_path, issuer_url=issuer, mint_token=issuer_minter(issuer))
    install_environment([function], local_environment(loaded.config))
    request_id = str(uuid.uuid4())
    # stdout carries the result only; the handler's logs (Powertools writes to stdout) go to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        runtime = FunctionRuntime(function)
        print(f"START RequestId: {request_id} Version: $LATEST")
        invocation = runtime.invoke(
            event, integration_timeout_seconds=function.timeout_seconds, aws_request_id=request_id
        )
    exit_code = 0
    if invocation.timed_out:
        print(f"Task timed out after {function.timeout_seconds:.2f} seconds", file=sys.stderr)
        result = {"errorMessage": f"Task timed out after {function.timeout_seconds:.2f} seconds"}
        exit_code = 1
    elif invocation.error is not None:
        error = invocation.error
        result = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
        exit_code = 1
    else:
        result = invocation.result
    billed = max(1, round(invocation.duration_ms))
    print(f"END RequestId: {request_id}", file=sys.stderr)
    print(
        f"REPORT RequestId: {request_id}\tDuration: {invocation.duration_ms:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {function.memory_mb} MB",
        file=sys.stderr,
    )
    print(json.dumps(result, indent=2))
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("function", help="a function's logical id in template.yaml, e.g. PresignFunction")
    parser.add_argument("event", type=Path, help="an event file, e.g. events/credentials.json")
    parser.add_argument("--aws-endpoint", help=f"the local emulator (default: {DEFAULT_ENDPOINT} if up)")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    args = parser.parse_args(argv)
    if not args.event.is_file():
        parser.error(f"no event file {args.event}")
    with local_stack_endpoint(args.aws_endpoint) as endpoint:
        return invoke(args.function, args.event, endpoint, args.template)


if __name__ == "__main__":
    sys.exit(main())
