"""How the Iceberg signer reads an S3 request (`domain.remote_signing.read_s3_call`): which bucket, key
and operation a URI names, in path and virtual-hosted style, locally and on AWS's hosts, and which ones it
refuses before any credential is vended. The requests signed and sent to S3 are in
tests/integration/test_iceberg_signer.py."""

from __future__ import annotations

import pytest

from domain.errors import AccessDenied, InvalidRequest
from domain.remote_signing import S3RequestToSign, read_s3_call

pytestmark = pytest.mark.unit

LOCAL = "http://127.0.0.1:4000"


def read(uri: str, method: str = "GET", endpoint: str | None = LOCAL, **headers: str):
    request = S3RequestToSign(
        region="us-east-1", uri=uri, method=method, headers={name: [value] for name, value in headers.items()}
    )
    return read_s3_call(request, endpoint_url=endpoint)


@pytest.mark.parametrize(
    ("uri", "method", "endpoint", "operation", "host", "path", "needs", "region"),
    [
        (
            f"{LOCAL}/shopfast-data/feedback/a%20b/c.parquet",
            "GET",
            LOCAL,
            "GetObject",
            "127.0.0.1:4000",
            "/shopfast-data/feedback/a%20b/c.parquet",
            "s3://shopfast-data/feedback/a b/c.parquet",
            None,
        ),
        (
            "http://shopfast-data.localhost:4566/feedback/x?uploads",
            "POST",
            "http://localhost:4566",
            "CreateMultipartUpload",
            "shopfast-data.localhost:4566",
            "/feedback/x",
            "s3://shopfast-data/feedback/x",
            None,
        ),
        (
            "https://shopfast-data.s3.eu-west-1.amazonaws.com/feedback/t?partNumber=2&uploadId=u%2Bv",
            "PUT",
            None,
            "UploadPart",
            "shopfast-data.s3.eu-west-1.amazonaws.com",
            "/feedback/t",
            "s3://shopfast-data/feedback/t",
            "eu-west-1",
        ),
        (
            "https://shopfast-data.s3.amazonaws.com/feedback/t",
            "HEAD",
            None,
            "HeadObject",
            "shopfast-data.s3.amazonaws.com",
            "/feedback/t",
            "s3://shopfast-data/feedback/t",
            None,
        ),
        (
            "https://s3.dualstack.us-west-2.amazonaws.com:443/shopfast-data/k%2Fv",
            "DELETE",
            None,
            "DeleteObject",
            "s3.dualstack.us-west-2.amazonaws.com",
            "/shopfast-data/k/v",
            "s3://shopfast-data/k/v",
            "us-west-2",
        ),
        (
            "https://s3.us-east-1.amazonaws.com/shopfast-data?list-type=2&prefix=feedback%2Ficeberg%2F",
            "GET",
            None,
            "ListObjectsV2",
            "s3.us-east-1.amazonaws.com",
            "/shopfast-data/",
            "s3://shopfast-data/feedback/iceberg/*",
            "us-east-1",
        ),
        (
            f"{LOCAL}/shopfast-data/feedback/t?uploadId=u&max-parts=5",
            "GET",
            LOCAL,
            "ListParts",
            "127.0.0.1:4000",
            "/shopfast-data/feedback/t",
            "s3://shopfast-data/feedback/t",
            None,
        ),
    ],
)
def test_the_bucket_key_and_operation_a_uri_names(
    uri, method, endpoint, operation, host, path, needs, region
):
    call = read(uri, method, endpoint)
    assert call.operation.name == operation
    assert (call.bucket, call.host, call.path, call.host_region) == ("shopfast-data", host, path, region)
    assert [str(target) for target in call.needs] == [needs]


def test_the_answered_uri_is_the_one_whose_key_and_query_were_checked() -> None:
    call = read(f"{LOCAL}/shopfast-data/feedback/a+b%7E?partNumber=1&uploadId=x%2By", "PUT")
    assert call.uri == f"{LOCAL}/shopfast-data/feedback/a%2Bb~?partNumber=1&uploadId=x%2By"
    assert str(call.needs[0]) == "s3://shopfast-data/feedback/a+b~"


@pytest.mark.parametrize(
    ("uri", "method", "endpoint", "refusal"),
    [
        ("ftp://127.0.0.1:4000/shopfast-data/k", "GET", LOCAL, InvalidRequest),
        ("http://user@127.0.0.1:4000/shopfast-data/k", "GET", LOCAL, InvalidRequest),
        ("http://127.0.0.1:4001/shopfast-data/k", "GET", LOCAL, InvalidRequest),  # another endpoint
        ("https://127.0.0.1:4000/shopfast-data/k", "GET", LOCAL, InvalidRequest),  # another scheme
        ("http://s3.us-east-1.amazonaws.com/shopfast-data/k", "GET", None, InvalidRequest),  # not https
        ("https://s3.amazonaws.com.evil.example/shopfast-data/k", "GET", None, InvalidRequest),
        ("https://evil.example/shopfast-data/k", "GET", None, InvalidRequest),
        ("https://s3.us-east-1.amazonaws.com:8443/shopfast-data/k", "GET", None, InvalidRequest),
        (f"{LOCAL}/shopfast-data/k?partNumber=1&partNumber=2", "GET", LOCAL, InvalidRequest),
        (f"{LOCAL}/shopfast-data/feedback/../transactions/x", "GET", LOCAL, InvalidRequest),
        (f"{LOCAL}/", "GET", LOCAL, AccessDenied),  # ListBuckets
        (f"{LOCAL}/shopfast-data/k?acl", "PUT", LOCAL, AccessDenied),
        (f"{LOCAL}/shopfast-data/k?tagging", "GET", LOCAL, AccessDenied),
        (f"{LOCAL}/shopfast-data?policy", "PUT", LOCAL, AccessDenied),
        (f"{LOCAL}/shopfast-data", "GET", LOCAL, AccessDenied),  # ListObjects v1
        (f"{LOCAL}/shopfast-data?list-type=1", "GET", LOCAL, AccessDenied),
        (f"{LOCAL}/shopfast-data/k", "PATCH", LOCAL, AccessDenied),
        (f"{LOCAL}/shopfast-data/k?restore", "POST", LOCAL, AccessDenied),
        (f"{LOCAL}/shopfast-data?delete", "POST", LOCAL, InvalidRequest),  # without its body
    ],
)
def test_what_is_refused_before_any_credential_is_vended(uri, method, endpoint, refusal) -> None:
    with pytest.raises(refusal):
        read(uri, method, endpoint)
