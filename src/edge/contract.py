"""The HTTP contract, declared once: every request body, query string and response body of the API as
msgspec Structs. The edge validates requests against them (`edge.requests`), and `openapi.yaml` is
generated from them (`edge.openapi`, `make openapi`).

msgspec, not pydantic: both derive JSON Schema from the same declarations, but a cold start pays for
the import and the model classes, and that is ~30 ms for msgspec against ~125-170 ms for pydantic
(measured side by side, 5 fresh processes each), when the whole cold init budget is 90-250 ms.

What the types cannot say is checked after them, by the domain, with the same kind of 400: a target's
shape and bucket (`domain.targets`, documented here by a pattern), media types and file names, and the
deployment's own caps (a field's documented maximum is the most any deployment allows; the description
names the setting that lowers it). Field names are the wire's (camelCase); attributes are snake_case.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from msgspec import Meta, Struct

from domain.config import DEFAULT_MAX_PRESIGN_EXPIRES_SECONDS
from domain.limits import (
    CONTENT_TYPE,
    GET_DATA_ACCESS_MAX_DURATION,
    GET_DATA_ACCESS_MIN_DURATION,
    MAX_BATCH_ITEMS,
    MAX_ETAG_CHARS,
    MAX_GRANTS_PAGE,
    MAX_LIST_PAGE,
    MAX_PAGE_TOKEN_CHARS,
    MAX_PART_URLS_PER_ANSWER,
    MAX_PARTS,
    MAX_POST_BYTES,
    MAX_PUT_BYTES,
    MAX_UPLOAD_ID_CHARS,
)
from domain.permissions import Permission, PresignMethod, Privilege, TargetType
from domain.targets import MAX_TARGET_CHARS

MAX_ROLE_CHARS = 2048

# --- named values -----------------------------------------------------------------------------------

_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
_CHAR = r"[^\x00-\x1f\x7f*/]"
_FIRST = r"[^\x00-\x1f\x7f*/.]"
# A key segment: not empty, not `.` or `..`, no control character, `/` or `*`.
_SEGMENT = rf"(?:{_FIRST}{_CHAR}*|\.{_FIRST}{_CHAR}*|\.\.{_CHAR}+)"
_KEY = rf"{_SEGMENT}(?:/{_SEGMENT})*"


# The patterns document a target's shape; `domain.targets` checks it, with a 400 that says what is wrong.
OBJECT_TARGET_PATTERN = rf"^s3://{_BUCKET}/{_KEY}$"
GRANT_TARGET_PATTERN = rf"^s3://{_BUCKET}/(?:{_KEY}(?:/\*|\*)?|\*)$"
GrantTarget = Annotated[
    str,
    Meta(
        max_length=MAX_TARGET_CHARS,
        description="`s3://bucket/key`, `s3://bucket/prefix/*` or `s3://bucket/prefix*`.",
        extra_json_schema={"minLength": 9, "pattern": GRANT_TARGET_PATTERN},
    ),
]
GrantScope = Annotated[
    str,
    Meta(
        max_length=MAX_TARGET_CHARS,
        description="A scope filter: `s3://bucket/prefix/`, `s3://bucket/prefix/*`, `s3://bucket/prefix*` or "
        "`s3://bucket/prefix`.",
        extra_json_schema={"minLength": 8, "pattern": rf"^s3://{_BUCKET}/(?:{_KEY}/?)?\*?$"},
    ),
]
ObjectTarget = Annotated[
    str,
    Meta(
        max_length=MAX_TARGET_CHARS,
        description="One object, `s3://bucket/key` (no wildcard).",
        extra_json_schema={"minLength": 8, "pattern": OBJECT_TARGET_PATTERN},
    ),
]
ListPrefix = Annotated[
    str,
    Meta(
        max_length=MAX_TARGET_CHARS,
        description="`s3://bucket/` or `s3://bucket/prefix/` (ends with `/`).",
        extra_json_schema={"minLength": 9, "pattern": rf"^s3://{_BUCKET}/(?:{_SEGMENT}/)*$"},
    ),
]
RoleChoice = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_ROLE_CHARS,
        description="iam-role mode only, for a caller in several mapped groups: the group (or role ARN) "
        "to act as.",
    ),
]
PageToken = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_PAGE_TOKEN_CHARS,
        pattern="^[A-Za-z0-9_-]+$",
        description="Opaque; pass back unchanged.",
    ),
]
GrantsPageToken = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_PAGE_TOKEN_CHARS,
        pattern="^[\\x21-\\x7e]+$",
        description="Opaque (names where the next page starts); pass back unchanged.",
    ),
]
Timestamp = Annotated[
    str, Meta(description="RFC 3339 date-time in UTC.", extra_json_schema={"format": "date-time"})
]
MediaType = Annotated[
    str, Meta(max_length=255, extra_json_schema={"minLength": 3, "pattern": CONTENT_TYPE.pattern})
]
UploadId = Annotated[
    str,
    Meta(
        max_length=MAX_UPLOAD_ID_CHARS,
        description="The upload, bound to the caller and target that started it (S3's UploadId and a MAC).",
        extra_json_schema={"minLength": 1},
    ),
]
PartNumber = Annotated[int, Meta(ge=1, le=MAX_PARTS)]
# Capped by the deployment (MAX_PRESIGN_EXPIRES_SECONDS, at most what SigV4 allows: `edge.requests` checks
# it), so documented with the default deployment's cap.
PresignSeconds = Annotated[
    int, Meta(ge=1, extra_json_schema={"maximum": DEFAULT_MAX_PRESIGN_EXPIRES_SECONDS})
]
Url = Annotated[str, Meta(min_length=1, extra_json_schema={"format": "uri"})]


class _Body(Struct, forbid_unknown_fields=True, rename="camel", kw_only=True, omit_defaults=True):
    """A JSON object whose fields are exactly the declared ones (an unknown field is a 400)."""


class _Answer(Struct, forbid_unknown_fields=True, rename="camel", kw_only=True, omit_defaults=True):
    """A JSON object the service answers. A field with a default is left out when it has that value
    (`Me.group` in identity-center mode, `UploadStarted.nextPartNumber` under 1,000 parts); a field that is
    always there, even as null, has no default."""


# --- requests ---------------------------------------------------------------------------------------


class CredentialsRequest(_Body):
    target: GrantTarget
    permission: Permission
    privilege: Privilege | None = None
    duration_seconds: (
        Annotated[
            int,
            Meta(
                ge=GET_DATA_ACCESS_MIN_DURATION,
                le=GET_DATA_ACCESS_MAX_DURATION,
                description="Defaults to the deployment's DEFAULT_DURATION_SECONDS; capped by "
                "MAX_DURATION_SECONDS.",
            ),
        ]
        | None
    ) = None
    target_type: (
        Annotated[TargetType, Meta(description="`Object` when the target names one object.")] | None
    ) = None
    role: RoleChoice | None = None


class PresignRequest(_Body):
    # GET and PUT sign one object's request: only POST takes a prefix target.
    __json_schema_extra__: ClassVar[dict[str, Any]] = {
        "allOf": [
            {
                "if": {"properties": {"method": {"enum": ["GET", "PUT"]}}},
                "then": {"properties": {"target": {"pattern": OBJECT_TARGET_PATTERN}}},
            }
        ]
    }

    target: Annotated[
        str,
        Meta(
            max_length=MAX_TARGET_CHARS,
            description="One object; for POST also a prefix (`s3://bucket/prefix/*`) under which the form "
            "names its key.",
            extra_json_schema={
                "minLength": 9,
                "pattern": GrantTarget.__metadata__[0].extra_json_schema["pattern"],
            },
        ),
    ]
    method: PresignMethod
    expires_in: (
        Annotated[
            PresignSeconds,
            Meta(description="Seconds (default 300); at most the deployment's MAX_PRESIGN_EXPIRES_SECONDS."),
        ]
        | None
    ) = None
    content_type: (
        Annotated[
            MediaType, Meta(description="PUT and POST only. Signed; the upload must send this exact type.")
        ]
        | None
    ) = None
    filename: (
        Annotated[
            str,
            Meta(
                max_length=255,
                description="GET only. The download is offered as an attachment with this file name.",
                extra_json_schema={"minLength": 1, "pattern": "^[^\\x00-\\x1f\\x7f/\\\\]+$"},
            ),
        ]
        | None
    ) = None
    content_length: (
        Annotated[
            int,
            Meta(
                ge=0, le=MAX_PUT_BYTES, description="PUT only. Signed; the upload must be exactly this size."
            ),
        ]
        | None
    ) = None
    max_bytes: (
        Annotated[
            int,
            Meta(
                ge=1,
                le=MAX_POST_BYTES,
                description="POST only. The policy's `content-length-range` upper bound; default and ceiling "
                "are the deployment's DEFAULT_POST_BYTES (100 MiB) and MAX_POST_BYTES (5 GiB).",
            ),
        ]
        | None
    ) = None
    role: RoleChoice | None = None


class PresignBatchRequest(_Body):
    objects: Annotated[
        list[Any],
        Meta(
            min_length=1,
            max_length=MAX_BATCH_ITEMS,
            description="Up to 100 presign requests, each shaped like PresignRequest. Items are validated "
            "one by one: an invalid item does not fail the call, it gets its own 400 problem in `results`.",
        ),
    ]


class StartUploadRequest(_Body):
    target: ObjectTarget
    part_count: Annotated[
        int,
        Meta(
            ge=1, le=MAX_PARTS, description="Parts of 5 MiB to 5 GiB each, the last one smaller (S3's rules)."
        ),
    ]
    content_type: Annotated[MediaType, Meta(description="The stored object's `Content-Type`.")] | None = None
    expires_in: (
        Annotated[
            PresignSeconds,
            Meta(
                description="Seconds the part URLs live (default 3600, at most MAX_PRESIGN_EXPIRES_SECONDS)."
            ),
        ]
        | None
    ) = None
    role: RoleChoice | None = None


class PartUrlsRequest(_Body):
    target: ObjectTarget
    upload_id: UploadId
    part_numbers: Annotated[
        list[PartNumber],
        Meta(min_length=1, max_length=MAX_PART_URLS_PER_ANSWER, extra_json_schema={"uniqueItems": True}),
    ]
    expires_in: PresignSeconds | None = None
    role: RoleChoice | None = None


class CompletedPart(_Body):
    part_number: PartNumber
    etag: Annotated[
        str,
        Meta(
            max_length=MAX_ETAG_CHARS,
            description="The part's ETag as S3 answered it, with or without its quotes.",
            extra_json_schema={"minLength": 1, "pattern": '^"?[!#-~]+"?$'},
        ),
    ]


class CompleteUploadRequest(_Body):
    target: ObjectTarget
    upload_id: UploadId
    parts: Annotated[
        list[CompletedPart],
        Meta(
            min_length=1,
            max_length=MAX_PARTS,
            description="Every part, in ascending partNumber order, with the ETag S3 answered for it.",
        ),
    ]
    role: RoleChoice | None = None


class AbortUploadRequest(_Body):
    target: ObjectTarget
    upload_id: UploadId
    role: RoleChoice | None = None


# --- query strings ----------------------------------------------------------------------------------


S3Method = Literal["PUT", "GET", "HEAD", "POST", "DELETE", "PATCH", "OPTIONS"]
S3Headers = Annotated[
    dict[Annotated[str, Meta(min_length=1, max_length=256)], list[Annotated[str, Meta(max_length=8192)]]],
    Meta(max_length=100, description="Header name to its values, as the S3 request carries them."),
]


class S3SignRequest(_Body):
    """Apache Iceberg's `S3SignRequest` (`s3-signer-open-api.yaml`): one S3 request a client is about to
    send."""

    region: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=64,
            description="The client's Region (the service signs for the bucket's own).",
        ),
    ]
    uri: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=8192,
            description="The S3 request's URL, path-style or virtual-hosted, on the deployment's S3 "
            "endpoint.",
        ),
    ]
    method: S3Method
    headers: S3Headers
    properties: dict[str, str] | None = None
    body: Annotated[
        str | None,
        Meta(description="The request body, for DeleteObjects (which names its keys there) only."),
    ] = None
    provider: Annotated[
        Literal["s3"] | None,
        Meta(
            description="The storage provider, sent by Iceberg 1.11 and later (`RemoteSignRequest`); "
            "only `s3` is served."
        ),
    ] = None


class RoleQuery(_Body):
    role: RoleChoice | None = None


class GrantsQuery(_Body):
    scope: Annotated[GrantScope, Meta(description="Only grants within this scope.")] | None = None
    next_token: (
        Annotated[GrantsPageToken, Meta(description="The `nextToken` of the previous page.")] | None
    ) = None
    max_results: (
        Annotated[int, Meta(ge=1, le=MAX_GRANTS_PAGE, description="Grants per page (default 100).")] | None
    ) = None
    role: RoleChoice | None = None


class CredentialsQuery(_Body):
    format: (
        Annotated[
            Literal["json", "credential_process"],
            Meta(description="`credential_process` answers the AWS SDK credential_process document instead."),
        ]
        | None
    ) = None


class ObjectsQuery(_Body):
    prefix: Annotated[
        ListPrefix,
        Meta(
            description='A "folder" (`s3://bucket/` or `s3://bucket/some/prefix/`); a READ grant must '
            "cover it."
        ),
    ]
    continuation_token: (
        Annotated[
            PageToken, Meta(description="The `nextContinuationToken` of the previous page, same prefix.")
        ]
        | None
    ) = None
    page_size: (
        Annotated[
            int,
            Meta(
                ge=1, le=MAX_LIST_PAGE, description="Entries (objects plus folders) per page (default 200)."
            ),
        ]
        | None
    ) = None
    role: RoleChoice | None = None


class NoQuery(_Body):
    """No query parameter at all."""


# --- responses --------------------------------------------------------------------------------------


class Health(_Answer):
    status: Literal["ok"]
    version: Annotated[str, Meta(min_length=1, max_length=64)]


class Me(_Answer):
    subject: Annotated[str, Meta(min_length=1)]
    email: str | None
    identity_mode: Literal["identity-center", "iam-role"]
    groups: list[str]
    role_arn: Annotated[
        str,
        Meta(
            pattern="^arn:aws[a-z-]*:iam::[0-9]{12}:role/",
            description="identity-center mode: the identity-bearer role; iam-role mode: the department role.",
        ),
    ]
    session_name: Annotated[str, Meta(min_length=2, max_length=64)]
    directory_user_id: (
        Annotated[str, Meta(description="identity-center mode only: the Identity Center user of the token.")]
        | None
    ) = None
    group: (
        Annotated[str, Meta(description="iam-role mode only: the group whose role the service acts as.")]
        | None
    ) = None
    source_identity: (
        Annotated[str, Meta(description="iam-role mode only: the SourceIdentity set on the role session.")]
        | None
    ) = None


class Grant(_Answer):
    grant_scope: Annotated[str, Meta(min_length=1)]
    permission: Permission
    application_arn: str | None


class GrantList(_Answer):
    grants: list[Grant]
    next_token: GrantsPageToken | None


class Credentials(_Answer):
    access_key_id: Annotated[str, Meta(min_length=16, max_length=128)]
    secret_access_key: Annotated[str, Meta(min_length=1)]
    session_token: Annotated[str, Meta(min_length=1)]
    expiration: Timestamp


class Grantee(_Answer):
    type: Literal["IAM", "DIRECTORY_USER", "DIRECTORY_GROUP"]
    identifier: Annotated[str, Meta(min_length=1)]


class CredentialsResponse(_Answer):
    credentials: Credentials
    matched_grant_target: Annotated[str, Meta(min_length=1)]
    grantee: Grantee


class CredentialProcessDocument(Struct, forbid_unknown_fields=True, kw_only=True):
    """What an AWS SDK expects from a `credential_process`."""

    Version: Literal[1]
    AccessKeyId: Annotated[str, Meta(min_length=16, max_length=128)]
    SecretAccessKey: Annotated[str, Meta(min_length=1)]
    SessionToken: Annotated[str, Meta(min_length=1)]
    Expiration: Timestamp


class PresignedUrl(_Answer):
    url: Url
    method: Literal["GET", "PUT"]
    headers: Annotated[
        dict[str, str],
        Meta(
            description="Headers the request must carry for the signature to match (PUT with a type or size)."
        ),
    ]
    expires_at: Timestamp


class PresignedPost(_Answer):
    """A browser form upload: POST `multipart/form-data` to `url` with every field of `fields`, then `key`
    (when `fields` has none: any key under the target's prefix), then the file last."""

    url: Url
    method: Literal["POST"]
    fields: Annotated[
        dict[str, str],
        Meta(description="The form fields, the signed policy and its SigV4 signature among them."),
    ]
    expires_at: Timestamp
    max_bytes: Annotated[int, Meta(ge=1)]


class Problem(_Answer):
    """RFC 9457 problem details."""

    type: Annotated[str, Meta(min_length=1)]
    title: Annotated[str, Meta(min_length=1)]
    status: Annotated[int, Meta(ge=400, le=599)]
    detail: str
    code: Annotated[str, Meta(min_length=1)]
    request_id: str | None


class ItemProblem(Problem):
    """The problem of one batch item (400 invalid or 403 denied, 429 past the request's upstream cap)."""

    status: Literal[400, 403, 429]


class PresignBatchResponse(_Answer):
    results: Annotated[
        list[Any],
        Meta(
            min_length=1,
            max_length=MAX_BATCH_ITEMS,
            description="One result or problem per item, in the order of the request.",
            extra_json_schema={
                "items": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/PresignedUrl"},
                        {"$ref": "#/components/schemas/PresignedPost"},
                        {"$ref": "#/components/schemas/ItemProblem"},
                    ]
                }
            },
        ),
    ]


