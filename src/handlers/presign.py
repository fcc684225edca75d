"""POST /v1/presign: presigned GET/PUT URLs for one object, or for up to 100 in one call; and
POST /v1/aws/s3/sign: Apache Iceberg's S3 remote signing (the same credentials, signed into headers)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

import composition.snapstart  # noqa: F401 - registers the SnapStart hooks (priming before the snapshot)
from composition.root import environment
from domain.errors import ServiceError
from edge import responses
from edge.http import build_lambda_handler, create_resolver, json_body, request_id_of
from edge.requests.decode import refuse_query
from edge.requests.presign import parse_batch, parse_presign_request
from edge.requests.s3_sign import parse_sign_request

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


@app.post("/v1/aws/s3/sign")
def sign_s3_request() -> Response[str]:
    # Iceberg's clients read refusals in Iceberg's error model, not as problem documents.
    try:
        env = environment()
        caller = env.authenticate(app.current_event.headers)
        refuse_query(app.current_event.query_string_parameters or {})
        request = parse_sign_request(json_body(app))
        signed = env.remote_signer(caller).sign(request)
    except ServiceError as error:
        return responses.s3_sign_refused(error)
    return responses.s3_signed(signed, request.method)


lambda_handler = build_lambda_handler(app)
