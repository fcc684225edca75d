"""GET /v1/me (who the service thinks the caller is) and GET /v1/grants (the caller's grants)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

import composition.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from composition.root import environment
from domain.describe import describe
from domain.grant_listing import list_grants
from edge import responses
from edge.http import build_lambda_handler, create_resolver
from edge.requests.identity import parse_grants_query, parse_role_query

app = create_resolver()


@app.get("/v1/me")
def me() -> Response[str]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    role = parse_role_query(app.current_event.query_string_parameters or {})
    return responses.json_answer(responses.me(describe(env.service, caller, role=role)))


@app.get("/v1/grants")
def grants() -> Response[str]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    query = parse_grants_query(app.current_event.query_string_parameters or {}, env.config)
    return responses.json_answer(responses.grants(list_grants(env.service, caller, query)))


lambda_handler = build_lambda_handler(app)
