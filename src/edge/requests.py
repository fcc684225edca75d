"""The request contract at the edge: every route's body or query string, validated into the domain's
request types, with 400s that name the field (`edge.http.Fields`).

The domain receives only validated values; what depends on the deployment (allowed buckets, the longest
duration or expiry) comes from the configuration passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from domain.config import GET_DATA_ACCESS_MIN_DURATION, ServiceConfig
from domain.errors import InvalidRequest, ServiceError
from domain.objects import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ListRequest, folder_uri, unwrap_token
from domain.permissions import (
    PERMISSIONS,
    PRESIGN_METHODS,
    PRIVILEGES,
    TARGET_TYPES,
    Permission,
    PresignMethod,
    Privilege,
    TargetType,
)
from domain.presign import (
    DEFAULT_EXPIRES_SECONDS,
    MAX_BATCH_ITEMS,
    MAX_PUT_BYTES,
    PresignRequest,
    validate_content_type,
    validate_filename,
)
from domain.targets import MAX_TARGET_CHARS, GrantTarget, parse_prefix, parse_target
from domain.uploads import (
    _ETAG,
    MAX_ETAG_CHARS,
    MAX_PART_URLS_PER_ANSWER,
    MAX_PARTS,
    MAX_UPLOAD_ID_CHARS,
    AbortUpload,
    CompleteUpload,
    PartUrls,
    StartUpload,
)
from domain.vending import MAX_GRANTS_PAGE, MAX_NEXT_TOKEN_CHARS, CredentialRequest, GrantsQuery
from edge.http import QUERY_WHERE, Fields

MAX_ROLE_CHARS = 2048
CREDENTIAL_FIELDS = ("target", "permission", "privilege", "durationSeconds", "targetType", "role")
PRESIGN_FIELDS = (
    "target",
    "method",
    "expiresIn",
    "contentType",
    "filename",
    "contentLength",
    "maxBytes",
    "role",
)


# --- POST /v1/credentials, GET /v1/me, GET /v1/grants ---------------------------------------------------


def parse_credential_request(body: dict[str, Any], config: ServiceConfig) -> CredentialRequest:
    fields = Fields(body, allowed=CREDENTIAL_FIELDS)
    return CredentialRequest(
        target=parse_target(
            fields.string("target", required=True, max_length=MAX_TARGET_CHARS), config.allowed_buckets
        ),
        permission=cast(Permission, fields.string("permission", required=True, choices=PERMISSIONS)),
        privilege=cast(Privilege, fields.string("privilege", choices=PRIVILEGES) or "Default"),
        duration_seconds=fields.integer(
            "durationSeconds", minimum=GET_DATA_ACCESS_MIN_DURATION, maximum=config.max_duration_seconds
        ),
        target_type=cast(TargetType | None, fields.string("targetType", choices=TARGET_TYPES)),
        role=fields.string("role", max_length=MAX_ROLE_CHARS),
    )


def parse_role_query(query: Mapping[str, str]) -> str | None:
    return Fields(dict(query), allowed=("role",), where=QUERY_WHERE).string("role", max_length=MAX_ROLE_CHARS)


def parse_grants_query(query: Mapping[str, str], config: ServiceConfig) -> GrantsQuery:
    fields = Fields(dict(query), allowed=("scope", "nextToken", "maxResults", "role"), where=QUERY_WHERE)
    scope = fields.string("scope", max_length=MAX_TARGET_CHARS)
    next_token = fields.string("nextToken", max_length=MAX_NEXT_TOKEN_CHARS)
    max_results = fields.string("maxResults", max_length=4)
    role = fields.string("role", max_length=MAX_ROLE_CHARS)
    return GrantsQuery(
        scope=parse_prefix(scope, config.allowed_buckets) if scope is not None else None,
        next_token=next_token,
        max_results=_digits("maxResults", max_results, MAX_GRANTS_PAGE),
        role=role,
    )


def _digits(name: str, value: str | None, maximum: int) -> int | None:
    """A query parameter holding a whole number from 1 to `maximum`."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= maximum:
        raise InvalidRequest(f"query parameter {name} must be an integer {_RANGE_WORDS[name]} {maximum}")
    return int(value)


# The words each parameter's message has always used (callers match on them).
_RANGE_WORDS = {"maxResults": "from 1 to", "pageSize": "between 1 and"}


# --- POST /v1/presign ----------------------------------------------------------------------------------


