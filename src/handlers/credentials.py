"""POST /v1/credentials: S3 credentials scoped by S3 Access Grants (JSON, or `?format=credential_process`)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

import composition.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from composition.root import environment
from edge import responses
from edge.http import build_lambda_handler, create_resolver, json_body
from edge.requests.credentials import parse_credential_request, parse_credentials_format

app = create_resolver()


@app.post("/v1/credentials")
def credentials() -> Response[str]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    output = parse_credentials_format(app.current_event.query_string_parameters or {})
    result = env.service.vend(caller, parse_credential_request(json_body(app), env.config))
    if output == "credential_process":
        return responses.json_answer(responses.credential_process(result))
    return responses.json_answer(responses.credentials(result))


lambda_handler = build_lambda_handler(app)
