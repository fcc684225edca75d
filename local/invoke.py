"""`make invoke FN=<function logical id> EVENT=events/<file>.json`: one handler, one event, like
`sam local invoke` but without Docker.

The function's handler, timeout, memory size and environment come from template.yaml, resolved with the
local stack's parameter values exactly as the gateway resolves them. The event's `{{token:<email>}}` and
`{{issuer}}` placeholders are filled in by the local issuer (events/README.md). As with
`sam local invoke`, no API Gateway runs in front: no JWT authorizer, no CORS; the handler verifies the
token itself.

The emulator is, in order: `--aws-endpoint` (`make invoke … ENDPOINT=…`) or `LOCAL_AWS_ENDPOINT`, which must
answer; the one `make run` wrote to `<state dir>/stack.json` (`.local/` by default, whatever its ports),
which must answer too (a stale file is an error, not a reason to go elsewhere); and only when no stack is
named or running, a temporary stack started for this invocation and stopped after it. Which one was used
goes to stderr. The handler's result goes to stdout; START/END/REPORT lines and the handler's logs to
stderr.
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
from typing import Any

import requests

from local.gateway.configuration import DEFAULT_TEMPLATE, load_api, local_environment, shown
from local.gateway.runtime import FunctionRuntime, install_environment

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".local"


class NoStack(RuntimeError):
    """A stack was named (or written down by `make run`) but does not answer."""


def _answers(endpoint: str) -> bool:
    with requests.Session() as http:
        http.trust_env = False
        try:
            return http.get(f"{endpoint}/_local/config", timeout=2).status_code == 200
        except requests.RequestException:
            return False


def _named(explicit: str | None, state_dir: Path) -> tuple[str, str] | None:
    """The stack this invocation was told about, and by whom; None when none was."""
    if explicit:
        return explicit, "as asked"
    if os.environ.get("LOCAL_AWS_ENDPOINT"):
        return os.environ["LOCAL_AWS_ENDPOINT"], "LOCAL_AWS_ENDPOINT"
    running = state_dir / "stack.json"
    if not running.exists():
        return None
    try:
        return str(json.loads(running.read_text())["awsEndpoint"]), f"make run, {shown(running)}"
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise NoStack(f"{shown(running)} is unreadable ({error}); remove it or restart make run") from None


@contextlib.contextmanager
def local_stack_endpoint(explicit: str | None, state_dir: Path = DEFAULT_STATE_DIR) -> Iterator[str]:
    """The emulator to use: the one named, the one `make run` runs, or a temporary one when none runs."""
    named = _named(explicit, state_dir)
    if named is not None:
        endpoint, source = named
        if not _answers(endpoint):
            raise NoStack(
                f"nothing answers at {endpoint} ({source}): start make run, or name a running stack"
            )
        print(f"using the local stack at {endpoint} ({source})", file=sys.stderr)
        yield endpoint
        return
    if str(REPO_ROOT / "src") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "src"))
    from local.stack import LocalStack

    print(
        f"no make run for {shown(state_dir)}: starting a temporary local stack for this invocation",
        file=sys.stderr,
    )
    with (
        tempfile.TemporaryDirectory(prefix="invoke-stack-") as scratch,
        LocalStack(aws_port=0, idp_port=0, state_dir=scratch) as stack,
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
    event = load_event(
        event_path, issuer_url=issuer, mint_token=issuer_minter(issuer), aws_endpoint=aws_endpoint
    )
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
    result: Any
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
    parser.add_argument("--aws-endpoint", help="a running emulator (default: the make run of --state-dir)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="make run's state folder")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    args = parser.parse_args(argv)
    if not args.event.is_file():
        parser.error(f"no event file {args.event}")
    try:
        with local_stack_endpoint(args.aws_endpoint, args.state_dir) as endpoint:
            return invoke(args.function, args.event, endpoint, args.template)
    except NoStack as error:
        print(f"make invoke: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
