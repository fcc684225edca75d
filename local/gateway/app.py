"""The gateway's WSGI application: API Gateway HTTP API behaviour in front of the functions.

Per request, in API Gateway's order: request id → payload limit → CORS preflight (`local.gateway.cors`) →
route match → JWT authorizer → HTTP API v2 event → Lambda invocation (an execution environment of the
function's pool, `local.gateway.environments`) → response mapping → CORS headers.
The demo page (`local.gateway.demo_page`) is served beside the API, as a deployment would from a CDN. The
gateway's own answers use API Gateway's bodies (`{"message":"Not Found"}`, `"Unauthorized"`,
`"Request Entity Too Large"`, `"Internal Server Error"`, `"Service Unavailable"`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request, Response

from local.apigw_events import build_http_api_event
from local.gateway.authorizer import Authorized, JwtAuthorizerEmulator, Refusal
from local.gateway.cors import is_preflight, preflight, with_cors
from local.gateway.demo_page import DemoPage
from local.gateway.environments import FunctionPool
from local.gateway.runtime import FUNCTION_TIMEOUT, INTEGRATION_TIMEOUT, Invocation
from local.gateway.template import HttpApi, Route
from local.loopback_http import MalformedBody

# API Gateway HTTP API quotas: 10 MB request payload; Lambda's synchronous invocation payload is 6 MB.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
MAX_LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
# Bodies above the limit are read and discarded up to this size so the client sees the 413 instead of a
# reset connection; beyond it the connection is closed.
MAX_DRAIN_BYTES = 64 * 1024 * 1024

access_log = logging.getLogger("local.gateway")


def _gateway_answer(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(
        json.dumps({"message": message}, separators=(",", ":")), status=status, mimetype="application/json"
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def new_request_id() -> str:
    """API Gateway's request id shape: 16 characters of base64, e.g. `Mc7UVioPPHcEKPA=`."""
    return base64.b64encode(os.urandom(11)).decode("ascii")


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str] | None  # None for $default
    parameters: tuple[str, ...]
    specificity: tuple[int, int, int]  # lower is more specific

    def match(self, path: str) -> dict[str, str] | None:
        if self.pattern is None:
            return {}
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: found.group(f"p{index}") for index, name in enumerate(self.parameters)}


def _compile(route: Route) -> _CompiledRoute:
    if route.path == "$default":
        return _CompiledRoute(route, None, (), (9, 9, 0))
    pieces: list[str] = []
    parameters: list[str] = []
    greedy = 0
    for segment in route.path.strip("/").split("/") if route.path != "/" else []:
        variable = re.fullmatch(r"\{([A-Za-z0-9_.-]+)(\+?)\}", segment)
        if variable is None:
            pieces.append("/" + re.escape(segment))
            continue
        group = f"p{len(parameters)}"
        parameters.append(variable.group(1))
        if variable.group(2):
            greedy += 1
            pieces.append(f"/(?P<{group}>.+)")
        else:
            pieces.append(f"/(?P<{group}>[^/]+)")
    pattern = re.compile("".join(pieces) or "/")
    literal_length = len(re.sub(r"\{[^}]*\}", "", route.path))
    return _CompiledRoute(route, pattern, tuple(parameters), (greedy, len(parameters), -literal_length))


