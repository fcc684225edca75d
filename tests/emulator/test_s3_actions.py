"""The IAM action each S3 request is authorized with (Service Authorization Reference, "Actions defined by
Amazon S3", and each S3 API reference page's "Permissions"): moto's ACTION_MAP where it is right, the
emulator's override where it is not, and never a wider action than the operation's own."""

from __future__ import annotations

import pytest
from moto.core.request import Request
from werkzeug.test import EnvironBuilder

from local.aws_emulator.core import wire
from local.aws_emulator.s3.models import Need, required

pytestmark = pytest.mark.unit


def _needs(method: str, path: str, query: str = "", headers: dict[str, str] | None = None) -> list[Need]:
    environ = EnvironBuilder(
        method=method, path=path, query_string=query, headers=headers or {}, base_url="http://127.0.0.1:4000"
    ).get_environ()
    request = Request(environ)
    routed = wire.route("s3", request)
    assert routed is not None, (method, path, query)
    operation, uri_params = routed
    return required(operation.name, uri_params, request)


@pytest.mark.parametrize(
    ("method", "path", "query", "action"),
    [
        # moto's map, right as it is
        ("GET", "/b/k", "", "s3:GetObject"),
        ("GET", "/b/k", "partNumber=2", "s3:GetObject"),
        ("GET", "/b/k", "uploadId=u", "s3:ListMultipartUploadParts"),
        ("GET", "/b/k", "tagging", "s3:GetObjectTagging"),
        ("PUT", "/b/k", "", "s3:PutObject"),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", "s3:PutObject"),
        ("POST", "/b/k", "uploads", "s3:PutObject"),
        ("POST", "/b/k", "uploadId=u", "s3:PutObject"),
        ("DELETE", "/b/k", "uploadId=u", "s3:AbortMultipartUpload"),
        ("DELETE", "/b/k", "", "s3:DeleteObject"),
        ("GET", "/b", "versions", "s3:ListBucketVersions"),
        ("GET", "/b", "uploads", "s3:ListBucketMultipartUploads"),
        ("GET", "/b", "location", "s3:GetBucketLocation"),
        # DeleteBucketCors and DeleteBucketLifecycle are authorized by the Put actions (their API pages)
        ("DELETE", "/b", "cors", "s3:PutBucketCORS"),
        ("DELETE", "/b", "lifecycle", "s3:PutLifecycleConfiguration"),
        ("GET", "/b", "lifecycle", "s3:GetLifecycleConfiguration"),
        # versioned requests ask for the version's action
        ("HEAD", "/b/k", "versionId=v1", "s3:GetObjectVersion"),
        ("GET", "/b/k", "versionId=v1", "s3:GetObjectVersion"),
        ("GET", "/b/k", "acl&versionId=v1", "s3:GetObjectVersionAcl"),
        ("DELETE", "/b/k", "versionId=v1", "s3:DeleteObjectVersion"),
        # where moto is wrong
        ("HEAD", "/b", "", "s3:ListBucket"),
        ("GET", "/", "", "s3:ListAllMyBuckets"),
        ("DELETE", "/b/k", "tagging", "s3:DeleteObjectTagging"),
        ("GET", "/b/k", "attributes", "s3:GetObjectAttributes"),
        ("GET", "/b/k", "retention", "s3:GetObjectRetention"),
        ("POST", "/b/k", "select&select-type=2", "s3:GetObject"),
        ("GET", "/b", "encryption", "s3:GetEncryptionConfiguration"),
        # moto knows nothing: the operation's own name, never moto's fallback s3:ListBucket
        ("GET", "/b", "ownershipControls", "s3:GetBucketOwnershipControls"),
        ("GET", "/b", "policyStatus", "s3:GetBucketPolicyStatus"),
    ],
)
def test_each_request_needs_its_documented_action(method: str, path: str, query: str, action: str) -> None:
    # GetObjectAttributes is routed by its required header, which every SDK sends.
    headers = {"x-amz-object-attributes": "ETag"} if query == "attributes" else None
    assert [need.action for need in _needs(method, path, query, headers)] == [action]


def test_listings_carry_their_condition_keys_and_copies_read_their_source() -> None:
    (listing,) = _needs("GET", "/b", "list-type=2&prefix=p/&delimiter=/&max-keys=5")
    assert listing == Need(
        "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "p/", "s3:delimiter": "/", "s3:max-keys": "5"}
    )
    copy = _needs("PUT", "/b/k", headers={"x-amz-copy-source": "/src/a%20b?versionId=1"})
    assert copy == [Need("s3:PutObject", "arn:aws:s3:::b/k"), Need("s3:GetObject", "arn:aws:s3:::src/a b")]
