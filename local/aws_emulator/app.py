"""The emulator's WSGI application: moto's server app wrapped by our middleware.

Every request is named (the AWS operation it is), counted, exposed to fault injection, then offered
in turn to the modules that emulate what moto lacks (Identity Center, STS contexts, Access Grants,
S3 enforcement of vended credentials); whatever none of them claims goes to moto unchanged.
The `/_local/*` control API (config, stats, faults, clock) is answered here.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from local.aws_emulator import access_grants, s3_enforcement
from local.aws_emulator.state import EmulatorState

logger = logging.getLogger("local.aws_emulator")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Wire protocols, which decide the shape of an error document. Every protocol but S3's own is
# "control plane": injected latency (LOCAL_AWS_LATENCY_MS) applies to it.
S3 = "s3"  # rest-xml, <Error> at the root
S3_CONTROL = "s3control"  # rest-xml, <ErrorResponse><Error>
QUERY = "query"  # sts, iam, ...: <ErrorResponse><Error><Type>
JSON = "json"  # X-Amz-Target services: {"__type": ...}
REST_JSON = "rest-json"  # sso-oidc: x-amzn-ErrorType


@dataclass
class Fault:
    throttle: int = 0  # the next N calls are throttled
    server_error: int = 0  # then the next N calls fail with a 5xx
    latency_ms: int = 0  # added to every call of the operation


@dataclass(frozen=True)
class Operation:
    protocol: str
    name: str

    @property
    def is_control_plane(self) -> bool:
        return self.protocol != S3


def make_moto_app() -> WsgiApp:
    from moto.iam import policy_validation
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # IAM accepts regional S3 resources such as the Access Grants instance
    # (arn:aws:s3:<region>:<account>:access-grants/default); moto 5.2's validator knows only access points.
    regional_s3 = policy_validation.SERVICE_TYPE_REGION_INFORMATION_ERROR_ASSOCIATIONS["s3"]
    if "access-grants/" not in regional_s3["valid_starting_values"]:
        regional_s3["valid_starting_values"].append("access-grants/")
    _evaluate_bucket_policies_as_over_tls()
    return DomainDispatcherApplication(create_backend_app)


def _evaluate_bucket_policies_as_over_tls() -> None:
    """Let the usual TLS-only bucket policy (Deny if `aws:SecureTransport` is "false") hold locally.

    moto checks object requests against the bucket policy, but knows only StringEquals conditions and
    answers DENIED for any statement whose condition fails, so that conditional Deny refuses everything.
    The emulator stands in for S3's HTTPS endpoint on loopback: policies see `aws:SecureTransport` =
    "true", `Bool` is evaluated, and a statement whose condition does not hold does not apply.
    """
    from moto.iam import policy_conditions
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3.models import FakeBucket

    policy_conditions.CONDITION_OPERATIONS.setdefault(
        "Bool", lambda expected, actual: str(actual).lower() in [str(v).lower() for v in _as_list(expected)]
    )
    context = {"aws:SecureTransport": "true"}

    def get_permission(bucket: Any, action: str, resource: str) -> PermissionResult:
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        result = PermissionResult.NEUTRAL
        for raw in _as_list(json.loads(bucket.policy)["Statement"]):
            statement = IAMPolicyStatement(raw)
            # moto has no public way to ask whether a statement applies.
            if not statement._check_conditions(context):
                continue
            permission = statement.is_action_permitted(action, resource, None, context)
            if permission == PermissionResult.DENIED:
                return permission
            if permission == PermissionResult.PERMITTED:
                result = permission
        return result

    FakeBucket.get_permission = get_permission


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _body_action(request: Request) -> str | None:
    if (
        request.method == "POST"
        and request.content_type
        and request.content_type.startswith("application/x-www-form-urlencoded")
    ):
        values = parse_qs(request.get_data(cache=True).decode("utf-8", "replace")).get("Action")
        if values:
            return values[0]
    return None


SSO_OIDC_PATHS = {"/client/register": "RegisterClient", "/device_authorization": "StartDeviceAuthorization"}


def identify(request: Request) -> Operation:
    """Name the AWS operation a request performs, from its wire shape alone."""
    path = request.path
    if path.startswith("/v20180820/"):
        return Operation(
            S3_CONTROL, access_grants.operation_name(request.method, path) or "S3Control" + request.method
        )
    target = request.headers.get("X-Amz-Target")
    if target:
        return Operation(JSON, target.rpartition(".")[2])
    action = request.args.get("Action") or _body_action(request)
    if action:
        return Operation(QUERY, action)
    if path == "/token" and request.method == "POST":
        return Operation(REST_JSON, "CreateTokenWithIAM" if "aws_iam" in request.args else "CreateToken")
    if path in SSO_OIDC_PATHS and request.method == "POST":
        return Operation(REST_JSON, SSO_OIDC_PATHS[path])
    return Operation(S3, s3_enforcement.s3_operation_name(request))


# --- error documents in each protocol's shape --------------------------------------------------------


def error_response(operation: Operation, status: int, code: str, message: str) -> Response:
    """An AWS error as the operation's protocol shapes it, so botocore raises ClientError with `code`."""
    request_id = uuid.uuid4().hex.upper()[:16]
    if operation.protocol == S3:
        return s3_enforcement.s3_error(status, code, message)
    if operation.protocol == S3_CONTROL:
        return access_grants.error_response(status, code, message)
    if operation.protocol == QUERY:
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(body, status=status, content_type="text/xml")
    body = json.dumps({"__type": code, "message": message})
    return Response(
        body,
        status=status,
        content_type="application/x-amz-json-1.1",
        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id},
    )


