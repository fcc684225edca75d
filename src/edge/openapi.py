"""openapi.yaml, generated from the declared contract (`edge.contract`): `make openapi` writes it, and a
test checks that the committed file is a fresh generation.

The schemas come from the models (msgspec's JSON Schema), the query parameters from the query models'
fields. What no model can say is here: each route's summary, which models it takes and answers, and
which errors it documents, plus the shared error answers and headers. The routes themselves are
template.yaml's; a test checks that this module describes exactly those.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import msgspec

from edge import contract

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{name}"
INFO = {
    "title": "ShopFast S3 Access Grants credential vending",
    "version": "1.0.0",
    "summary": "JWT in, S3 credentials or presigned URLs scoped by S3 Access Grants out.",
    "description": """\
Every route but `GET /v1/health` requires `Authorization: Bearer <JWT>` from the configured
issuer and audience. API Gateway's JWT authorizer checks it first (its refusals are
`{"message": "Unauthorized"}`), the Lambda verifies it again (its refusals are RFC 9457 problem
documents). Every response carries `Cache-Control: no-store`, except the Iceberg signer's, which
follow Iceberg's specification (caching and error model).

Targets are `s3://bucket/key` (one object), `s3://bucket/prefix/*` or `s3://bucket/prefix*`.
Keys are 1-1024 bytes of UTF-8 without control characters, empty, `.` or `..` segments, a
leading `/`, or a `*` anywhere but the end of a prefix target. The patterns below state the
shape (segments included); the service also enforces the 1024-byte limit and refuses Unicode
format characters, answering 400.

Two answers depend on the deployment rather than on the shape of the request: a bucket outside
the deployment's `ALLOWED_BUCKETS`, and `role` in identity-center mode, are 400s. A documented
maximum is the most any deployment allows; a deployment's own cap (named in the field's
description) may be lower, and a value above it is a 400 that names the cap.

