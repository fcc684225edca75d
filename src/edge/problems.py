"""Problem documents (RFC 9457) as the contract declares them (`edge.contract.Problem`), encoded. Apart
from `edge.responses` so that the first refusal of a function loads the contract and nothing more."""

from __future__ import annotations

import msgspec

from domain.errors import ServiceError
from edge import contract

_encoder = msgspec.json.Encoder()


def problem(error: ServiceError, request_id: str | None) -> contract.Problem:
    return contract.Problem(
        type=error.type_uri,
        title=error.title,
        status=error.status,
        detail=error.detail,
        code=error.code,
        request_id=request_id,
    )


def encoded(model: msgspec.Struct) -> str:
    return _encoder.encode(model).decode()


# Iceberg's REST exception names (its clients map the HTTP status; `type` names it for people).
_ICEBERG_TYPES = {
    400: "BadRequestException",
    401: "NotAuthorizedException",
    403: "ForbiddenException",
    413: "BadRequestException",
    415: "BadRequestException",
    429: "TooManyRequestsException",
    503: "ServiceUnavailableException",
}


def iceberg_error(error: ServiceError) -> contract.IcebergErrorResponse:
    """A refusal in the error model of Iceberg's REST specifications, which its signer clients read."""
    return contract.IcebergErrorResponse(
        error=contract.IcebergError(
            message=error.detail,
            type=_ICEBERG_TYPES.get(error.status, "ServiceFailureException"),
            code=error.status,
        )
    )
