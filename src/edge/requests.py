"""Requests at the edge: every body and query string decoded into its declared type (`edge.contract`),
then checked for what types cannot say, and handed to the domain as the domain's own request values.

Every refusal is a 400 whose detail names the field, in the words the API has always used ("target is
required", "permission must be one of READ, WRITE, READWRITE", "unknown field(s) 'x'"). msgspec says
what is wrong in a message of its own; `_detail` puts it in those words, with the bounds of the field's
declaration (or the deployment's lower cap) and the path of the field (`parts[3].etag`, or
`objects[2].target` for an item of a batch). Unknown fields are refused before anything else, all of them
named: a misspelt field is the likelier mistake than a missing one.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import msgspec

from domain.config import ServiceConfig
from domain.errors import InvalidRequest, ServiceError
from domain.objects import DEFAULT_PAGE_SIZE, ListRequest, folder_uri, unwrap_token
from domain.presign import DEFAULT_EXPIRES_SECONDS, PresignRequest, validate_content_type, validate_filename
from domain.targets import GrantTarget, parse_prefix, parse_target
from domain.uploads import ETAG, AbortUpload, CompleteUpload, PartUrls, StartUpload
from domain.vending import CredentialRequest, GrantsQuery
from edge import contract

Model = TypeVar("Model", bound=msgspec.Struct)
QUERY_WHERE = "query parameter "
_AT = r"(?: - at `\$\.?(?P<path>[^`]*)`)?$"
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`" + _AT)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`" + _AT)
_ENUM = re.compile(r"^Invalid enum value .*?" + _AT)
_EXPECTED = re.compile(r"^Expected `(?P<expected>[a-z]+)[^`]*`(?P<rest>.*?)" + _AT)
_TYPE_WORDS = {"str": "a string", "int": "an integer", "array": "an array", "object": "an object"}


# --- decoding ---------------------------------------------------------------------------------------


def decode(
    model: type[Model],
    data: Mapping[str, Any],
    *,
    where: str = "",
    caps: Mapping[str, int] | None = None,
) -> Model:
    """`data` as `model`, or InvalidRequest naming the field. `caps` lowers a field's declared maximum to
    the deployment's (by wire name)."""
    _refuse_unknown(model, data, where)
    try:
        decoded = msgspec.convert(data, model)
    except msgspec.ValidationError as error:
        raise InvalidRequest(_detail(model, str(error), where, caps or {})) from None
    for name, cap in (caps or {}).items():
        value = getattr(decoded, _attribute(model, name))
        if value is not None and value > cap:
            raise InvalidRequest(f"{where}{name} {_range(_declared(model, name), cap)}")
    return decoded


def decode_query(model: type[Model], query: Mapping[str, str]) -> Model:
    """A query string as `model`: whole numbers are digits only (no sign, space, point or exponent)."""
    data: dict[str, Any] = dict(query)
    for name, info in _fields(model).items():
        value = data.get(name)
        if isinstance(value, str) and value.isascii() and value.isdigit() and _base(info.type)[0] is int:
            data[name] = int(value)
    return decode(model, data, where=QUERY_WHERE)


def _refuse_unknown(model: type[msgspec.Struct], data: Mapping[str, Any], where: str) -> None:
    unknown = sorted(data.keys() - _fields(model).keys())
    if unknown:
        shown = ", ".join(repr(str(name)[:64]) for name in unknown[:5])
        what = "query parameter(s)" if where == QUERY_WHERE else "field(s)"
        raise InvalidRequest(f"unknown {what} {shown}")