This document is generated from the service's declared contract (`src/edge/contract.py`) by
`make openapi`; edit the code, not this file.
""",
}
SERVERS = [{"url": "http://127.0.0.1:3000", "description": "the local stack (`make run`)"}]

# --- shared answers -----------------------------------------------------------------------------------

HEADERS = {
    "CacheControl": {
        "description": "Responses are never cached.",
        "required": True,
        "schema": {"type": "string", "const": "no-store"},
    },
    "RetryAfter": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,5}$"},
    },
    "WwwAuthenticate": {
        "description": "The bearer challenge (RFC 6750).",
        "required": True,
        "schema": {"type": "string", "pattern": "^Bearer"},
    },
}
NO_STORE = {"Cache-Control": {"$ref": "#/components/headers/CacheControl"}}


@dataclass(frozen=True)
class ErrorAnswer:
    name: str
    description: str
    headers: tuple[str, ...] = ("Cache-Control",)
    from_gateway: bool = False  # API Gateway may answer it too, with its own `{"message": ...}`


ERRORS = {
    400: ErrorAnswer(
        "BadRequest",
        "Invalid input (malformed JSON, unknown field, wrong type, bad target, value out of range).",
    ),
    401: ErrorAnswer(
        "Unauthorized",
        "Missing, malformed, expired or otherwise invalid bearer token. API Gateway's authorizer answers\n"
        '`{"message": "Unauthorized"}`; the Lambda answers a problem document.\n',
        headers=("WWW-Authenticate",),
        from_gateway=True,
    ),
    403: ErrorAnswer(
        "Forbidden", "No access grant covers the request (or, in iam-role mode, no mapped role)."
    ),
    404: ErrorAnswer(
        "NotFound",
        "No such upload for this caller and target (never started, bound to someone else, completed or "
        "aborted).",
    ),
    413: ErrorAnswer("PayloadTooLarge", "The request body is larger than the service accepts.", (), True),
    415: ErrorAnswer("UnsupportedMediaType", "The request body is not `application/json`."),
    429: ErrorAnswer("Throttled", "Too many requests.", (), True),
    502: ErrorAnswer("UpstreamError", "AWS answered with an error the service cannot turn into a decision."),
    503: ErrorAnswer(
        "Unavailable",
        "AWS still throttled after retries, or the issuer's signing keys are unavailable.",
        ("Cache-Control", "Retry-After"),
    ),
    504: ErrorAnswer("UpstreamTimeout", "AWS did not answer within the request's time budget."),
}
_HEADER_REFS = {
    "Cache-Control": "CacheControl",
    "Retry-After": "RetryAfter",
    "WWW-Authenticate": "WwwAuthenticate",
}
QUERY_ERRORS = (400, 401, 403, 429, 502, 503, 504)
BODY_ERRORS = (400, 401, 403, 413, 415, 429, 502, 503, 504)
UPLOAD_ERRORS = (400, 401, 403, 404, 413, 415, 429, 502, 503, 504)


# --- the routes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    answer: str  # the success answer's description
    answers: tuple[type[msgspec.Struct], ...] = ()  # the success body (several: oneOf); none for 204
    status: int = 200
    body: tuple[type[msgspec.Struct], ...] = ()  # the request body (several: oneOf)
    query: type[msgspec.Struct] | None = None
    errors: tuple[int, ...] = QUERY_ERRORS
    description: str | None = None
    public: bool = False
    iceberg: bool = False  # Iceberg's protocol: its error model and its caching rule


ICEBERG_CACHE_CONTROL = {
    "Cache-Control": {
        "description": "`private` for a signed GET or HEAD (the client may reuse it), `no-cache` otherwise, "
        "as Iceberg's S3 signer specification says.",
        "required": True,
        "schema": {"type": "string", "enum": ["private", "no-cache"]},
    }
}


OPERATIONS = {
    "GET /v1/health": Operation(
        "getHealth",
        "Liveness; no authentication.",
        "The service is up.",
        (contract.Health,),
        errors=(),
        public=True,
    ),
    "GET /v1/me": Operation(
        "getMe",
        "Who the service thinks the caller is.",
        "The caller as the service resolved it.",
        (contract.Me,),
        query=contract.RoleQuery,
    ),
    "GET /v1/grants": Operation(
        "listGrants",
        "The caller's access grants (ListCallerAccessGrants), paginated.",
        "One page of the caller's grants.",
        (contract.GrantList,),
        query=contract.GrantsQuery,
    ),
    "POST /v1/credentials": Operation(
        "vendCredentials",
        "Temporary S3 credentials scoped to the access grant that covers the target.",
        "Credentials (or, with `format=credential_process`, the SDK document).",
        (contract.CredentialsResponse, contract.CredentialProcessDocument),
        body=(contract.CredentialsRequest,),
        query=contract.CredentialsQuery,
        errors=BODY_ERRORS,
    ),
    "POST /v1/presign": Operation(
        "presign",
        "A presigned GET or PUT URL, or a presigned POST form, for one object, or for up to 100 in one call.",
        "A presigned request, or one result per item of a batch.",
        (contract.PresignedUrl, contract.PresignedPost, contract.PresignBatchResponse),
        body=(contract.PresignRequest, contract.PresignBatchRequest),
        errors=BODY_ERRORS,
        description="""\
