"""Requests in and answers out in each protocol's own wire format, driven by the botocore service models:
moto's router finds the operation, moto's parsers read its parameters, moto's serializers write the
answer (or the error document). Nothing here knows a service."""

from __future__ import annotations

import base64
import functools
import secrets
import uuid
from collections.abc import MutableMapping
from typing import Any

from moto.core.model import OperationModel, ServiceModel
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.request import Request, determine_request_protocol
from moto.core.routing import get_service_router
from moto.core.serialize import S3Serializer, SerializationContext, get_serializer_class
from moto.core.utils import get_service_model
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from local.aws_emulator.core.exceptions import EmulatorError


@functools.cache
def service_model(service: str) -> ServiceModel:
    return get_service_model(service)


def operation_model(service: str, name: str) -> OperationModel:
    answer: OperationModel = service_model(service).operation_model(name)
    return answer


def route(service: str, request: Request) -> tuple[OperationModel, dict[str, Any]] | None:
    """The operation a request is (and its URI labels), or None when it is none of the service's.
    Remembered on the request: the middleware names the operation, then the service answers it."""
    routes: dict[str, Any] = request.environ.setdefault("local.emulator.routes", {})
    if service not in routes:
        try:
            routes[service] = get_service_router(service).match(request)
        except (NotFound, NotImplementedError):
            routes[service] = None
    answer: tuple[OperationModel, dict[str, Any]] | None = routes[service]
    return answer


def parse(
    service: str, operation: OperationModel, request: Request, uri_params: dict[str, Any]
) -> dict[str, Any]:
    """The operation's input, read from URI, query, headers and body the way the model places them."""
    protocol = determine_request_protocol(service_model(service), request.content_type)
    parser = PROTOCOL_PARSERS[protocol](operation)
    try:
        return dict(
            parser.parse(
                {
                    "method": request.method,
                    "values": request.values,
                    "headers": request.headers,
                    "body": request.get_data(cache=True),
                    "url_path": request.path,
                    "url_params": uri_params,
                }
            )
        )
    except Exception as error:
        code = "MalformedXML" if protocol.endswith("xml") else "SerializationException"
        raise EmulatorError(code, f"the request body could not be read: {type(error).__name__}") from error


class _S3ErrorSerializer(S3Serializer):
    """S3 error documents carry elements no model declares (`Expires`/`ServerTime` of an expired URL)."""

    def _serialize_error_metadata(
        self, serialized: MutableMapping[str, Any], error: Exception, shape: Any
    ) -> None:
        super()._serialize_error_metadata(serialized, error, shape)
        serialized.update(getattr(error, "details", {}))


def respond(service: str, operation: OperationModel, result: dict[str, Any] | EmulatorError) -> Response:
    """The operation's answer (or `EmulatorError`) as the service's protocol writes it."""
    model = service_model(service)
    serializer_class = (
        _S3ErrorSerializer if service == "s3" else get_serializer_class(service, model.protocol)
    )
    request_id = uuid.uuid4().hex[:16].upper()
    serialized = serializer_class(operation, SerializationContext(request_id)).serialize(result)
    status = serialized["status_code"]
    if isinstance(result, EmulatorError) and result.status is not None:
        status = result.status
    headers = dict(serialized["headers"])
    if model.protocol == "rest-xml":
        headers |= {
            "x-amz-request-id": request_id,
            "x-amz-id-2": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
    else:
        headers["x-amzn-RequestId"] = request_id
    body = serialized["body"]
    return Response(body.encode() if isinstance(body, str) else body, status=status, headers=headers)


def error_response(service: str, operation_name: str | None, error: EmulatorError) -> Response:
    """An error in the service's shape, for requests whose operation is unknown or not the point."""
    model = service_model(service)
    name = operation_name if operation_name in model.operation_names else model.operation_names[0]
    return respond(service, model.operation_model(name), error)