def parse_presign_request(
    body: Mapping[str, Any], config: ServiceConfig, *, where: str = ""
) -> PresignRequest:
    """Validate one presign request object; raises InvalidRequest naming the field."""
    fields = Fields(dict(body), allowed=PRESIGN_FIELDS, where=where)
    target_text = fields.string("target", required=True, max_length=MAX_TARGET_CHARS)
    method = cast(PresignMethod, fields.string("method", required=True, choices=PRESIGN_METHODS))
    default_expires = min(DEFAULT_EXPIRES_SECONDS, config.max_presign_expires_seconds)
    expires_in = fields.integer("expiresIn", minimum=1, maximum=config.max_presign_expires_seconds)
    content_type = fields.string("contentType", max_length=255)
    filename = fields.string("filename", max_length=255)
    content_length = fields.integer("contentLength", minimum=0, maximum=MAX_PUT_BYTES)
    max_bytes = fields.integer("maxBytes", minimum=1, maximum=config.max_post_bytes)
    role = fields.string("role", max_length=2048)
    assert target_text is not None and method is not None
    try:
        target = parse_target(target_text, config.allowed_buckets)
    except InvalidRequest as error:
        raise InvalidRequest(f"{where}{error.detail}") from None
    if target.is_prefix and method != "POST":
        raise InvalidRequest(
            f"{where}target must name one object (s3://bucket/key), not a prefix (only POST takes a prefix)"
        )
    if content_type is not None:
        if method == "GET":
            raise InvalidRequest(f"{where}contentType applies to PUT and POST only")
        validate_content_type(content_type)
    if filename is not None and method != "GET":
        raise InvalidRequest(f"{where}filename applies to GET only")
    if filename is not None:
        validate_filename(filename)
    if content_length is not None and method != "PUT":
        raise InvalidRequest(f"{where}contentLength applies to PUT only")
    if max_bytes is not None and method != "POST":
        raise InvalidRequest(f"{where}maxBytes applies to POST only")
    return PresignRequest(
        target=str(target),
        grant_target=target,
        method=method,
        expires_in=expires_in or default_expires,
        content_type=content_type,
        filename=filename,
        role=role,
        content_length=content_length,
        max_bytes=(max_bytes or config.default_post_bytes) if method == "POST" else None,
    )


def parse_batch(body: Mapping[str, Any], config: ServiceConfig) -> list[PresignRequest | ServiceError]:
    """The items of `{"objects": [...]}`: each a valid request or the InvalidRequest it raised."""
    fields = Fields(dict(body), allowed=("objects",))
    items = fields.array("objects", required=True, max_items=MAX_BATCH_ITEMS)
    assert items is not None
    parsed: list[PresignRequest | ServiceError] = []
    for index, item in enumerate(items):
        where = f"objects[{index}]."
        if not isinstance(item, dict):
            parsed.append(InvalidRequest(f"objects[{index}] must be an object"))
            continue
        try:
            parsed.append(parse_presign_request(item, config, where=where))
        except InvalidRequest as error:
            parsed.append(error)
    return parsed


# --- GET /v1/objects ----------------------------------------------------------------------------------


def parse_list_request(query: Mapping[str, str], config: ServiceConfig) -> ListRequest:
    """GET /v1/objects' query string; raises InvalidRequest naming the parameter."""
    Fields(dict(query), allowed=("prefix", "continuationToken", "pageSize", "role"), where=QUERY_WHERE)
    prefix_text = query.get("prefix")
    if not prefix_text:
        raise InvalidRequest("query parameter prefix is required, e.g. s3://bucket/folder/")
    if not prefix_text.endswith("/"):
        # `s3://b/users` would also list `users-archive/`, which no `users/*` grant covers.
        raise InvalidRequest(
            "query parameter prefix must end with '/' (a folder such as s3://bucket/folder/)"
        )
    folder = parse_prefix(prefix_text, config.allowed_buckets)
    page_size = _digits("pageSize", query.get("pageSize"), MAX_PAGE_SIZE)
    role = query.get("role")
    if role is not None and not 1 <= len(role) <= 2048:
        raise InvalidRequest("query parameter role must be 1 to 2048 characters")
    token = query.get("continuationToken")
    s3_token = unwrap_token(token, folder_uri(folder)) if token is not None else None
    return ListRequest(
        folder=folder,
        continuation_token=s3_token,
        page_size=DEFAULT_PAGE_SIZE if page_size is None else page_size,
        role=role,
    )