class RouteTable:
    """HTTP API route selection: the most specific path wins (literal segments over `{param}` over
    `{proxy+}`, then `$default`), and for one path an exact method wins over `ANY`."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = sorted((_compile(route) for route in routes), key=lambda c: c.specificity)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        by_any: tuple[Route, dict[str, str]] | None = None
        for compiled in self._routes:
            parameters = compiled.match(path)
            if parameters is None:
                continue
            if compiled.route.method == method:
                return compiled.route, parameters
            if compiled.route.method == "ANY" and by_any is None:
                by_any = (compiled.route, parameters)
        return by_any


class Gateway:
    """A WSGI app serving one HttpApi; `pools` holds each function's execution environments."""

    def __init__(
        self,
        api: HttpApi,
        pools: Mapping[str, FunctionPool],
        *,
        demo_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.api = api
        self._routes = RouteTable(api.routes)
        self._pools = pools
        self._authorizers = {
            route.authorizer.name: JwtAuthorizerEmulator(route.authorizer)
            for route in api.routes
            if route.authorizer is not None
        }
        self._demo_page = DemoPage(demo_config) if demo_config is not None else None

    def close(self) -> None:
        """End every function's execution environments."""
        for pool in self._pools.values():
            pool.close()

    # -- WSGI --
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.monotonic()
        request = Request(environ)
        request.max_content_length = MAX_PAYLOAD_BYTES
        request_id = new_request_id()
        try:
            response = self._handle(request, request_id)
        except Exception:  # noqa: BLE001 - a gateway bug must still answer like API Gateway, without details
            access_log.exception("gateway failure on %s %s (%s)", request.method, request.path, request_id)
            response = _gateway_answer(500, "Internal Server Error")
        response.headers["apigw-requestid"] = request_id
        # "401 Unauthorized" as HTTP defines the reason phrase (werkzeug would send "401 UNAUTHORIZED").
        response.status = f"{response.status_code} {HTTP_STATUS_CODES.get(response.status_code, 'Unknown')}"
        access_log.info(
            "%s %s %s %.1fms %s",
            request.method,
            request.path,  # never the query string: it may carry presigned URL parameters
            response.status_code,
            (time.monotonic() - started) * 1000,
            request_id,
        )
        return response(environ, start_response)

    def _handle(self, request: Request, request_id: str) -> Response:
        cors = self.api.cors
        if cors is not None and is_preflight(request):
            return preflight(cors, request)
        demo = self._demo_page.answer(request) if self._demo_page is not None else None
        if demo is not None:
            return demo
        try:
            body = self._read_body(request)
        except MalformedBody:
            # A body whose framing breaks while it is read (chunks, a short Content-Length): the client's.
            return with_cors(cors, request, _gateway_answer(400, "Bad Request"))
        if body is None:
            return with_cors(cors, request, _gateway_answer(413, "Request Entity Too Large"))
        matched = self._routes.match(request.method, request.path)
        if matched is None:
            return with_cors(cors, request, _gateway_answer(404, "Not Found"))
        route, path_parameters = matched
        claims: dict[str, Any] | None = None
        scopes: tuple[str, ...] = ()
        if route.authorizer is not None:
            decision = self._authorizers[route.authorizer.name].authorize(
                {name.lower(): value for name, value in request.headers.items()},
                request.args.to_dict(),
                route.authorization_scopes,
            )
            if isinstance(decision, Refusal):
                return with_cors(
                    cors,
                    request,
                    _gateway_answer(
                        decision.status, decision.message, {"www-authenticate": decision.challenge}
                    ),
                )
            assert isinstance(decision, Authorized)
            claims, scopes = decision.claims, decision.scopes
        event = self._event(request, body, route, path_parameters, claims, scopes, request_id)
        if len(json.dumps(event)) > MAX_LAMBDA_PAYLOAD_BYTES:
            return with_cors(cors, request, _gateway_answer(413, "Request Entity Too Large"))
        invocation = self._pools[route.function.logical_id].invoke(
            event, integration_timeout_seconds=route.integration_timeout_seconds
        )
        return with_cors(cors, request, _lambda_response(route, invocation))

    def _read_body(self, request: Request) -> bytes | None:
        """The request body, or None when it exceeds API Gateway's payload limit."""
        try:
            return request.get_data(cache=True)
        except RequestEntityTooLarge:
            stream = request.environ["wsgi.input"]
            remaining = min(request.content_length or 0, MAX_DRAIN_BYTES)
            while remaining > 0:
                chunk = stream.read(min(remaining, 1024 * 1024))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None

    def _event(
        self,
        request: Request,
        body: bytes,
        route: Route,
        path_parameters: dict[str, str],
        claims: dict[str, Any] | None,
        scopes: tuple[str, ...],
        request_id: str,
    ) -> dict[str, Any]:
        query: dict[str, str] = {}
        for name, value in parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value  # HTTP API joins repeats
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            lowered = name.lower()
            headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
        event = build_http_api_event(
            request.method,
            request.path,
            headers=headers,
            query=query or None,
            body=body if body else None,
            claims=claims,
            route_key=route.route_key,
            request_id=request_id,
            source_ip=request.remote_addr or "127.0.0.1",
        )
        event["rawQueryString"] = request.query_string.decode("latin-1")
        if path_parameters:
            event["pathParameters"] = path_parameters
        if claims is not None:
            event["requestContext"]["authorizer"]["jwt"]["scopes"] = list(scopes) or None
        return event


def _lambda_response(route: Route, invocation: Invocation) -> Response:
    if invocation.timed_out == INTEGRATION_TIMEOUT:
        # HTTP API stops waiting after the integration timeout (at most 30 s) and answers 503.
        access_log.warning(
            "%s: no response within the integration timeout (%.1fs)",
            route.function.logical_id,
            route.integration_timeout_seconds,
        )
        return _gateway_answer(503, "Service Unavailable")
    if invocation.timed_out == FUNCTION_TIMEOUT:
        # Lambda ends the invocation with "Task timed out", a function error: HTTP API answers 500.
        access_log.warning(
            "%s: Task timed out after %.2f seconds", route.function.logical_id, route.function.timeout_seconds
        )
        return _gateway_answer(500, "Internal Server Error")
    if invocation.error is not None:
        access_log.error(
            "%s raised %s (request %s)",
            route.function.logical_id,
            type(invocation.error).__name__,
            invocation.aws_request_id,
            exc_info=invocation.error,
        )
        return _gateway_answer(500, "Internal Server Error")
    try:
        return _from_payload_v2(invocation.result)
    except (TypeError, ValueError) as exc:
        access_log.error("%s returned a malformed response: %s", route.function.logical_id, exc)
        return _gateway_answer(500, "Internal Server Error")


def _from_payload_v2(result: Any) -> Response:
    """Payload format 2.0: a dict with statusCode is a response; anything else is a 200 JSON body."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return Response(json.dumps(result), status=200, mimetype="application/json")
    status = result["statusCode"]
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"statusCode {status!r} is not an HTTP status")
    body = result.get("body") or ""
    if not isinstance(body, str):
        raise TypeError("body must be a string")
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    if len(payload) > MAX_LAMBDA_PAYLOAD_BYTES:
        raise ValueError("the response exceeds Lambda's 6 MB payload limit")
    response = Response(payload, status=status)
    response.headers.remove("Content-Type")
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for cookie in result.get("cookies") or ():
        response.headers.add("Set-Cookie", cookie)
    return response
