"""Starting the gateway: from template.yaml and the running local stack to a listening WSGI server.

`build_gateway` is the whole derivation (template + `/_local/config` → parameters → routes, authorizer,
CORS, function environment → warm handlers). `serve()` runs it in a child process (functions install
their environment into `os.environ`, which must not leak into the caller, e.g. a pytest session) and
yields once the gateway listens; `python -m local.gateway` is that child.
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, make_server

from local.gateway.app import Gateway
from local.gateway.runtime import FunctionRuntime, install_environment
from local.gateway.template import HttpApi, load_template, read_http_api
from local.loopback_http import LoopbackRequestHandler
from local.oidc_authorization import DEMO_CLIENT_ID

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0


def local_stack_config(aws_endpoint: str) -> dict[str, Any]:
    with requests.Session() as http:
        http.trust_env = False
        response = http.get(f"{aws_endpoint.rstrip('/')}/_local/config", timeout=5)
    response.raise_for_status()
    return response.json()


def parameter_values(
    config: Mapping[str, Any], declared: Mapping[str, Any], gateway_url: str
) -> dict[str, Any]:
    """Template parameter values for the local stack, taken from the emulator's `/_local/config`, so that
    the local run and a deployment read the same template and cannot drift. Only parameters the template
    declares are set; the others keep their defaults."""
    origins = [gateway_url, gateway_url.replace("127.0.0.1", "localhost")]
    department_roles = config.get("departmentRoles") or {}
    known: dict[str, Any] = {
        "JwtIssuer": config["issuer"],
        "JwtAudience": config["audience"],
        "CorsAllowedOrigins": ",".join(origins),
        "IdcApplicationArn": config["applicationArn"],
        "IdentityBearerRoleArn": config["identityBearerRoleArn"],
        "AccessGrantsAccountId": config["accountId"],
        "ExecutionRoleArn": config["clientApplicationRoleArn"],
        "AllowedBuckets": ",".join(config.get("buckets") or []),
        "BucketRegions": json.dumps(config.get("bucketRegions") or {}, separators=(",", ":")),
        # The emulator's own Region is Identity Center's home.
        "IdcRegion": config["region"],
        "RoleMapping": json.dumps(department_roles, separators=(",", ":")),
    }
    return {name: value for name, value in known.items() if name in declared}


def execution_role_credentials(aws_endpoint: str, role_arn: str) -> dict[str, str]:
    """The credentials Lambda would give a function running as `role_arn`, from the emulator's STS (the
    role's trust policy must allow lambda.amazonaws.com, as on AWS)."""
    with requests.Session() as http:
        http.trust_env = False
        response = http.post(
            f"{aws_endpoint.rstrip('/')}/_local/execution-role-credentials",
            json={"roleArn": role_arn},
            timeout=10,
        )
    if response.status_code != 200:
        raise RuntimeError(
            f"the emulator gave no credentials for the execution role {role_arn}: {response.text}"
        )
    return response.json()