def _detail(model: type[msgspec.Struct], message: str, where: str, caps: Mapping[str, int]) -> str:
    if match := _UNKNOWN.match(message):
        return f"unknown field(s) {match['name'][:64]!r}" + (
            f" in {where}{match['path']}" if match["path"] else ""
        )
    if match := _MISSING.match(message):
        return f"{where}{_join(match['path'], match['name'])} is required"
    path = (_ENUM.match(message) or _EXPECTED.match(message) or _never(message))["path"] or ""
    name = f"{where}{path}"
    base, meta = _base(_field_type(model, path))
    if match := _ENUM.match(message):
        return f"{name} must be one of {', '.join(str(choice) for choice in get_args(base))}"
    match = _EXPECTED.match(message)
    assert match is not None
    rest = match["rest"]
    if rest.startswith(", got `null`"):
        return f"{name} is required"
    if rest.startswith(", got"):
        return f"{name} must be {_TYPE_WORDS.get(match['expected'], 'of another type')}"
    if match["expected"] == "int":
        return f"{name} {_range(meta, caps.get(path.rpartition('.')[2]))}"
    if match["expected"] == "array":
        return f"{name} must hold {meta.get('min_length') or 0} to {meta.get('max_length')} items"
    if meta.get("min_length"):
        return f"{name} must be {meta['min_length']} to {meta.get('max_length')} characters"
    return f"{name} must be at most {meta.get('max_length')} characters"


def _never(message: str) -> re.Match[str]:
    raise AssertionError(f"a validation message edge.requests does not know: {message}")


def _join(path: str | None, name: str) -> str:
    return f"{path}.{name}" if path else name


def _range(meta: Mapping[str, Any], cap: int | None) -> str:
    maximum = meta.get("le") if cap is None else min(cap, meta.get("le", cap))
    return f"must be between {meta.get('ge')} and {maximum}"


@cache
def _fields(model: type[msgspec.Struct]) -> dict[str, msgspec.structs.FieldInfo]:
    """A model's fields by wire name (msgspec evaluates the annotations anew at every call: once here)."""
    return {info.encode_name: info for info in msgspec.structs.fields(model)}


def _attribute(model: type[msgspec.Struct], wire_name: str) -> str:
    return _fields(model)[wire_name].name


def _declared(model: type[msgspec.Struct], wire_name: str) -> dict[str, Any]:
    return _base(_field_type(model, wire_name))[1]


def _field_type(model: type[msgspec.Struct], path: str) -> Any:
    """The declared type at a msgspec path such as `parts[3].etag` (list items by `[n]`)."""
    current: Any = model
    for part in re.findall(r"\[\d+\]|[^.\[\]]+", path):
        current = _base(current)[0]
        current = get_args(current)[0] if part.startswith("[") else _fields(current)[part].type
    return current


def _base(declared: Any) -> tuple[Any, dict[str, Any]]:
    """A declared type without `| None` and `Annotated`, and its constraints (the Meta of every layer)."""
    meta: dict[str, Any] = {}
    while True:
        if get_origin(declared) is Annotated:
            declared, *extras = get_args(declared)
            for extra in extras:
                if isinstance(extra, msgspec.Meta):
                    meta.update(
                        {key: getattr(extra, key) for key in _META_KEYS if getattr(extra, key) is not None}
                    )
        elif get_origin(declared) in (Union, types.UnionType) and type(None) in get_args(declared):
            (declared,) = [member for member in get_args(declared) if member is not type(None)]
        else:
            return declared, meta


_META_KEYS = ("ge", "le", "min_length", "max_length")


def _target(text: str, config: ServiceConfig, where: str) -> GrantTarget:
    try:
        return parse_target(text, config.allowed_buckets)
    except InvalidRequest as error:
        raise InvalidRequest(f"{where}{error.detail}") from None


def _object_target(text: str, config: ServiceConfig) -> GrantTarget:
    target = _target(text, config, "")
    if target.is_prefix:
        raise InvalidRequest("target must name one object (s3://bucket/key), not a prefix")
    return target


# --- POST /v1/credentials, GET /v1/me, GET /v1/grants ---------------------------------------------------


def parse_credential_request(body: Mapping[str, Any], config: ServiceConfig) -> CredentialRequest:
    request = decode(contract.CredentialsRequest, body, caps={"durationSeconds": config.max_duration_seconds})
    return CredentialRequest(
        target=_target(request.target, config, ""),
        permission=request.permission,
        privilege=request.privilege or "Default",
        duration_seconds=request.duration_seconds,
        target_type=request.target_type,
        role=request.role,
    )


def parse_credentials_format(query: Mapping[str, str]) -> Literal["json", "credential_process"]:
    return decode_query(contract.CredentialsQuery, query).format or "json"


def parse_role_query(query: Mapping[str, str]) -> str | None:
    return decode_query(contract.RoleQuery, query).role


