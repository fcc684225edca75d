"""What an S3 request needs, in IAM terms, and the bucket's CORS rules.

`required(...)` maps an S3 operation to the IAM actions, resources and condition keys S3 authorizes it with
(Service Authorization Reference, "Actions defined by Amazon S3"; each API reference page's "Permissions").
The action is moto's (`moto.s3.responses.ACTION_MAP`, by resource, method and sub-resource) where moto names
it right; `MOTO_IS_WRONG` overrides it in one place where moto names an action IAM does not have
(HeadBucket, SelectObject) or falls back to the wrong one (ListBuckets, DeleteObjectTagging,
GetObjectAttributes, retention and legal hold). moto's fallback (its `DEFAULT`) is taken only for the
operations it stands for (`MOTO_DEFAULT_OPERATIONS`): for any other sub-resource it would name a wider
action (GetBucketEncryption as `s3:ListBucket`), so the operation's own name is the action instead. A
versioned request asks for the version's action (`s3:GetObjectVersion`…). CopyObject also needs
`s3:GetObject` on its source (DeleteObjects authorizes `s3:DeleteObject` per key, in `multipart`); the list
operations carry `s3:prefix`, `s3:delimiter` and `s3:max-keys`. The session policy of vended credentials and
the bucket policy are then evaluated by the one policy evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote

from moto.core.request import Request
from moto.s3.responses import ACTION_MAP

from local.aws_emulator.core import moto_models


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    keys: dict[str, str] = field(default_factory=dict)


MOTO_IS_WRONG = {
    "HeadBucket": "s3:ListBucket",  # moto: s3:HeadBucket, not an IAM action
    "ListBuckets": "s3:ListAllMyBuckets",  # moto: s3:ListBucket
    "SelectObjectContent": "s3:GetObject",  # moto: s3:SelectObject, not an IAM action
    "DeleteObjectTagging": "s3:DeleteObjectTagging",  # moto: s3:DeleteObject
    "GetObjectAttributes": "s3:GetObjectAttributes",  # moto: s3:GetObject
    "GetObjectRetention": "s3:GetObjectRetention",
    "PutObjectRetention": "s3:PutObjectRetention",
    "GetObjectLegalHold": "s3:GetObjectLegalHold",
    "PutObjectLegalHold": "s3:PutObjectLegalHold",
    # moto has no entry; its fallback would say s3:ListBucket.
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
}
MOTO_DEFAULT_OPERATIONS = frozenset(
    {
        "GetObject",
        "HeadObject",
        "PutObject",
        "UploadPart",
        "UploadPartCopy",
        "CopyObject",
        "DeleteObject",
        "ListObjects",
        "ListObjectsV2",
        "CreateBucket",
        "DeleteBucket",
    }
)
_VERSIONED = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
}
_LISTINGS = {"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"}
_LIST_KEYS = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"}


def action_of(operation: str, params: dict[str, Any], request: Request) -> str:
    """The IAM action S3 authorizes this request with."""
    if operation in MOTO_IS_WRONG:
        action = MOTO_IS_WRONG[operation]
    else:
        table = ACTION_MAP["KEY" if params.get("Key") else "BUCKET"].get(request.method, {})
        named = next((a for query, a in table.items() if query != "DEFAULT" and query in request.args), None)
        if named is None and operation in MOTO_DEFAULT_OPERATIONS:
            named = table.get("DEFAULT")
        action = f"s3:{named or operation}"
    if "versionId" in request.args:
        action = _VERSIONED.get(action, action)
    return action


def required(operation: str, params: dict[str, Any], request: Request) -> list[Need]:
    """The IAM permissions S3 checks for this request."""
    bucket, key = params.get("Bucket", ""), params.get("Key")
    action = action_of(operation, params, request)
    if key is not None:
        needs = [Need(action, f"arn:aws:s3:::{bucket}/{key}")]
        if operation in ("CopyObject", "UploadPartCopy"):
            source = unquote(request.headers.get("x-amz-copy-source", "").split("?", 1)[0]).lstrip("/")
            needs.append(Need("s3:GetObject", f"arn:aws:s3:::{source}"))
        return needs
    if action in _LISTINGS:
        keys = {name: request.args[arg] for arg, name in _LIST_KEYS.items() if arg in request.args}
        return [Need(action, f"arn:aws:s3:::{bucket}", keys)]
    return [Need(action, f"arn:aws:s3:::{bucket}" if bucket else "*")]


# --- CORS ------------------------------------------------------------------------------------------


def cors_rule(bucket: str, origin: str, method: str, request_headers: list[str]) -> Any | None:
    """The first of the bucket's CORS rules matching origin, method and requested headers (S3 User
    Guide, "How does Amazon S3 evaluate the CORS configuration on a bucket?")."""
    found = moto_models.s3_bucket(bucket)
    for rule in (found.cors or []) if found is not None else []:
        if not any(fnmatchcase(origin, allowed) for allowed in rule.allowed_origins or []):
            continue
        if method not in (rule.allowed_methods or []):
            continue
        allowed_headers = [h.lower() for h in rule.allowed_headers or []]
        if all(any(fnmatchcase(h.lower(), a) for a in allowed_headers) for h in request_headers):
            return rule
    return None


def bucket_region(bucket: str) -> str | None:
    """The Region a bucket was created in (its CreateBucket LocationConstraint), or None: no such bucket."""
    found = moto_models.s3_bucket(bucket)
    return getattr(found, "region_name", None) if found is not None else None


def upload_exists(bucket: str, upload_id: str) -> bool:
    """Whether the bucket holds this multipart upload (not yet completed or aborted)."""
    found = moto_models.s3_bucket(bucket)
    return found is not None and upload_id in found.multiparts


def bucket_policy(bucket: str) -> str | None:
    found = moto_models.s3_bucket(bucket)
    if found is None or found.policy is None:
        return None
    return found.policy.decode() if isinstance(found.policy, bytes) else found.policy


def set_content_type(bucket: str, key: str, content_type: str) -> None:
    found = moto_models.s3_bucket(bucket)
    stored = found.keys.get(key) if found is not None else None
    if stored is not None:
        stored.set_metadata({"Content-Type": content_type})
