"""POST /v1/presign: presigned GET/PUT URLs for one object, or for up to 100 in one call."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

import composition.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from composition.root import environment
from edge import responses
from edge.http import build_lambda_handler, create_resolver, json_body, request_id_of
from edge.requests.decode import refuse_query
from edge.requests.presign import parse_batch, parse_presign_request

app = create_resolver()


@app.post("/v1/presign")
def presign() -> Response[str]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    refuse_query(app.current_event.query_string_parameters or {})
    body = json_body(app)
    presigner = env.presigner(caller)
    if "objects" not in body:
        return responses.json_answer(
            responses.presigned(presigner.presign(parse_presign_request(body, env.config)))
        )
    request_id = request_id_of(app.current_event.raw_event)
    results = presigner.presign_all(parse_batch(body, env.config))
    return responses.json_answer(responses.presign_batch(results, request_id))


lambda_handler = build_lambda_handler(app)