def throttling_error(operation: Operation) -> Response:
    """The code boto3's standard retry mode treats as throttling, in the status the service uses."""
    if operation.protocol == S3:
        return error_response(operation, 503, "SlowDown", "Please reduce your request rate.")
    if operation.protocol in (S3_CONTROL, REST_JSON):
        return error_response(operation, 429, "TooManyRequestsException", "Rate exceeded")
    if operation.protocol == QUERY:
        return error_response(operation, 400, "Throttling", "Rate exceeded")
    return error_response(operation, 400, "ThrottlingException", "Rate exceeded")


def server_error(operation: Operation) -> Response:
    if operation.protocol in (S3, S3_CONTROL):
        return error_response(operation, 500, "InternalError", "We encountered an internal error.")
    if operation.protocol == REST_JSON:
        return error_response(operation, 500, "InternalServerException", "An internal error occurred.")
    return error_response(operation, 500, "InternalFailure", "An internal error occurred.")


def identity_modules() -> list[Any]:
    """Identity Center and STS contexts: the identity side of the emulator, consulted before Access Grants."""
    from local.aws_emulator import identity_center, sts

    return [identity_center, sts]


# --- the application -----------------------------------------------------------------------------


class EmulatorApp:
    """WSGI application: control API, naming/counting/faults, our modules, then moto."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        moto_app: WsgiApp | None = None,
        latency_ms: int = 0,
        faults: list[dict[str, Any]] | None = None,
    ) -> None:
        self.state = state
        self.moto_app = moto_app or make_moto_app()
        self.latency_ms = latency_ms
        self.local_config: dict[str, Any] = {}
        self.identity_modules = identity_modules()
        self.grants = access_grants.AccessGrants(state)
        self.enforcement = s3_enforcement.S3Enforcement(state, self.forward)
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._control_plane_calls = 0
        self._faults: dict[str, Fault] = {}
        for fault in faults or []:
            self.set_fault(fault)

    # -- faults and stats --
    def set_fault(self, spec: dict[str, Any]) -> None:
        operation = spec.get("operation")
        if not isinstance(operation, str) or not operation:
            raise ValueError("a fault needs an 'operation' name")
        fault = Fault(
            throttle=int(spec.get("throttle", 0)),
            server_error=int(spec.get("serverError", spec.get("server_error", 0))),
            latency_ms=int(spec.get("latencyMs", spec.get("latency_ms", 0))),
        )
        if min(fault.throttle, fault.server_error, fault.latency_ms) < 0:
            raise ValueError("fault counts and latency must not be negative")
        with self._lock:
            self._faults[operation] = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": dict(self._calls), "controlPlaneCalls": self._control_plane_calls}

    def reset_stats(self) -> None:
        with self._lock:
            self._calls.clear()
            self._control_plane_calls = 0

    def _record_and_pick_fault(self, operation: Operation) -> tuple[str | None, int]:
        """Count the call; return the fault to inject now ('throttle' | 'server_error' | None) and latency."""
        with self._lock:
            self._calls[operation.name] += 1
            if operation.is_control_plane:
                self._control_plane_calls += 1
            latency = self.latency_ms if operation.is_control_plane else 0
            fault = self._faults.get(operation.name)
            if fault is None:
                return None, latency
            latency += fault.latency_ms
            if fault.throttle > 0:
                fault.throttle -= 1
                return "throttle", latency
            if fault.server_error > 0:
                fault.server_error -= 1
                return "server_error", latency
            return None, latency

    # -- moto --
    def forward(self, request: Request) -> Response:
        """Pass a request (whose body may already have been read) on to moto."""
        body = request.get_data(cache=True)
        environ = dict(request.environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return Response.from_app(self.moto_app, environ)

    # -- control API --
    def _control(self, request: Request) -> Response:
        path, method = request.path, request.method
        try:
            payload = request.get_json(silent=True) or {} if method == "POST" else {}
            if path == "/_local/config" and method == "GET":
                return _json(self.local_config)
            if path == "/_local/health" and method == "GET":
                return _json({"status": "ok", "ready": bool(self.local_config)})
            if path == "/_local/stats" and method == "GET":
                return _json(self.stats())
            if path == "/_local/stats/reset" and method == "POST":
                self.reset_stats()
                return _json(self.stats())
            if path == "/_local/faults" and method == "POST":
                for spec in payload if isinstance(payload, list) else [payload]:
                    self.set_fault(spec)
                return _json({"faults": self._fault_list()})
            if path == "/_local/faults" and method == "GET":
                return _json({"faults": self._fault_list()})
            if path == "/_local/faults" and method == "DELETE":
                self.clear_faults()
                return _json({"faults": []})
            if path == "/_local/clock" and method == "POST":
                with self.state.lock:
                    if payload.get("reset"):
                        self.state.clock_offset = timedelta()
                    else:
                        self.state.clock_offset += timedelta(seconds=float(payload["advanceSeconds"]))
                    offset = self.state.clock_offset.total_seconds()
                return _json({"offsetSeconds": offset, "now": self.state.now().isoformat()})
            if path == "/_local/cloudtrail" and method == "GET":
                with self.state.lock:
                    return _json({"events": list(self.state.cloudtrail)})
            if path == "/_local/identity-contexts/expire" and method == "POST":
                with self.state.lock:
                    for context in self.state.identity_contexts.values():
                        context.expiration = self.state.now() - timedelta(seconds=1)
                    count = len(self.state.identity_contexts)
                return _json({"expired": count})
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            return _json({"error": f"bad control request: {error}"}, status=400)
        return _json({"error": f"no control route {method} {path}"}, status=404)

    def _fault_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "operation": name,
                    "throttle": f.throttle,
                    "serverError": f.server_error,
                    "latencyMs": f.latency_ms,
                }
                for name, f in self._faults.items()
            ]

    # -- dispatch --
    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_local/"):
            return self._control(request)
        operation = identify(request)
        fault, latency_ms = self._record_and_pick_fault(operation)
        if latency_ms:
            time.sleep(latency_ms / 1000)
        if fault == "throttle":
            return throttling_error(operation)
        if fault == "server_error":
            return server_error(operation)
        if operation.protocol == S3:
            return self.enforcement.handle(request)
        for module in self.identity_modules:
            response = module.handle(request, self.state, self.forward)
            if response is not None:
                return response
        return self.grants.handle(request) or self.forward(request)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception:  # an emulator bug must answer like AWS's 500, not kill the connection
            logger.exception("emulator error on %s %s", request.method, request.path)
            response = server_error(identify(request))
        return response(environ, start_response)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")
