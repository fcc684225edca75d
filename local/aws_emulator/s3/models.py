"""What an S3 request needs, in IAM terms, and the bucket's CORS rules.

`required(...)` maps an S3 operation to the IAM actions, resources and condition keys S3 authorizes it
with (Service Authorization Reference, "Actions defined by Amazon S3"; each API reference page's
"Permissions"): GetObject and HeadObject need `s3:GetObject` (with a version: `s3:GetObjectVersion`),
multipart uploads need `s3:PutObject`, CopyObject also `s3:GetObject` on its source (DeleteObjects
authorizes `s3:DeleteObject` per key, in `multipart`), ListObjects(V2) `s3:ListBucket` on the bucket
with `s3:prefix`, HeadBucket `s3:ListBucket`. The session policy of vended credentials and the bucket
policy are then evaluated by the one policy evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote

from moto.core.request import Request

from local.aws_emulator.core import moto_models


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    keys: dict[str, str] = field(default_factory=dict)


_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "GetObjectAcl": "s3:GetObjectAcl",
    "GetObjectAttributes": "s3:GetObjectAttributes",
    "GetObjectTagging": "s3:GetObjectTagging",
    "GetObjectRetention": "s3:GetObjectRetention",
    "GetObjectLegalHold": "s3:GetObjectLegalHold",
    "ListParts": "s3:ListMultipartUploadParts",
    "PutObject": "s3:PutObject",
    "PostObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "PutObjectAcl": "s3:PutObjectAcl",
    "PutObjectTagging": "s3:PutObjectTagging",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "RestoreObject": "s3:RestoreObject",
}
_VERSIONED = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
}
_BUCKET_ACTIONS = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
}
_LIST_KEYS = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"}


def required(operation: str, params: dict[str, Any], request: Request) -> list[Need]:
    """The IAM permissions S3 checks for this request."""
    bucket = params.get("Bucket", "")
    if operation in _BUCKET_ACTIONS:
        keys = {key: request.args[arg] for arg, key in _LIST_KEYS.items() if arg in request.args}
        return [Need(_BUCKET_ACTIONS[operation], f"arn:aws:s3:::{bucket}", keys)]
    if operation in _OBJECT_ACTIONS:
        action = _OBJECT_ACTIONS[operation]
        if "versionId" in request.args:
            action = _VERSIONED.get(action, action)
        needs = [Need(action, f"arn:aws:s3:::{bucket}/{params.get('Key', '')}")]
        if operation in ("CopyObject", "UploadPartCopy"):
            source = unquote(request.headers.get("x-amz-copy-source", "").split("?", 1)[0]).lstrip("/")
            needs.append(Need("s3:GetObject", f"arn:aws:s3:::{source}"))
        return needs
    # Every other operation is an account or bucket operation of its own name.
    resource = f"arn:aws:s3:::{bucket}" if bucket else "*"
    return [Need(f"s3:{operation}", resource)]


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
