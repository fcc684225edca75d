"""API Gateway HTTP API (payload format 2.0) events, built exactly as API Gateway sends them to Lambda."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

ACCOUNT_ID = "111111111111"
API_ID = "localapi01"


def build_http_api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: str | bytes | dict[str, Any] | list[Any] | None = None,
    claims: dict[str, Any] | None = None,
    route_key: str | None = None,
    request_id: str | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An HTTP API v2 event. `body` dicts/lists are JSON-encoded (and get a JSON content type); bytes that
    are not UTF-8 are base64-encoded as API Gateway does. `claims` appear under
    `requestContext.authorizer.jwt.claims` the way the JWT authorizer passes them (values as strings)."""
    method = method.upper()
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    encoded_body: str | None = None
    is_base64 = False
    if isinstance(body, dict | list):
        encoded_body = json.dumps(body)
        lowered.setdefault("content-type", "application/json")
    elif isinstance(body, bytes):
        try:
            encoded_body = body.decode("utf-8")
        except UnicodeDecodeError:
            encoded_body = base64.b64encode(body).decode("ascii")
            is_base64 = True
    elif isinstance(body, str):
        encoded_body = body
    if encoded_body is not None:
        lowered.setdefault("content-length", str(len(encoded_body.encode("utf-8"))))
    lowered.setdefault("host", f"{API_ID}.execute-api.us-east-1.amazonaws.com")
    lowered.setdefault("user-agent", "local-apigw")
    lowered.setdefault("x-forwarded-for", source_ip)
    lowered.setdefault("x-forwarded-proto", "https")
    lowered.setdefault("x-forwarded-port", "443")
    now = time.time()
    request_id = request_id or uuid.uuid4().hex[:16]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}, quote_via=quote),
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": lowered["host"],
            "domainPrefix": lowered["host"].split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered["user-agent"],
            },
            "requestId": request_id,
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    cookies = lowered.get("cookie")
    if cookies:
        event["cookies"] = [cookie.strip() for cookie in cookies.split(";")]
    if query:
        event["queryStringParameters"] = dict(query)
    if encoded_body is not None:
        event["body"] = encoded_body
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": authorizer_claims(claims), "scopes": None}}
    return event


def authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as the JWT authorizer hands them to the Lambda: every value flattened to a string."""
    return {key: _claim_value(value) for key, value in claims.items()}


def _claim_value(value: Any) -> str:
    # API Gateway flattens claims to strings; arrays become "[a b]", like the real JWT authorizer.
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