The URL is signed (SigV4) with credentials vended for the caller, so it works exactly where
the caller's grants allow. `POST` answers a browser form instead (S3 "POST Object"): a policy
pinning the bucket, the key (or, for a prefix target, keys under it), the size (`maxBytes`),
the type when given and the expiry, signed the same way. `expiresAt` never outlives the signing
credentials: the URL's lifetime is the requested `expiresIn` shortened, when needed, to what the
credentials have left. Items of a batch that share a grant share one set of credentials. A batch
always answers 200; each item is either a result or a problem document (400 invalid, 403 denied,
429 past the request's cap of upstream calls), in the order of the request.
""",
    ),
    "POST /v1/uploads": Operation(
        "startUpload",
        "Start a multipart upload and presign one UploadPart URL per part.",
        "The upload, started.",
        (contract.UploadStarted,),
        status=201,
        body=(contract.StartUploadRequest,),
        errors=BODY_ERRORS,
        description="""\
The service starts the upload (CreateMultipartUpload) with credentials vended for the caller (WRITE
on the target, else 403) and signs the part URLs for the bucket's Region. The browser PUTs each part
to its URL (in parallel, retrying a failed part alone) and keeps each answer's `ETag`. The `uploadId`
is bound to the caller and the target: nobody else can refresh, complete or abort the upload.
""",
    ),
    "POST /v1/uploads/parts": Operation(
        "uploadPartUrls",
        "Fresh part URLs for the caller's upload (to resume, or replace expired ones).",
        "URLs for the parts asked.",
        (contract.PartUrls,),
        body=(contract.PartUrlsRequest,),
        errors=UPLOAD_ERRORS,
        description="404 when the upload is not the caller's on this target.\n",
    ),
    "POST /v1/uploads/complete": Operation(
        "completeUpload",
        "Complete the caller's upload from its parts.",
        "The stored object.",
        (contract.UploadCompleted,),
        body=(contract.CompleteUploadRequest,),
        errors=UPLOAD_ERRORS,
        description="""\
S3's rules apply: every part but the last at least 5 MiB, each etag the one S3 answered for the
part; a refusal is a 400 and the upload stays open (fix and retry, or abort).
""",
    ),
    "POST /v1/uploads/abort": Operation(
        "abortUpload",
        "Abort the caller's upload; S3 discards its parts.",
        "Aborted.",
        status=204,
        body=(contract.AbortUploadRequest,),
        errors=UPLOAD_ERRORS,
        description="Part URLs of an aborted upload are refused by S3 with NoSuchUpload.\n",
    ),
    "POST /v1/aws/s3/sign": Operation(
        "signS3Request",
        "Apache Iceberg's S3 remote signing: the SigV4 headers for one S3 request the caller's grants allow.",
        "The URI and every header to send the S3 request with.",
        (contract.S3SignResponse,),
        body=(contract.S3SignRequest,),
        errors=(400, 401, 403, 413, 415, 429, 502, 503, 504),
        iceberg=True,
        description="""\
Apache Iceberg's `POST /v1/aws/s3/sign` (`s3-signer-open-api.yaml` in apache/iceberg's `aws`
module), for PyIceberg's `S3V4RestSigner` and Iceberg Java's `S3V4RestSignerClient`: the client
holds no AWS keys and sends each S3 request it is about to make. The request is signed (SigV4 in
the Authorization header, `UNSIGNED-PAYLOAD`, for the bucket's Region) with credentials vended for
the caller, and only if its grants allow it: GET and HEAD of an object need READ on the key,
ListObjectsV2 READ on its prefix, PUT, the multipart calls and DELETE need WRITE on the key,
DeleteObjects WRITE on every key of its body (which must carry a Content-MD5 or checksum the
service checks). Any other operation (bucket configuration, ACLs, copies) is refused. Refusals use
Iceberg's error model (`IcebergErrorResponse`), not problem documents.
""",
    ),
    "GET /v1/objects": Operation(
        "listObjects",
        "Objects the caller may read under a prefix, listed with vended READ credentials.",
        "One page of the folder's objects and sub-folders.",
        (contract.ObjectList,),
        query=contract.ObjectsQuery,
    ),
}


# --- the document ---------------------------------------------------------------------------------------


def document() -> dict[str, Any]:
    """The OpenAPI document of the declared contract."""
    models = {
        model
        for operation in OPERATIONS.values()
        for model in (*operation.answers, *operation.body, *([operation.query] if operation.query else []))
    }
    models |= {contract.Problem, contract.ItemProblem, contract.GatewayMessage, contract.IcebergErrorResponse}
    ordered = sorted(models, key=lambda model: model.__name__)
    _, schemas = msgspec.json.schema_components(ordered, ref_template=REF)
    for model in ordered:
        schemas[model.__name__].update(getattr(model, "__json_schema_extra__", {}))
    parameters = {
        operation.query.__name__: _parameters(schemas.pop(operation.query.__name__))
        for operation in OPERATIONS.values()
        if operation.query is not None
    }
    paths: dict[str, dict[str, Any]] = {}
    for route, operation in OPERATIONS.items():
        method, path = route.split(" ", 1)
        paths.setdefault(path, {})[method.lower()] = _operation(operation, parameters)
    return {
        "openapi": OPENAPI_VERSION,
        "info": INFO,
        "servers": SERVERS,
        "security": [{"bearerJwt": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An OIDC JWT from the configured issuer, for the configured audience.",
                }
            },
            "headers": HEADERS,
            "responses": {error.name: _error_answer(error) for error in ERRORS.values()},
            "schemas": dict(sorted(schemas.items())),
        },
    }


def _operation(operation: Operation, parameters: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    document: dict[str, Any] = {"operationId": operation.operation_id, "summary": operation.summary}
    if operation.description:
        document["description"] = operation.description
    if operation.public:
        document["security"] = []
    if operation.query is not None and parameters[operation.query.__name__]:
        document["parameters"] = parameters[operation.query.__name__]
    if operation.body:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _one_of(operation.body)}},
        }
    success: dict[str, Any] = {
        "description": operation.answer,
        "headers": ICEBERG_CACHE_CONTROL if operation.iceberg else NO_STORE,
    }
    if operation.answers:
        success["content"] = {"application/json": {"schema": _one_of(operation.answers)}}
    responses: dict[str, Any] = {str(operation.status): success}
    for status in operation.errors:
        responses[str(status)] = (
            _iceberg_error_answer(ERRORS[status])
            if operation.iceberg
            else {"$ref": f"#/components/responses/{ERRORS[status].name}"}
        )
    document["responses"] = responses
    return document


def _one_of(models: tuple[type[msgspec.Struct], ...]) -> dict[str, Any]:
    refs = [{"$ref": REF.format(name=model.__name__)} for model in models]
    return refs[0] if len(refs) == 1 else {"oneOf": refs}


def _parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A query model's fields as query parameters (a query string has no null: absent is the default)."""
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema.get("properties", {}).items():
        field = dict(field)
        field.pop("default", None)
        if "anyOf" in field:
            (field,) = [member for member in field["anyOf"] if member.get("type") != "null"]
        field = dict(field)
        description = field.pop("description", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if description:
            parameter["description"] = description
        parameter["schema"] = field
        parameters.append(parameter)
    return parameters


def _error_answer(error: ErrorAnswer) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": error.description}
    if error.headers:
        answer["headers"] = {
            name: {"$ref": f"#/components/headers/{_HEADER_REFS[name]}"} for name in error.headers
        }
    content: dict[str, Any] = {"application/problem+json": {"schema": {"$ref": REF.format(name="Problem")}}}
    if error.from_gateway:
        content["application/json"] = {"schema": {"$ref": REF.format(name="GatewayMessage")}}
    answer["content"] = content
    return answer


def _iceberg_error_answer(error: ErrorAnswer) -> dict[str, Any]:
    """The same refusal in Iceberg's error model (API Gateway's own refusals keep theirs)."""
    content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": REF.format(name="IcebergErrorResponse")}}
    }
    if error.from_gateway:
        content["application/json"] = {
            "schema": {
                "oneOf": [
                    {"$ref": REF.format(name="IcebergErrorResponse")},
                    {"$ref": REF.format(name="GatewayMessage")},
                ]
            }
        }
    description = error.description.replace("a problem document", "Iceberg's error model")
    answer: dict[str, Any] = {"description": description, "content": content}
    if error.headers:
        answer["headers"] = {
            name: {"$ref": f"#/components/headers/{_HEADER_REFS[name]}"} for name in error.headers
        }
    return answer


def to_yaml(document: dict[str, Any]) -> str:
    """The document as YAML, multi-line text as literal blocks (PyYAML: a development dependency only)."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # shared parts are written out each time, never as YAML anchors

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, text)
    return str(yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True))


if __name__ == "__main__":
    sys.stdout.write(to_yaml(document()))
