"""The HTTP edge shared by every handler: the resolver factory, the one error → problem mapping,
JSON body parsing with clear 4xx answers, and the Lambda entry point wrapper.

Status mapping lives only here (`problem_response`): handlers and the domain raise `ServiceError`s.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from domain.audit import count, logger, metrics, tracer
from domain.budget import UpstreamBudget, invocation_budget
from domain.deadline import Deadline, invocation_deadline
from domain.errors import (
    InternalError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    UnsupportedMediaType,
)

MAX_BODY_BYTES = 256 * 1024
PROBLEM_CONTENT_TYPE = "application/problem+json"
# On every answer: nothing a browser or proxy keeps, and a JSON answer never sniffed into a script or page.
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_JSON_CONTENT_TYPES = ("application/json",)

Event = dict[str, Any]
LambdaHandler = Callable[[Event, LambdaContext], dict[str, Any]]


def create_resolver() -> APIGatewayHttpResolver:
    """An HTTP API v2 resolver whose every failure becomes an RFC 9457 problem document."""
    # debug=False whatever POWERTOOLS_DEV says: debug mode prints whole events, Authorization header included.
    app = APIGatewayHttpResolver(debug=False)

    def _service_error(error: ServiceError) -> Response[str]:
        return problem_response(error, request_id_of(app.current_event.raw_event))

    def _not_found(_: NotFoundError) -> Response[str]:
        return problem_response(NotFound("no such route"), request_id_of(app.current_event.raw_event))

    def _unexpected(error: Exception) -> Response[str]:
        # The caller gets no detail; the log has the trace (never request bodies or tokens).
        logger.exception("unhandled error", extra={"errorType": type(error).__name__})
        return problem_response(InternalError(), request_id_of(app.current_event.raw_event))

    # Registered by call rather than as decorators: Powertools' registration decorators are untyped.
    app.exception_handler(ServiceError)(_service_error)
    app.not_found(_not_found)
    app.exception_handler(Exception)(_unexpected)
    return app


def problem_response(error: ServiceError, request_id: str | None) -> Response[str]:
    return Response(
        status_code=error.status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=problem_body(error, request_id),
        headers=dict(error.headers),
    )


def problem_body(error: ServiceError, request_id: str | None) -> str:
    """The problem document, as the contract declares it (`edge.contract.Problem`). Imported here, at the
    first problem: the health function answers without one, and never loads the contract (msgspec)."""
    from edge.problems import encoded, problem

    return encoded(problem(error, request_id))


def request_id_of(event: Event) -> str | None:
    context = event.get("requestContext") if isinstance(event, dict) else None
    return context.get("requestId") if isinstance(context, dict) else None


def build_lambda_handler(app: APIGatewayHttpResolver) -> LambdaHandler:
    """The Lambda entry point for a resolver: sets the invocation deadline, logs with the request id as
    correlation id (never the event itself), flushes metrics, and puts `Cache-Control: no-store` and
    `X-Content-Type-Options: nosniff` on every response, including ones for events the resolver cannot
    even parse."""

    def lambda_handler(event: Event, context: LambdaContext) -> dict[str, Any]:
        logger.set_correlation_id(request_id_of(event))
        token = invocation_deadline.set(Deadline.from_context(context))
        budget_token = invocation_budget.set(UpstreamBudget())
        try:
            response = app.resolve(event, context)
        except Exception:  # noqa: BLE001 - the last line of defence: never a stack trace to the caller
            logger.exception("event could not be handled")
            error = InternalError()
            response = {
                "statusCode": error.status,
                "headers": {"Content-Type": PROBLEM_CONTENT_TYPE},
                "body": problem_body(error, request_id_of(event)),
                "isBase64Encoded": False,
            }
        finally:
            invocation_deadline.reset(token)
            invocation_budget.reset(budget_token)
        headers = response.setdefault("headers", {})
        # A route whose protocol sets its own caching keeps it (the Iceberg signer); no other route sets it.
        headers.update({name: value for name, value in SECURITY_HEADERS.items() if name not in headers})
        count(f"Responses{response['statusCode'] // 100}xx")
        return response

    if tracer is not None:
        lambda_handler = tracer.capture_lambda_handler(capture_response=False)(lambda_handler)
    entry_point = metrics.log_metrics(
        logger.inject_lambda_context(log_event=False, clear_state=True)(lambda_handler),
        capture_cold_start_metric=True,  # ColdStart, by function_name
    )
    # The end of Init: what the imports built lives as long as the execution environment, so no collection
    # needs to walk it again. Without this the first full collection (~12 ms over botocore's and
    # Powertools' objects) lands in whichever request comes first, and every later one repeats it.
    gc.freeze()
    return entry_point


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidRequest(f"duplicate field {key!r} in the JSON body")
        result[key] = value
    return result


def _reject_constant(name: str) -> None:
    raise InvalidRequest(f"{name} is not valid JSON")


def parse_json(text: str) -> Any:
    """Strict JSON: duplicate keys and NaN/Infinity are refused with a 400."""
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except ServiceError:
        raise
    except (ValueError, RecursionError):
        raise InvalidRequest("the request body is not valid JSON") from None


def json_body(app: APIGatewayHttpResolver, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body as a JSON object.

    Content type must be JSON when given (415 otherwise; a missing one is accepted), the body at most
    `max_bytes` (413), valid strict JSON (400) and an object (400).
    """
    event = app.current_event
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type and not (content_type in _JSON_CONTENT_TYPES or content_type.endswith("+json")):
        raise UnsupportedMediaType("send the body as application/json")
    raw = event.body or ""
    if len(raw) > max_bytes * 4 // 3 + 4:
        raise PayloadTooLarge(f"the body must be at most {max_bytes} bytes")
    try:
        text = event.decoded_body or ""
    except ValueError:
        raise InvalidRequest("the request body is not valid base64") from None
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise PayloadTooLarge(f"the body must be at most {max_bytes} bytes")
    if not text.strip():
        raise InvalidRequest("a JSON object body is required")
    body = parse_json(text)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body
