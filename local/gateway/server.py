"""Starting the gateway: from template.yaml and the running local stack to a listening WSGI server.

`build_gateway` wires what `local.gateway.configuration` derives (template + `/_local/config` →
parameters → routes, authorizer, CORS, function environment) to warm handlers. `serve()` runs it in a
child process (functions install their environment into `os.environ`, which must not leak into the
caller, e.g. a pytest session) and yields once the gateway listens; `python -m local.gateway` is that
child.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from local.gateway.app import Gateway
from local.gateway.configuration import (
    DEFAULT_TEMPLATE,
    REPO_ROOT,
    LoadedApi,
    demo_page_config,
    load_api,
    local_environment,
    register_redirect_uris,
)
from local.gateway.environments import DEFAULT_CONCURRENCY, FunctionPool
from local.gateway.processes import stop
from local.loopback_http import LoopbackRequestHandler

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0


def build_gateway(
    loaded: LoadedApi,
    *,
    demo: bool = True,
    url: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    audit_log: Path | None = None,
) -> Gateway:
    """A pool of execution environments per function (each with the function's own environment and the
    execution role's session), one of each started now, as deployed functions have their first one; an
    Init that fails stops the gateway with its reason. Then the gateway itself.

    With the demo page, `url` is where it is served: registered with the issuer as a redirect URI of the
    demo client, since the page signs in with the authorization code flow."""
    stack_variables = local_environment(loaded.config)
    pools = {
        logical_id: FunctionPool(
            function,
            {**stack_variables, **function.environment},
            concurrency=concurrency,
            audit_log=audit_log,
        )
        for logical_id, function in loaded.api.functions.items()
    }
    warm_up(pools.values())
    demo_config = None
    if demo:
        demo_config = demo_page_config(loaded.config)
        if url is not None:
            register_redirect_uris(loaded.config["issuer"], url)
    return Gateway(loaded.api, pools, demo_config=demo_config)


def warm_up(pools: Iterable[FunctionPool]) -> None:
    """Every function's first environment, started side by side; the first failure is raised."""
    failures: list[BaseException] = []

    def start(pool: FunctionPool) -> None:
        try:
            pool.warm_up()
        except BaseException as error:  # noqa: BLE001 - re-raised below, in the caller's thread
            failures.append(error)

    threads = [threading.Thread(target=start, args=(pool,), daemon=True) for pool in pools]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


class _RequestHandler(LoopbackRequestHandler):
    def version_string(self) -> str:
        return "local-apigw"  # API Gateway names no server software; neither do we (no version leak)


class _LateBoundApp:
    """Lets the socket be bound (and its port known, for CORS origins) before the app is built."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


def run_gateway(
    *,
    port: int,
    aws_endpoint: str,
    template: Path = DEFAULT_TEMPLATE,
    overrides: Mapping[str, Any] | None = None,
    demo: bool = True,
    ready_file: Path | None = None,
    audit_log: Path | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> None:
    """Serve until SIGTERM or Ctrl-C (this is the child process `serve()` starts)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("local.gateway").setLevel(logging.INFO)  # the gateway's access log
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # werkzeug's would repeat it
    late = _LateBoundApp()
    server: BaseWSGIServer = make_server(HOST, port, late, threaded=True, request_handler=_RequestHandler)
    url = f"http://{HOST}:{server.server_port}"
    gateway = build_gateway(
        load_api(template, aws_endpoint, url, overrides),
        demo=demo,
        url=url,
        concurrency=concurrency,
        audit_log=audit_log,
    )
    late.app = gateway

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    if ready_file is not None:
        partial = ready_file.with_suffix(".partial")
        partial.write_text(json.dumps({"url": url, "pid": os.getpid()}), encoding="utf-8")
        partial.replace(ready_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        gateway.close()


@dataclass(frozen=True)
class RunningGateway:
    url: str
    port: int
    pid: int
    log_file: Path | None


@contextlib.contextmanager
def serve(
    *,
    aws_endpoint: str,
    port: int = 0,
    template: Path = DEFAULT_TEMPLATE,
    overrides: Mapping[str, Any] | None = None,
    demo: bool = True,
    log_file: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    audit_log: Path | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Iterator[RunningGateway]:
    """Run the gateway in a child process on 127.0.0.1:`port` (0 = a free port) until the block exits.

    `aws_endpoint` is the running emulator (`LocalStack.aws_endpoint`); the issuer and everything else
    come from its `/_local/config`. `log_file` receives the gateway's access log and the handlers' logs
    (None: this process's stdout/stderr).
    """
    with tempfile.TemporaryDirectory(prefix="gateway-") as scratch:
        ready_file = Path(scratch) / "ready.json"
        command = [
            sys.executable,
            "-m",
            "local.gateway",
            "--port",
            str(port),
            "--aws-endpoint",
            aws_endpoint,
            "--template",
            str(template),
            "--ready-file",
            str(ready_file),
        ]
        for name, value in (overrides or {}).items():
            command += ["--parameter", f"{name}={value}"]
        if not demo:
            command.append("--no-demo")
        if audit_log is not None:
            command += ["--audit-log", str(audit_log)]
        command += ["--concurrency", str(concurrency)]
        # Loopback traffic (JWKS, the emulator) must never go through a proxy from the caller's environment.
        env = {
            **os.environ,
            **(extra_env or {}),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        log_handle = log_file.open("ab") if log_file is not None else None
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log_handle,
            stderr=subprocess.STDOUT if log_handle else None,
            start_new_session=True,  # Ctrl-C reaches the parent, which stops the gateway in order
        )
        try:
            ready = _wait_until_ready(process, ready_file, log_file)
            yield RunningGateway(ready["url"], int(ready["url"].rsplit(":", 1)[1]), process.pid, log_file)
        finally:
            stop(process)
            if log_handle is not None:
                log_handle.close()


def _wait_until_ready(
    process: subprocess.Popen[bytes], ready_file: Path, log_file: Path | None
) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if ready_file.exists():
            answer: dict[str, Any] = json.loads(ready_file.read_text(encoding="utf-8"))
            return answer
        if process.poll() is not None:
            tail = ""
            if log_file is not None and log_file.exists():
                tail = "\n" + log_file.read_text(encoding="utf-8", errors="replace")[-4000:]
            raise RuntimeError(f"the gateway exited with status {process.returncode} before listening{tail}")
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"the gateway did not start listening within {START_TIMEOUT_SECONDS:.0f}s")
