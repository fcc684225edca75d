"""The emulator's WSGI application: moto's server app behind our middleware.

Every request is named (the AWS operation it is), counted and exposed to fault injection, then offered to
the emulated services that moto lacks, each a `Plugin` (STS, sso-oidc, sso-admin, identitystore answers,
S3 Access Grants; S3 itself is always ours first: it authorizes, then moto stores). Whatever no plugin
answers goes to moto unchanged. The `/_local/*` control API (config, stats, faults, clock, CloudTrail,
Lambda execution role credentials) is answered here.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from moto.core.request import Request
from werkzeug.wrappers import Response

from local.aws_emulator import control
from local.aws_emulator.core import wire
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.core.plugin import Plugin
from local.aws_emulator.core.state import DATA_ACCOUNT_ID, HOME_REGION, IDENTITY_CENTER_ACCOUNT_ID, Clock
from local.aws_emulator.s3.responses import S3Responses
from local.aws_emulator.s3control.data_access import DataAccess
from local.aws_emulator.s3control.models import AccessGrantsBackend
from local.aws_emulator.s3control.responses import AccessGrantsResponses
from local.aws_emulator.sso_admin.models import IdentityCenterBackend
from local.aws_emulator.sso_admin.responses import (
    IdentityStoreAnswers,
    OtherAccountsIdentityCenter,
    SsoAdminResponses,
)
from local.aws_emulator.sso_oidc.models import TokenExchange
from local.aws_emulator.sso_oidc.responses import SsoOidcResponses
from local.aws_emulator.sts.models import StsBackend
from local.aws_emulator.sts.responses import StsResponses

logger = logging.getLogger("local.aws_emulator")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# The model each wire shape's errors are written with (json 1.1 services all write them alike).
JSON_SERVICES = {
    "SWBExternalService": "sso-admin",
    "AWSIdentityStore": "identitystore",
    "DynamoDB_20120810": "dynamodb",
    "TrentService": "kms",
    "secretsmanager": "secretsmanager",
}
# The service's own stores (the shared cache table and its key): not the control plane the caches spare,
# so neither counted as such nor slowed by the control plane's latency (faults can slow them on their own).
DATA_STORES = frozenset({"s3", "dynamodb", "kms"})
SSO_OIDC_PATHS = {"/client/register": "RegisterClient", "/device_authorization": "StartDeviceAuthorization"}
THROTTLING = {  # codes boto3's standard retry mode treats as throttling, with the status each service uses
    "s3": ("SlowDown", 503),
    "s3control": ("TooManyRequestsException", 429),
    "sso-oidc": ("TooManyRequestsException", 429),
    "sts": ("Throttling", 400),
    "dynamodb": ("ThrottlingException", 400),
    "kms": ("ThrottlingException", 400),
}
SERVER_ERRORS = {
    "s3": "InternalError",
    "s3control": "InternalError",
    "sso-oidc": "InternalServerException",
    "dynamodb": "InternalServerError",
    "kms": "KMSInternalException",
}


@dataclass
class Fault:
    throttle: int = 0  # the next N calls are throttled
    server_error: int = 0  # then the next N calls fail with a 5xx
    latency_ms: int = 0  # added to every call of the operation
    error: int = 0  # then the next N calls answer `error_code` (any error the service could answer)
    error_code: str = ""
    error_status: int = 400

    def as_json(self, operation: str) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "operation": operation,
            "throttle": self.throttle,
            "serverError": self.server_error,
            "latencyMs": self.latency_ms,
        }
        if self.error_code:
            answer["error"] = {"code": self.error_code, "status": self.error_status, "count": self.error}
        return answer


@dataclass(frozen=True)
class Operation:
    service: str  # the botocore model whose wire shape the request has
    name: str

    @property
    def is_control_plane(self) -> bool:
        return self.service not in DATA_STORES


def make_moto_app() -> WsgiApp:
    from moto.iam import policy_validation
    from moto.iam.access_control import PermissionResult
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.s3.models import FakeBucket

    # IAM accepts regional S3 resources such as the Access Grants instance
    # (arn:aws:s3:<region>:<account>:access-grants/default); moto 5.2's validator knows only access points.
    regional_s3 = policy_validation.SERVICE_TYPE_REGION_INFORMATION_ERROR_ASSOCIATIONS["s3"]
    if "access-grants/" not in regional_s3["valid_starting_values"]:
        regional_s3["valid_starting_values"].append("access-grants/")
    # Bucket policies are evaluated by the emulator's S3 before moto sees the request, with the one policy
    # evaluator; moto's own partial evaluation would judge them a second time, differently.
    FakeBucket.get_permission = lambda self, action, resource: PermissionResult.NEUTRAL  # type: ignore[method-assign]
    return DomainDispatcherApplication(create_backend_app)


def identify(request: Request) -> Operation:
    """Name the AWS operation a request performs, from its wire shape alone."""
    path = request.path
    if path.startswith("/v20180820/"):
        routed = wire.route("s3control", request)
        return Operation("s3control", routed[0].name if routed else f"S3Control{request.method.title()}")
    target = request.headers.get("X-Amz-Target")
    if target:
        prefix, _, name = target.rpartition(".")
        return Operation(JSON_SERVICES.get(prefix, "sso-admin"), name)
    if request.method == "POST" and (request.content_type or "").startswith(
        "application/x-www-form-urlencoded"
    ):
        action = request.values.get("Action")
        if action:
            return Operation("sts", action)
    if request.args.get("Action"):
        return Operation("sts", request.args["Action"])
    if path == "/token" and request.method == "POST":
        return Operation("sso-oidc", "CreateTokenWithIAM" if "aws_iam" in request.args else "CreateToken")
    if path in SSO_OIDC_PATHS and request.method == "POST":
        return Operation("sso-oidc", SSO_OIDC_PATHS[path])
    if request.method == "OPTIONS":
        return Operation("s3", "PreflightRequest")
    routed = wire.route("s3", request)
    return Operation("s3", routed[0].name if routed else f"S3{request.method.title()}")


def fault_response(operation: Operation, kind: str, fault: Fault | None = None) -> Response:
    if kind == "error" and fault is not None:
        error = EmulatorError(fault.error_code, "injected by /_local/faults", status=fault.error_status)
    elif kind == "throttle":
        code, status = THROTTLING.get(operation.service, ("ThrottlingException", 400))
        error = EmulatorError(code, "Rate exceeded", status=status)
    else:
        error = EmulatorError(
            SERVER_ERRORS.get(operation.service, "InternalFailure"), "An internal error occurred.", status=500
        )
    return wire.error_response(operation.service, operation.name, error)


class EmulatorApp:
    """WSGI application: control API, naming/counting/faults, the plugins, then moto."""

    def __init__(
        self,
        *,
        account_id: str = DATA_ACCOUNT_ID,
        identity_center_account_id: str = IDENTITY_CENTER_ACCOUNT_ID,
        region: str = HOME_REGION,
        moto_app: WsgiApp | None = None,
        latency_ms: int = 0,
        faults: list[dict[str, Any]] | None = None,
    ) -> None:
        self.account_id, self.region = account_id, region
        self.clock = Clock()
        self.moto_app = moto_app or make_moto_app()
        self.identity_center = IdentityCenterBackend(identity_center_account_id, region, self.clock)
        self.tokens = TokenExchange(self.identity_center, self.clock)
        self.sts = StsBackend(account_id, self.clock, self.tokens)
        self.access_grants = AccessGrantsBackend(self.clock, identity_center_account_id)
        self.data_access = DataAccess(self.sts, self.identity_center)
        self.s3 = S3Responses(self.sts, self.forward, region)
        self.plugins: list[Plugin] = [  # the busiest first; each claims only requests of its own shape
            AccessGrantsResponses(self.access_grants, self.data_access, self.sts),
            StsResponses(self.sts),
            SsoOidcResponses(self.tokens, self.sts),
            OtherAccountsIdentityCenter(self.identity_center, self.sts),
            SsoAdminResponses(self.identity_center),
            IdentityStoreAnswers(self.forward),
        ]
        self.latency_ms = latency_ms
        self.local_config: dict[str, Any] = {}
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
        error = spec.get("error") or {}
        fault = Fault(
            throttle=int(spec.get("throttle", 0)),
            server_error=int(spec.get("serverError", spec.get("server_error", 0))),
            latency_ms=int(spec.get("latencyMs", spec.get("latency_ms", 0))),
            error=int(error.get("count", 1)) if error else 0,
            error_code=str(error.get("code", "")),
            error_status=int(error.get("status", 400)),
        )
        if error and not fault.error_code:
            raise ValueError("an error fault needs a 'code'")
        if min(fault.throttle, fault.server_error, fault.latency_ms, fault.error) < 0:
            raise ValueError("fault counts and latency must not be negative")
        with self._lock:
            self._faults[operation] = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_json(name) for name, fault in self._faults.items()]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": dict(self._calls), "controlPlaneCalls": self._control_plane_calls}

    def reset_stats(self) -> None:
        with self._lock:
            self._calls.clear()
            self._control_plane_calls = 0

    def _record_and_pick_fault(self, operation: Operation) -> tuple[str | None, int]:
        """Count the call; return the fault to inject now ('throttle' | 'server_error' | 'error' | None)
        and the latency to add."""
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
            if fault.error > 0:
                fault.error -= 1
                return "error", latency
            return None, latency

    # -- moto --
    def forward(self, request: Request, **environ_changes: str) -> Response:
        """Pass a request (whose body has been read) on to moto, in the account its keys act in, with any
        WSGI environ entries changed."""
        body = request.get_data(cache=True, parse_form_data=False)
        environ = dict(
            request.environ, HTTP_X_MOTO_ACCOUNT_ID=self.sts.account_of(request), **environ_changes
        )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return Response.from_app(self.moto_app, environ)

    # -- control API --
    def _control(self, request: Request) -> Response:
        return control.answer(self, request)

    # -- dispatch --
    def handle(self, request: Request) -> Response:
        request.get_data(cache=True)  # first: nothing may parse a form out of a body moto must still see
        if request.path.startswith("/_local/"):
            return self._control(request)
        operation = identify(request)
        fault, latency_ms = self._record_and_pick_fault(operation)
        if latency_ms:
            time.sleep(latency_ms / 1000)
        if fault is not None:
            return fault_response(operation, fault, self._faults.get(operation.name))
        if operation.service == "s3":
            return self.s3.handle(request)
        for plugin in self.plugins:
            response = plugin.handle(request)
            if response is not None:
                return response
        return self.forward(request)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception:  # an emulator bug must answer like AWS's 500, not kill the connection
            logger.exception("emulator error on %s %s", request.method, request.path)
            response = fault_response(identify(request), "server_error")
        return response(environ, start_response)
