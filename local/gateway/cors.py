"""CORS as HTTP API's CorsConfiguration does it: API Gateway answers preflight itself, and with a
configuration it replaces the integration's CORS headers with its own."""

from __future__ import annotations

import re

from werkzeug.wrappers import Request, Response

from local.gateway.template import CorsConfiguration


def is_preflight(request: Request) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def _allowed_origin(cors: CorsConfiguration, origin: str | None) -> str | None:
    if not origin:
        return None
    for allowed in cors.allow_origins:
        if allowed == "*":
            return "*"
        if allowed.lower() == origin.lower():
            return origin
        if "*" in allowed:  # https://*.example.com
            pattern = re.escape(allowed.lower()).replace(r"\*", r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
            if re.fullmatch(pattern, origin.lower()):
                return origin
    return None


def preflight(cors: CorsConfiguration, request: Request) -> Response:
    """API Gateway answers preflight itself (no route or Lambda involved): 204, with CORS headers only
    when origin, method and headers are all allowed."""
    response = Response(status=204)
    response.headers.remove("Content-Type")
    origin = _allowed_origin(cors, request.headers.get("Origin"))
    method = request.headers.get("Access-Control-Request-Method", "").upper()
    requested_headers = [
        h.strip().lower()
        for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
        if h.strip()
    ]
    allowed_headers = {h.lower() for h in cors.allow_headers}
    method_ok = "*" in cors.allow_methods or method in cors.allow_methods
    headers_ok = "*" in allowed_headers or all(h in allowed_headers for h in requested_headers)
    if origin is None or not method_ok or not headers_ok:
        return response
    response.headers["access-control-allow-origin"] = origin
    response.headers["access-control-allow-methods"] = (
        method if "*" in cors.allow_methods else ",".join(cors.allow_methods)
    )
    if requested_headers:
        response.headers["access-control-allow-headers"] = (
            ",".join(requested_headers) if "*" in allowed_headers else ",".join(cors.allow_headers)
        )
    if cors.max_age is not None:
        response.headers["access-control-max-age"] = str(cors.max_age)
    if cors.allow_credentials:
        response.headers["access-control-allow-credentials"] = "true"
    if origin != "*":
        response.headers["vary"] = "origin"
    return response


def with_cors(cors: CorsConfiguration | None, request: Request, response: Response) -> Response:
    """With a CorsConfiguration, API Gateway ignores the integration's CORS headers and sends its own."""
    if cors is None:
        return response
    for name in {name for name, _ in response.headers if name.lower().startswith("access-control-")}:
        del response.headers[name]
    origin = _allowed_origin(cors, request.headers.get("Origin"))
    if origin is None:
        return response
    response.headers["access-control-allow-origin"] = origin
    if cors.expose_headers:
        response.headers["access-control-expose-headers"] = ",".join(cors.expose_headers)
    if cors.allow_credentials:
        response.headers["access-control-allow-credentials"] = "true"
    if origin != "*":
        response.headers["vary"] = "origin"
    return response