def parse_grants_query(query: Mapping[str, str], config: ServiceConfig) -> GrantsQuery:
    request = decode_query(contract.GrantsQuery, query)
    return GrantsQuery(
        scope=parse_prefix(request.scope, config.allowed_buckets) if request.scope is not None else None,
        next_token=request.next_token,
        max_results=request.max_results,
        role=request.role,
    )


def refuse_query(query: Mapping[str, str]) -> None:
    """Routes that take no query parameter refuse any."""
    decode_query(contract.NoQuery, query)


# --- POST /v1/presign ----------------------------------------------------------------------------------


def parse_presign_request(
    body: Mapping[str, Any], config: ServiceConfig, *, where: str = ""
) -> PresignRequest:
    """One presign request (a single call, or an item of a batch: `where` is `objects[i].`)."""
    request = decode(
        contract.PresignRequest,
        body,
        where=where,
        caps={"expiresIn": config.max_presign_expires_seconds, "maxBytes": config.max_post_bytes},
    )
    method = request.method
    target = _target(request.target, config, where)
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
    return PresignRequest(
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


def parse_batch(body: Mapping[str, Any], config: ServiceConfig) -> list[PresignRequest | ServiceError]:
    """The items of `{"objects": [...]}`: each a valid request or the InvalidRequest it raised."""
    items = decode(contract.PresignBatchRequest, body).objects
    parsed: list[PresignRequest | ServiceError] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            parsed.append(InvalidRequest(f"objects[{index}] must be an object"))
            continue
        try:
            parsed.append(parse_presign_request(item, config, where=f"objects[{index}]."))
        except InvalidRequest as error:
            parsed.append(error)
    return parsed


# --- GET /v1/objects ----------------------------------------------------------------------------------


def parse_list_request(query: Mapping[str, str], config: ServiceConfig) -> ListRequest:
    """GET /v1/objects' query string."""
    if not query.get("prefix"):
        _refuse_unknown(contract.ObjectsQuery, query, QUERY_WHERE)
        raise InvalidRequest("query parameter prefix is required, e.g. s3://bucket/folder/")
    request = decode_query(contract.ObjectsQuery, query)
    if not request.prefix.endswith("/"):
        # `s3://b/users` would also list `users-archive/`, which no `users/*` grant covers.
        raise InvalidRequest(
            "query parameter prefix must end with '/' (a folder such as s3://bucket/folder/)"
        )
    folder = parse_prefix(request.prefix, config.allowed_buckets)
    token = request.continuation_token
    return ListRequest(
        folder=folder,
        continuation_token=unwrap_token(token, folder_uri(folder)) if token is not None else None,
        page_size=request.page_size or DEFAULT_PAGE_SIZE,
        role=request.role,
    )


# --- POST /v1/uploads, /parts, /complete, /abort --------------------------------------------------------


def parse_start(body: Mapping[str, Any], config: ServiceConfig) -> StartUpload:
    request = decode(
        contract.StartUploadRequest, body, caps={"expiresIn": config.max_presign_expires_seconds}
    )
    target = _object_target(request.target, config)
    return StartUpload(
        target=target,
        part_count=request.part_count,
        content_type=validate_content_type(request.content_type)
        if request.content_type is not None
        else None,
        expires_in=request.expires_in,
        role=request.role,
    )


def parse_part_urls(body: Mapping[str, Any], config: ServiceConfig) -> PartUrls:
    request = decode(contract.PartUrlsRequest, body, caps={"expiresIn": config.max_presign_expires_seconds})
    target = _object_target(request.target, config)
    if len(set(request.part_numbers)) != len(request.part_numbers):
        raise InvalidRequest("partNumbers must not repeat a part")
    return PartUrls(
        target=target,
        upload_id=request.upload_id,
        part_numbers=tuple(request.part_numbers),
        expires_in=request.expires_in,
        role=request.role,
    )


def parse_complete(body: Mapping[str, Any], config: ServiceConfig) -> CompleteUpload:
    request = decode(contract.CompleteUploadRequest, body)
    target = _object_target(request.target, config)
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
        target=_object_target(request.target, config), upload_id=request.upload_id, role=request.role
    )
