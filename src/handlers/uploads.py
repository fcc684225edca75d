"""POST /v1/uploads, /v1/uploads/parts, /v1/uploads/complete, /v1/uploads/abort: multipart uploads with
presigned part URLs, owned by the caller who started them."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

import composition.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from composition.root import ExecutionEnvironment, environment
from domain.uploads import MAX_COMPLETE_BODY_BYTES, Uploads
from edge import responses
from edge.http import build_lambda_handler, create_resolver, json_body
from edge.requests.decode import refuse_query
from edge.requests.uploads import parse_abort, parse_complete, parse_part_urls, parse_start

app = create_resolver()


def _uploads() -> tuple[Uploads, ExecutionEnvironment]:
    env = environment()
    caller = env.authenticate(app.current_event.headers)
    refuse_query(app.current_event.query_string_parameters or {})
    return env.uploads(caller), env


@app.post("/v1/uploads")
def start() -> Response[str]:
    uploads, env = _uploads()
    started = uploads.start(parse_start(json_body(app), env.config))
    return responses.json_answer(responses.upload_started(started), status=201)


@app.post("/v1/uploads/parts")
def parts() -> Response[str]:
    uploads, env = _uploads()
    return responses.json_answer(
        responses.part_urls(uploads.part_urls(parse_part_urls(json_body(app), env.config)))
    )


@app.post("/v1/uploads/complete")
def complete() -> Response[str]:
    uploads, env = _uploads()
    body = json_body(app, max_bytes=MAX_COMPLETE_BODY_BYTES)
    return responses.json_answer(
        responses.upload_completed(uploads.complete(parse_complete(body, env.config)))
    )


@app.post("/v1/uploads/abort")
def abort() -> Response[str]:
    uploads, env = _uploads()
    uploads.abort(parse_abort(json_body(app), env.config))
    return Response(status_code=204, body="")


lambda_handler = build_lambda_handler(app)
