"""POST /v1/uploads, /v1/uploads/parts, /v1/uploads/complete, /v1/uploads/abort: multipart uploads with
presigned part URLs, owned by the caller who started them."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

import lib.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from lib.auth import authenticate
from lib.config import load_config
from lib.http import build_lambda_handler, create_resolver, json_body, query_fields
from lib.presign import signer_for
from lib.uploads import (
    MAX_COMPLETE_BODY_BYTES,
    Uploads,
    binding_for,
    parse_abort,
    parse_complete,
    parse_part_urls,
    parse_start,
)
from lib.vending import get_service

app = create_resolver()


def _uploads() -> Uploads:
    config = load_config()
    caller = authenticate(app.current_event.headers, config)
    query_fields(app)
    service = get_service()
    return Uploads(
        caller,
        service=service,
        signer=signer_for(config.aws_endpoint_url),
        binding=binding_for(service.gateway, config.upload_binding_secret),
    )


@app.post("/v1/uploads")
def start() -> Response:
    uploads = _uploads()
    result = uploads.start(parse_start(json_body(app), load_config()))
    return Response(
        status_code=201, content_type="application/json", body=json.dumps(result, separators=(",", ":"))
    )


@app.post("/v1/uploads/parts")
def parts() -> dict[str, Any]:
    uploads = _uploads()
    return uploads.part_urls(parse_part_urls(json_body(app), load_config()))


@app.post("/v1/uploads/complete")
def complete() -> dict[str, Any]:
    uploads = _uploads()
    return uploads.complete(parse_complete(json_body(app, max_bytes=MAX_COMPLETE_BODY_BYTES), load_config()))


@app.post("/v1/uploads/abort")
def abort() -> Response:
    uploads = _uploads()
    uploads.abort(parse_abort(json_body(app), load_config()))
    return Response(status_code=204, body="")


lambda_handler = build_lambda_handler(app)