def local_environment(config: Mapping[str, Any], role_arn: str | None = None) -> dict[str, str]:
    """What Lambda's runtime would provide, pointed at the local stack instead of AWS: the endpoint, the
    Region and the execution role's session (by default the stack's client-application role)."""
    credentials = execution_role_credentials(
        config["endpoint"], role_arn or config["clientApplicationRoleArn"]
    )
    return {
        "AWS_ENDPOINT_URL": config["endpoint"],
        "AWS_REGION": config["region"],
        "AWS_DEFAULT_REGION": config["region"],
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


@dataclass(frozen=True)
class LoadedApi:
    api: HttpApi
    config: dict[str, Any]
    parameters: dict[str, Any]


def load_api(
    template: Path,
    aws_endpoint: str,
    gateway_url: str,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedApi:
    return read_api(template, local_stack_config(aws_endpoint), gateway_url, overrides)


def read_api(
    template: Path,
    config: Mapping[str, Any],
    gateway_url: str,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedApi:
    """The template's API for the local stack whose `/_local/config` is `config`."""
    declared = load_template(template).get("Parameters") or {}
    parameters = {**parameter_values(config, declared, gateway_url), **(overrides or {})}
    api = read_http_api(template, parameters, account_id=config["accountId"], region=config["region"])
    return LoadedApi(api, dict(config), parameters)


def build_gateway(loaded: LoadedApi, *, demo: bool = True, url: str | None = None) -> Gateway:
    """Install the functions' environment in this process, import their handlers and wire the gateway.

    With the demo page, `url` is where it is served: registered with the issuer as a redirect URI of the
    demo client, since the page signs in with the authorization code flow."""
    install_environment(loaded.api.functions.values(), local_environment(loaded.config))
    runtimes = {
        logical_id: FunctionRuntime(function) for logical_id, function in loaded.api.functions.items()
    }
    demo_config = None
    if demo:
        demo_config = demo_page_config(loaded.config)
        if url is not None:
            register_redirect_uris(loaded.config["issuer"], url)
    return Gateway(loaded.api, runtimes, demo_config=demo_config)


def demo_page_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The demo page's settings (`/demo/config.json`): everything it needs to sign in with any OIDC provider
    and call the API. Pointed at a real IdP, only these values change."""
    return {
        "issuer": config["issuer"],
        "clientId": DEMO_CLIENT_ID,
        "scopes": "openid email profile offline_access",
        "apiUrl": "",  # same origin as the page
        "awsEndpoint": config["endpoint"],
    }


def register_redirect_uris(issuer: str, gateway_url: str) -> None:
    """The demo page's URLs (127.0.0.1 and localhost) as redirect URIs of the demo client."""
    with requests.Session() as http:
        http.trust_env = False
        for origin in (gateway_url, gateway_url.replace("127.0.0.1", "localhost")):
            http.post(
                f"{issuer}/dev/clients/{DEMO_CLIENT_ID}/redirect-uris",
                json={"redirectUri": f"{origin}/"},
                timeout=10,
            ).raise_for_status()


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
) -> None:
    """Serve until SIGTERM or Ctrl-C (this is the child process `serve()` starts)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("local.gateway").setLevel(logging.INFO)  # the gateway's access log
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # werkzeug's would repeat it
    late = _LateBoundApp()
    server: BaseWSGIServer = make_server(HOST, port, late, threaded=True, request_handler=_RequestHandler)
    url = f"http://{HOST}:{server.server_port}"
    late.app = build_gateway(load_api(template, aws_endpoint, url, overrides), demo=demo, url=url)
    if audit_log is not None:
        _copy_audit_records(audit_log)

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


class _AuditTee:
    """The service logger's stream, copying each audit record (one JSON line) to a file as well."""

    def __init__(self, stream: Any, path: Path) -> None:
        self._stream = stream
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8", buffering=1)

    def write(self, text: str) -> int:
        if '"audit":true' in text:
            self._file.write(text if text.endswith("\n") else text + "\n")
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


def _copy_audit_records(path: Path) -> None:
    from domain.audit import logger  # the handlers' logger, imported by build_gateway

    handler = logger.registered_handler
    handler.setStream(_AuditTee(handler.stream, path))


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
            _stop(process)
            if log_handle is not None:
                log_handle.close()


def _wait_until_ready(process: subprocess.Popen[bytes], ready_file: Path, log_file: Path | None) -> dict:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if ready_file.exists():
            return json.loads(ready_file.read_text(encoding="utf-8"))
        if process.poll() is not None:
            tail = ""
            if log_file is not None and log_file.exists():
                tail = "\n" + log_file.read_text(encoding="utf-8", errors="replace")[-4000:]
            raise RuntimeError(f"the gateway exited with status {process.returncode} before listening{tail}")
        time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"the gateway did not start listening within {START_TIMEOUT_SECONDS:.0f}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
