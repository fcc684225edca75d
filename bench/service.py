"""The service under measurement: handlers invoked in-process the way the local gateway invokes them.

Each benchmark pass runs in a fresh execution environment: the service's modules (`lib.*`,
`handlers.*`) are dropped from `sys.modules` and imported again with the pass's environment, so
configuration, AWS clients, JWKS keys and every cache start empty, exactly as in a new Lambda
container. Third-party libraries (boto3, Powertools, pyjwt) stay imported: warm workloads measure
request handling, cold starts are measured separately in fresh processes (`bench.cold_start`).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from local.apigw_events import build_http_api_event
from local.gateway.server import execution_role_credentials
from local.lambda_context import LambdaContext

# handler module -> function logical id, and route -> handler module, as in template.yaml
HANDLERS: dict[str, str] = {
    "handlers.health": "HealthFunction",
    "handlers.identity": "IdentityFunction",
    "handlers.credentials": "CredentialsFunction",
    "handlers.presign": "PresignFunction",
    "handlers.objects": "ObjectsFunction",
    "handlers.uploads": "UploadsFunction",
}
ROUTE_HANDLERS: dict[str, str] = {
    "GET /v1/health": "handlers.health",
    "GET /v1/me": "handlers.identity",
    "GET /v1/grants": "handlers.identity",
    "POST /v1/credentials": "handlers.credentials",
    "POST /v1/presign": "handlers.presign",
    "GET /v1/objects": "handlers.objects",
    "POST /v1/uploads": "handlers.uploads",
    "POST /v1/uploads/parts": "handlers.uploads",
    "POST /v1/uploads/complete": "handlers.uploads",
    "POST /v1/uploads/abort": "handlers.uploads",
}
FUNCTION_TIMEOUT_SECONDS = 29.0
FUNCTION_MEMORY_MB = 512


def service_environment(
    stack_config: Mapping[str, Any], *, cache_enabled: bool, **extra: str
) -> dict[str, str]:
    """The Lambda environment for identity-center mode, built from the emulator's /_local/config (as `make
    deploy` would fill it: the buckets' Regions and Identity Center's); `extra` adds or overrides."""
    return {
        "IDENTITY_MODE": "identity-center",
        "JWT_ISSUER": stack_config["issuer"],
        "JWT_AUDIENCE": stack_config["audience"],
        "IDC_APPLICATION_ARN": stack_config["applicationArn"],
        "IDENTITY_BEARER_ROLE_ARN": stack_config["identityBearerRoleArn"],
        "ACCESS_GRANTS_ACCOUNT_ID": stack_config["accountId"],
        "CACHE_ENABLED": "true" if cache_enabled else "false",
        "AWS_ENDPOINT_URL": stack_config["endpoint"],
        "AWS_REGION": stack_config["region"],
        "AWS_DEFAULT_REGION": stack_config["region"],
        "IDC_REGION": stack_config["region"],
        "BUCKET_REGIONS": json.dumps(stack_config.get("bucketRegions") or {}),
        "UPLOAD_BINDING_SECRET": stack_config["uploadBindingSecret"],
        "POWERTOOLS_SERVICE_NAME": "shopfast-vending",
        "POWERTOOLS_METRICS_NAMESPACE": "ShopFastVending",
        # No X-Ray daemon here; tracing would only add failed UDP sends that Lambda does not pay.
        "POWERTOOLS_TRACE_DISABLED": "true",
        **_execution_role(stack_config),
        **extra,
    }


def _execution_role(stack_config: Mapping[str, Any]) -> dict[str, str]:
    """The execution role's session, as Lambda hands it to the function (the role trusts Lambda only)."""
    credentials = execution_role_credentials(
        stack_config["endpoint"], stack_config["clientApplicationRoleArn"]
    )
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


@dataclass(frozen=True)
class Request:
    """One API request of a workload, before it becomes an event."""

    route: str  # "POST /v1/credentials"
    user: str  # demo user email
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None


@dataclass(frozen=True)
class PreparedRequest:
    handler_module: str
    event: dict[str, Any]


def prepare(request: Request, tokens: Mapping[str, str]) -> PreparedRequest:
    """The event API Gateway would send after its JWT authorizer accepted the token."""
    token = tokens[request.user]
    method, path = request.route.split(" ", 1)
    headers = {"authorization": f"Bearer {token}"}
    if request.body is not None:
        headers["content-type"] = "application/json"
    event = build_http_api_event(
        method,
        path,
        headers=headers,
        query=request.query,
        body=json.dumps(request.body) if request.body is not None else None,
        claims=jwt.decode(token, options={"verify_signature": False}),
        route_key=request.route,
    )
    return PreparedRequest(ROUTE_HANDLERS[request.route], event)


class ExecutionEnvironment:
    """One warm Lambda execution environment per handler module, sharing one process."""

    # What the previous environment set: a new one starts without it (a pass's overrides, such as the reuse
    # bound's CACHE_MAX_AGE_SECONDS, must not leak into the next pass).
    _installed: frozenset[str] = frozenset()

    def __init__(self, environment: Mapping[str, str]) -> None:
        for name in ExecutionEnvironment._installed - set(environment):
            os.environ.pop(name, None)
        os.environ.update(environment)
        ExecutionEnvironment._installed = frozenset(environment)
        for name in [name for name in sys.modules if _is_service_module(name)]:
            del sys.modules[name]
        importlib.invalidate_caches()
        self._handlers: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {}

    def bind(self, prepared: PreparedRequest) -> Callable[[], Callable[[], dict[str, Any]]]:
        """A factory of the invocation: call it right before timing (the Lambda context's deadline
        starts when it is built), then time the zero-argument call it returns."""
        module = prepared.handler_module
        if module not in self._handlers:  # imported here, before any timing starts
            self._handlers[module] = importlib.import_module(module).lambda_handler
        handler = self._handlers[module]

        def invocation() -> Callable[[], dict[str, Any]]:
            context = LambdaContext(
                HANDLERS[module], timeout_seconds=FUNCTION_TIMEOUT_SECONDS, memory_mb=FUNCTION_MEMORY_MB
            )
            return lambda: handler(prepared.event, context)

        return invocation


def _is_service_module(name: str) -> bool:
    return name in {"lib", "handlers"} or name.startswith(("lib.", "handlers."))
