"""GET /v1/me (who the service thinks the caller is) and GET /v1/grants (the caller's grants)."""

from __future__ import annotations

from typing import Any

import lib.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from lib.auth import authenticate
from lib.config import load_config
from lib.errors import InvalidRequest
from lib.http import build_lambda_handler, create_resolver, query_fields
from lib.targets import MAX_TARGET_CHARS, parse_prefix
from lib.vending import MAX_GRANTS_PAGE, MAX_NEXT_TOKEN_CHARS, describe_caller, list_caller_grants

app = create_resolver()


@app.get("/v1/me")
def me() -> dict[str, Any]:
    config = load_config()
    caller = authenticate(app.current_event.headers, config)
    query = query_fields(app, "role")
    role = query.string("role", max_length=2048)
    return describe_caller(caller, role=role)


@app.get("/v1/grants")
def grants() -> dict[str, Any]:
    config = load_config()
    caller = authenticate(app.current_event.headers, config)
    query = query_fields(app, "scope", "nextToken", "maxResults", "role")
    scope = query.string("scope", max_length=MAX_TARGET_CHARS)
    next_token = query.string("nextToken", max_length=MAX_NEXT_TOKEN_CHARS)
    max_results = query.string("maxResults", max_length=4)
    role = query.string("role", max_length=2048)
    return list_caller_grants(
        caller,
        scope=parse_prefix(scope, config.allowed_buckets) if scope is not None else None,
        next_token=next_token,
        max_results=_page_size(max_results),
        role=role,
    )


def _page_size(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_GRANTS_PAGE:
        raise InvalidRequest(f"query parameter maxResults must be an integer from 1 to {MAX_GRANTS_PAGE}")
    return int(value)


lambda_handler = build_lambda_handler(app)
