"""POST /v1/presign: one presign request, or a batch of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.config import ServiceConfig
from domain.errors import InvalidRequest, ServiceError
from domain.presign import DEFAULT_EXPIRES_SECONDS
from domain.signing import PresignItem, validate_content_type, validate_filename
from edge import contract
from edge.requests.decode import decode, target_of


def parse_presign_request(body: Mapping[str, Any], config: ServiceConfig, *, where: str = "") -> PresignItem:
    """One presign request (a single call, or an item of a batch: `where` is `objects[i].`)."""
    request = decode(
        contract.PresignRequest,
        body,
        where=where,
        caps={"expiresIn": config.max_presign_expires_seconds, "maxBytes": config.max_post_bytes},
    )
    method = request.method
    target = target_of(request.target, config, where)
    if target.is_prefix and method != "POST":
        raise InvalidRequest(
            f"{where}target must name one object (s3://bucket/key), not a prefix (only POST takes a prefix)"
        )
    if request.content_type is not None:
        if method == "GET":
            raise InvalidRequest(f"{where}contentType applies to PUT and POST only")
        validate_content_type(request.content_type)
    if request.filename is not None:
        if method != "GET":
            raise InvalidRequest(f"{where}filename applies to GET only")
        validate_filename(request.filename)
    if request.content_length is not None and method != "PUT":
        raise InvalidRequest(f"{where}contentLength applies to PUT only")
    if request.max_bytes is not None and method != "POST":
        raise InvalidRequest(f"{where}maxBytes applies to POST only")
    return PresignItem(
        target=str(target),
        grant_target=target,
        method=method,
        expires_in=request.expires_in or min(DEFAULT_EXPIRES_SECONDS, config.max_presign_expires_seconds),
        content_type=request.content_type,
        filename=request.filename,
        role=request.role,
        content_length=request.content_length,
        max_bytes=(request.max_bytes or config.default_post_bytes) if method == "POST" else None,
    )


def parse_batch(body: Mapping[str, Any], config: ServiceConfig) -> list[PresignItem | ServiceError]:
    """The items of `{"objects": [...]}`: each a valid request or the InvalidRequest it raised."""
    items = decode(contract.PresignBatchRequest, body).objects
    parsed: list[PresignItem | ServiceError] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            parsed.append(InvalidRequest(f"objects[{index}] must be an object"))
            continue
        try:
            parsed.append(parse_presign_request(item, config, where=f"objects[{index}]."))
        except InvalidRequest as error:
            parsed.append(error)
    return parsed
