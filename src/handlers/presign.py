"""POST /v1/presign: presigned GET/PUT URLs for one object, or for up to 100 in one call."""

from __future__ import annotations

from typing import Any

import lib.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from lib.auth import authenticate
from lib.config import load_config
from lib.errors import ServiceError
from lib.http import build_lambda_handler, create_resolver, json_body, query_fields, request_id_of
from lib.presign import Presigner, parse_batch, parse_presign_request, signer_for
from lib.vending import get_service

app = create_resolver()


@app.post("/v1/presign")
def presign() -> dict[str, Any]:
    config = load_config()
    caller = authenticate(app.current_event.headers, config)
    query_fields(app)
    body = json_body(app)
    presigner = Presigner(caller, service=get_service(), signer=signer_for(config.aws_endpoint_url))
    if "objects" not in body:
        return presigner.presign(parse_presign_request(body, config)).to_json()
    request_id = request_id_of(app.current_event.raw_event)
    results = presigner.presign_all(parse_batch(body, config))
    return {
        "results": [
            result.problem(request_id) if isinstance(result, ServiceError) else result.to_json()
            for result in results
        ]
    }


lambda_handler = build_lambda_handler(app)
