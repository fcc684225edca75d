"""GET /v1/me (who the service thinks the caller is) and GET /v1/grants (the caller's grants)."""

from __future__ import annotations

from typing import Any

import composition.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from composition.root import environment
from edge.http import build_lambda_handler, create_resolver
from edge.requests.identity import parse_grants_query, parse_role_query

app = create_resolver()


@app.get("/v1/me")
def me() -> dict[str, Any]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    role = parse_role_query(app.current_event.query_string_parameters or {})
    return env.service.describe(caller, role=role)


@app.get("/v1/grants")
def grants() -> dict[str, Any]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    query = parse_grants_query(app.current_event.query_string_parameters or {}, env.config)
    return env.service.list_grants(caller, query)


lambda_handler = build_lambda_handler(app)
