"""The service under measurement: handlers invoked in-process the way the local gateway invokes them.

Each benchmark pass runs in a fresh execution environment: the service's modules (every package of
src/: `handlers.*`, `domain.*`...) are dropped from `sys.modules` and imported again with the pass's
environment, so configuration, AWS clients, JWKS keys and every cache start empty, exactly as in a new Lambda
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
from pathlib import Path
from typing import Any

import jwt

from local.apigw_events import build_http_api_event
from local.functions import routes
from local.functions import service_environment as functions_environment
from local.gateway.runtime import install_variables, lambda_context, load_handler
from local.gateway.template import Function

SRC = Path(__file__).resolve().parents[1] / "src"


def service_environment(
    stack_config: Mapping[str, Any], *, cache_enabled: bool, **extra: str
) -> dict[str, str]:
    """The functions' environment as template.yaml and the local stack give it (`local.functions`), with
    caching on or off; `extra` adds or overrides."""
    return functions_environment(stack_config) | {
        "CACHE_ENABLED": "true" if cache_enabled else "false",
        # No X-Ray daemon here; tracing would only add failed UDP sends that Lambda does not pay.
        "POWERTOOLS_TRACE_DISABLED": "true",
        **extra,
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
    function: Function
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
    return PreparedRequest(routes()[request.route], event)


class ExecutionEnvironment:
    """One warm Lambda execution environment per handler module, sharing one process."""

    # What the previous environment set: a new one starts without it (a pass's overrides, such as the reuse
    # bound's CACHE_MAX_AGE_SECONDS, must not leak into the next pass).
    _installed: frozenset[str] = frozenset()

    def __init__(self, environment: Mapping[str, str]) -> None:
        for name in ExecutionEnvironment._installed - set(environment):
            os.environ.pop(name, None)
        install_variables(environment)
        ExecutionEnvironment._installed = frozenset(environment)
        for name in [name for name in sys.modules if _is_service_module(name)]:
            del sys.modules[name]
        importlib.invalidate_caches()
        self._handlers: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {}

    def bind(self, prepared: PreparedRequest) -> Callable[[], Callable[[], dict[str, Any]]]:
        """A factory of the invocation: call it right before timing (the Lambda context's deadline
        starts when it is built), then time the zero-argument call it returns."""
        function = prepared.function
        if function.logical_id not in self._handlers:  # imported here, before any timing starts
            self._handlers[function.logical_id] = load_handler(function)
        handler = self._handlers[function.logical_id]

        def invocation() -> Callable[[], dict[str, Any]]:
            context = lambda_context(function)
            return lambda: handler(prepared.event, context)

        return invocation


# The service's top-level packages: every package directly under src/ (SAM's CodeUri).
SERVICE_PACKAGES = frozenset(path.parent.name for path in SRC.glob("*/__init__.py"))


def _is_service_module(name: str) -> bool:
    return name.partition(".")[0] in SERVICE_PACKAGES
