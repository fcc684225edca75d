"""POST /v1/uploads, /v1/uploads/parts, /v1/uploads/complete and /v1/uploads/abort: their bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.config import ServiceConfig
from domain.errors import InvalidRequest
from domain.limits import ETAG
from domain.signing import validate_content_type
from domain.uploads import AbortUpload, CompleteUpload, RefreshPartUrls, StartUpload
from edge import contract
from edge.requests.decode import decode, object_target_of


def parse_start(body: Mapping[str, Any], config: ServiceConfig) -> StartUpload:
    request = decode(
        contract.StartUploadRequest, body, caps={"expiresIn": config.max_presign_expires_seconds}
    )
    target = object_target_of(request.target, config)
    return StartUpload(
        target=target,
        part_count=request.part_count,
        content_type=validate_content_type(request.content_type)
        if request.content_type is not None
        else None,
        expires_in=request.expires_in,
        role=request.role,
    )


def parse_part_urls(body: Mapping[str, Any], config: ServiceConfig) -> RefreshPartUrls:
    request = decode(contract.PartUrlsRequest, body, caps={"expiresIn": config.max_presign_expires_seconds})
    target = object_target_of(request.target, config)
    if len(set(request.part_numbers)) != len(request.part_numbers):
        raise InvalidRequest("partNumbers must not repeat a part")
    return RefreshPartUrls(
        target=target,
        upload_id=request.upload_id,
        part_numbers=tuple(request.part_numbers),
        expires_in=request.expires_in,
        role=request.role,
    )


def parse_complete(body: Mapping[str, Any], config: ServiceConfig) -> CompleteUpload:
    request = decode(contract.CompleteUploadRequest, body)
    target = object_target_of(request.target, config)
    parts: list[tuple[int, str]] = []
    for index, part in enumerate(request.parts):
        if not ETAG.match(part.etag):
            raise InvalidRequest(f"parts[{index}].etag must be the ETag S3 answered for that part")
        if parts and part.part_number <= parts[-1][0]:
            raise InvalidRequest("parts must be listed in ascending partNumber order, each once")
        parts.append((part.part_number, part.etag if part.etag.startswith('"') else f'"{part.etag}"'))
    return CompleteUpload(target=target, upload_id=request.upload_id, parts=tuple(parts), role=request.role)


def parse_abort(body: Mapping[str, Any], config: ServiceConfig) -> AbortUpload:
    request = decode(contract.AbortUploadRequest, body)
    return AbortUpload(
        target=object_target_of(request.target, config), upload_id=request.upload_id, role=request.role
    )
