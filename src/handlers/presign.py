"""POST /v1/presign: presigned GET/PUT URLs for one object, or for up to 100 in one call."""

from __future__ import annotations

from typing import Any

import composition.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from composition.root import environment
from domain.errors import ServiceError
from edge.http import build_lambda_handler, create_resolver, json_body, request_id_of
from edge.requests.decode import refuse_query
from edge.requests.presign import parse_batch, parse_presign_request

app = create_resolver()


@app.post("/v1/presign")
def presign() -> dict[str, Any]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    refuse_query(app.current_event.query_string_parameters or {})
    body = json_body(app)
    presigner = env.presigner(caller)
    if "objects" not in body:
        return presigner.presign(parse_presign_request(body, env.config)).to_json()
    request_id = request_id_of(app.current_event.raw_event)
    results = presigner.presign_all(parse_batch(body, env.config))
    return {
        "results": [
            result.problem(request_id) if isinstance(result, ServiceError) else result.to_json()
            for result in results
        ]
    }


lambda_handler = build_lambda_handler(app)