# --- POST /v1/uploads, /parts, /complete, /abort --------------------------------------------------------


def _object_target(fields: Fields, config: ServiceConfig) -> GrantTarget:
    target = parse_target(
        fields.string("target", required=True, max_length=MAX_TARGET_CHARS), config.allowed_buckets
    )
    if target.is_prefix:
        raise InvalidRequest("target must name one object (s3://bucket/key), not a prefix")
    return target


def _upload_id(fields: Fields) -> str:
    upload_id = fields.string("uploadId", required=True, max_length=MAX_UPLOAD_ID_CHARS)
    assert upload_id is not None
    return upload_id


def _expires_in(fields: Fields, config: ServiceConfig) -> int | None:
    return fields.integer("expiresIn", minimum=1, maximum=config.max_presign_expires_seconds)


def parse_start(body: dict[str, Any], config: ServiceConfig) -> StartUpload:
    fields = Fields(body, allowed=("target", "partCount", "contentType", "expiresIn", "role"))
    target = _object_target(fields, config)
    part_count = fields.integer("partCount", minimum=1, maximum=MAX_PARTS, required=True)
    content_type = fields.string("contentType", max_length=255)
    assert part_count is not None
    return StartUpload(
        target=target,
        part_count=part_count,
        content_type=validate_content_type(content_type) if content_type is not None else None,
        expires_in=_expires_in(fields, config),
        role=fields.string("role", max_length=MAX_ROLE_CHARS),
    )


def parse_part_urls(body: dict[str, Any], config: ServiceConfig) -> PartUrls:
    fields = Fields(body, allowed=("target", "uploadId", "partNumbers", "expiresIn", "role"))
    target = _object_target(fields, config)
    upload_id = _upload_id(fields)
    numbers = fields.array("partNumbers", required=True, max_items=MAX_PART_URLS_PER_ANSWER)
    assert numbers is not None
    if not numbers:
        raise InvalidRequest("partNumbers must name at least one part")
    for index, number in enumerate(numbers):
        if not _is_part_number(number):
            raise InvalidRequest(f"partNumbers[{index}] must be an integer between 1 and {MAX_PARTS}")
    if len(set(numbers)) != len(numbers):
        raise InvalidRequest("partNumbers must not repeat a part")
    return PartUrls(
        target=target,
        upload_id=upload_id,
        part_numbers=tuple(numbers),
        expires_in=_expires_in(fields, config),
        role=fields.string("role", max_length=MAX_ROLE_CHARS),
    )


def parse_complete(body: dict[str, Any], config: ServiceConfig) -> CompleteUpload:
    fields = Fields(body, allowed=("target", "uploadId", "parts", "role"))
    target = _object_target(fields, config)
    upload_id = _upload_id(fields)
    items = fields.array("parts", required=True, max_items=MAX_PARTS)
    assert items is not None
    if not items:
        raise InvalidRequest("parts must list at least one part")
    parts: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        part = (
            Fields(item, allowed=("partNumber", "etag"), where=f"parts[{index}].")
            if isinstance(item, dict)
            else None
        )
        if part is None:
            raise InvalidRequest(f"parts[{index}] must be an object with partNumber and etag")
        number = part.integer("partNumber", minimum=1, maximum=MAX_PARTS, required=True)
        etag = part.string("etag", required=True, max_length=MAX_ETAG_CHARS)
        assert number is not None and etag is not None
        if not _ETAG.match(etag):
            raise InvalidRequest(f"parts[{index}].etag must be the ETag S3 answered for that part")
        if parts and number <= parts[-1][0]:
            raise InvalidRequest("parts must be listed in ascending partNumber order, each once")
        parts.append((number, etag if etag.startswith('"') else f'"{etag}"'))
    return CompleteUpload(
        target=target,
        upload_id=upload_id,
        parts=tuple(parts),
        role=fields.string("role", max_length=MAX_ROLE_CHARS),
    )


def parse_abort(body: dict[str, Any], config: ServiceConfig) -> AbortUpload:
    fields = Fields(body, allowed=("target", "uploadId", "role"))
    target = _object_target(fields, config)
    return AbortUpload(
        target=target, upload_id=_upload_id(fields), role=fields.string("role", max_length=MAX_ROLE_CHARS)
    )


def _is_part_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PARTS