class PartUrl(_Answer):
    part_number: PartNumber
    url: Annotated[
        Url, Meta(description="A presigned UploadPart (PUT); the answer's `ETag` header is the part's etag.")
    ]


class UploadStarted(_Answer):
    upload_id: UploadId
    target: ObjectTarget
    parts: Annotated[
        list[PartUrl],
        Meta(
            min_length=1,
            max_length=MAX_PART_URLS_PER_ANSWER,
            description="One URL per part, the first 1,000.",
        ),
    ]
    expires_at: Timestamp
    part_count: Annotated[int, Meta(ge=1, le=MAX_PARTS)] | None = None
    next_part_number: (
        Annotated[
            int,
            Meta(
                ge=MAX_PART_URLS_PER_ANSWER + 1,
                description="Present when partCount exceeds 1,000: ask POST /v1/uploads/parts from here on.",
            ),
        ]
        | None
    ) = None


class PartUrls(_Answer):
    parts: Annotated[list[PartUrl], Meta(min_length=1, max_length=MAX_PART_URLS_PER_ANSWER)]
    expires_at: Timestamp


class UploadCompleted(_Answer):
    target: ObjectTarget
    etag: str


class ObjectEntry(_Answer):
    key: Annotated[str, Meta(min_length=1)]
    target: Annotated[str, Meta(min_length=1, description="`s3://bucket/key`, ready for POST /v1/presign.")]
    size: Annotated[int, Meta(ge=0)]
    last_modified: Timestamp
    etag: str | None = None


class ObjectList(_Answer):
    prefix: str
    objects: list[ObjectEntry]
    prefixes: Annotated[list[str], Meta(description="Sub-folders, as `s3://bucket/prefix/sub/`.")]
    next_continuation_token: PageToken | None


class S3SignResponse(_Answer):
    """Iceberg's `S3SignResponse`: where to send the request, and every header to send it with (the
    client's, then Authorization, X-Amz-Date, X-Amz-Content-SHA256 and X-Amz-Security-Token)."""

    uri: Url
    headers: S3Headers


class IcebergError(_Answer):
    message: str
    type: Annotated[str, Meta(min_length=1)]
    code: Annotated[int, Meta(ge=400, le=599)]


class IcebergErrorResponse(_Answer):
    """Iceberg's `IcebergErrorResponse` (the REST catalog's error model), which Iceberg's signer clients
    read."""

    error: IcebergError


class GatewayMessage(Struct, forbid_unknown_fields=True):
    """API Gateway's own refusals (authorizer, payload limit, throttling)."""

    message: str
