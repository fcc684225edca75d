"""`make run`: the whole service on this machine, no AWS account and no Docker.

Starts the AWS emulator (127.0.0.1:4000) and the development OIDC issuer (127.0.0.1:3001) as one child
process, seeded from terraform/access-plan.json, then the API gateway (127.0.0.1:3000) serving
template.yaml's routes and the demo page. State lives in `.local/` (`--state-dir`), which one run holds
at a time. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shlex
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import requests

from local.gateway import serve
from local.gateway.configuration import shown
from local.gateway.environments import DEFAULT_CONCURRENCY

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = REPO_ROOT / ".local"
DEMO_USER = "alice@shopfast.example"


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _wait_healthy(url: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with requests.Session() as http:
        http.trust_env = False
        while True:
            try:
                response = http.get(f"{url}/v1/health", timeout=5)
                if response.status_code == 200:
                    answer: dict[str, Any] = response.json()
                    return answer
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise RuntimeError(f"GET {url}/v1/health did not answer 200 within {timeout:.0f}s")
            time.sleep(0.1)


# The README's and docs' token line: a clear word instead of a traceback when the issuer does not answer.
MINT_TOKEN = (
    f'TOKEN=$(curl -sf "$IDP/dev/token?user={DEMO_USER}" '
    "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])' 2>/dev/null) "
    '|| echo "no token from $IDP: is make run up, and are API, IDP and AWS set as its banner says?" >&2'
)


def exports(gateway_url: str, issuer_url: str, aws_endpoint: str) -> list[str]:
    """The three lines every command in the README and docs/ starts from."""
    return [f"export API={gateway_url}", f"export IDP={issuer_url}", f"export AWS={aws_endpoint}"]


def banner(
    gateway_url: str, issuer_url: str, aws_endpoint: str, seconds: float, version: str, state_dir: Path
) -> str:
    body = shlex.quote('{"target": "s3://shopfast-data/users/*", "permission": "READ"}')
    vend = (
        'curl -s -X POST "$API/v1/credentials" -H "Authorization: Bearer $TOKEN" '
        f"-H 'Content-Type: application/json' -d {body}"
    )
    exported = "\n    ".join(exports(gateway_url, issuer_url, aws_endpoint))
    default_state_dir = state_dir.resolve() == (REPO_ROOT / ".local").resolve()
    state_dir_argument = "" if default_state_dir else f" STATE_DIR={shlex.quote(str(state_dir))}"
    return f"""
  ShopFast credential vending is running locally (version {version}, ready in {seconds:.1f}s)

    Demo page      {gateway_url}/
    API            {gateway_url}/v1/health   (routes and JWT authorizer from template.yaml)
    OIDC issuer    {issuer_url}   (development only: signs in any demo user)
    Emulated AWS   {aws_endpoint}   (S3, STS, Identity Center, S3 Access Grants)
    Audit trail    {shown(state_dir)}/logs/audit.jsonl   (one JSON line per decision)
    Logs           {shown(state_dir)}/logs/   (gateway.log: requests and handler logs; emulator.log)

  In another terminal, set these three once (the README's and docs/' commands use them):

    {exported}

  Vend credentials for {DEMO_USER} (read access to s3://shopfast-data/users/*):

    {MINT_TOKEN}
    {vend}

  Cut a user off on every execution environment within 10 s (docs/revocation.md):

    make revoke USER=dave@shopfast.example{state_dir_argument}    (make reinstate USER=… undoes it)

  Demo users: alice, bob, carol, dave, erin, mallory (@shopfast.example). Press Ctrl-C to stop.
"""


def _claim(state_dir: Path) -> IO[str] | None:
    """This run's hold on its state folder (keys, logs, stack.json), for as long as the process lives; None,
    with the reason on stderr, when another `make run` holds it. Two runs sharing one folder would
    overwrite each other's stack.json and delete it on exit while the other still serves."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / "run.lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        running = ""
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            running = f" (API {json.loads((state_dir / 'stack.json').read_text())['gateway']})"
        print(
            f"another `make run` is using {shown(state_dir)}{running}: stop it first, or give this one "
            "a state folder and ports of its own, e.g.\n"
            "  make run STATE_DIR=.local-2 PORT=3100 IDP_PORT=3101 AWS_PORT=3102",
            file=sys.stderr,
        )
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="API gateway and demo page")
    parser.add_argument("--idp-port", type=int, default=3001, help="OIDC issuer")
    parser.add_argument("--aws-port", type=int, default=4000, help="emulated AWS")
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help="keys and logs (default .local/)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"execution environments per function, at most (default {DEFAULT_CONCURRENCY})",
    )
    args = parser.parse_args(argv)
    if str(REPO_ROOT / "src") not in sys.path:  # local.stack uses the service's packages (SAM's CodeUri root)
        sys.path.insert(0, str(REPO_ROOT / "src"))
    from local.stack import LocalStack

    lock = _claim(args.state_dir)
    if lock is None:
        return 1
    busy = [port for port in (args.port, args.idp_port, args.aws_port) if _port_in_use(port)]
    if busy:
        print(
            f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 in use: is another `make run` running?",
            file=sys.stderr,
        )
        return 1

    stop = threading.Event()
    serving = threading.Event()

    def on_signal(*_: object) -> None:
        # The first Ctrl-C (or SIGTERM) stops; repeated ones are ignored so that the cleanup, which
        # stops the child processes, is never cut short and leaves no process holding the ports.
        if stop.is_set():
            return
        stop.set()
        if not serving.is_set():
            raise KeyboardInterrupt  # still starting: unwind through the context managers

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    print("starting the emulated AWS and the OIDC issuer…", flush=True)
    try:
        with LocalStack(
            aws_port=args.aws_port,
            idp_port=args.idp_port,
            state_dir=args.state_dir,
            log_dir=args.state_dir / "logs",
        ) as stack:
            print("starting the API gateway…", flush=True)
            logs = args.state_dir / "logs"
            with serve(
                aws_endpoint=stack.aws_endpoint,
                port=args.port,
                log_file=logs / "gateway.log",
                audit_log=logs / "audit.jsonl",
                concurrency=args.concurrency,
            ) as gateway:
                health = _wait_healthy(gateway.url)
                print(
                    banner(
                        gateway.url,
                        stack.issuer_url,
                        stack.aws_endpoint,
                        time.monotonic() - started,
                        str(health.get("version", "?")),
                        args.state_dir,
                    ),
                    flush=True,
                )
                running = args.state_dir / "stack.json"
                running.write_text(
                    json.dumps(
                        {
                            "gateway": gateway.url,
                            "issuer": stack.issuer_url,
                            "awsEndpoint": stack.aws_endpoint,
                        }
                    ),
                    encoding="utf-8",
                )
                serving.set()
                try:
                    while not stop.wait(0.5):
                        pass
                finally:
                    running.unlink(missing_ok=True)
                print("stopping…", flush=True)
    except KeyboardInterrupt:
        pass
    print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
