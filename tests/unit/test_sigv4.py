"""The service's own SigV4 signers (`adapters.sigv4`, signing key derived once) against botocore: the
query signer against `generate_presigned_url` and the header signer against `S3SigV4Auth`, byte for byte,
over thousands of random keys, methods, queries, headers, expiries, content types, sizes, file names,
Regions, endpoints, instants and credentials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs, quote, urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.loopback import is_loopback_url
from adapters.s3_signer import S3Presigner
from adapters.sigv4 import SigningKeys, sign_headers
from domain.credentials import AwsCredentials
from domain.signing import PresignItem, content_disposition
from domain.targets import GrantTarget

pytestmark = pytest.mark.unit

ENDPOINTS = [
    "http://127.0.0.1:4000",
    "http://localhost:9000/base",
    None,
    "https://s3.eu-west-1.amazonaws.com",
]
REGIONS = ["us-east-1", "ap-southeast-2", "eu-west-1"]
BUCKETS = ["shopfast-data", "shopfast-internal", "a.b-c"]
_reference_clients: dict[tuple, object] = {}
_signers: dict[str | None, S3Presigner] = {}

# Keys: any UTF-8 text S3 accepts, slashes, spaces, reserved and unreserved characters, non-ASCII.
keys = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60).filter(
    lambda key: not key.startswith("/")
)
content_types = st.sampled_from(
    ["text/csv", "text/plain; charset=utf-8", "application/octet-stream", "image/svg+xml", 'a/b; x="y z"']
)
# A few credential sets, one reference client each (a boto3 client per example would take minutes).
CREDENTIALS = [
    AwsCredentials("ASIAEXAMPLEEXAMPLE12", "s3cr3t/With+Chars=", None, datetime(2030, 1, 1, tzinfo=UTC)),  # type: ignore[arg-type]
    AwsCredentials(
        "ASIAEXAMPLEEXAMPLE34", "plain", "FwoGZXIvYXdzEBYaD+/=" * 40, datetime(2030, 1, 1, tzinfo=UTC)
    ),
    AwsCredentials("AKIAEXAMPLEEXAMPLE56", "x" * 40, "t", datetime(2030, 1, 1, tzinfo=UTC)),
]


def reference(endpoint: str | None, region: str, credentials: AwsCredentials):
    cache_key = (
        endpoint,
        region,
        credentials.access_key_id,
        credentials.secret_access_key,
        credentials.session_token,
    )
    client = _reference_clients.get(cache_key)
    if client is None:
        addressing = {"addressing_style": "path"} if is_loopback_url(endpoint) else {}
        client = _reference_clients[cache_key] = boto3.session.Session().client(
            "s3",
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=Config(signature_version="s3v4", s3=addressing),
        )
    return client


def same_second(ours, botocores):
    """Both URLs inside one second (X-Amz-Date has a one-second resolution)."""
    for _ in range(5):
        first, second = ours(), botocores()
        if parse_qs(urlsplit(first).query)["X-Amz-Date"] == parse_qs(urlsplit(second).query)["X-Amz-Date"]:
            return first, second
    raise AssertionError("could not sign both inside one second")


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=keys,
    bucket=st.sampled_from(BUCKETS),
    endpoint=st.sampled_from(ENDPOINTS),
    region=st.sampled_from(REGIONS),
    method=st.sampled_from(["GET", "PUT"]),
    expires=st.integers(min_value=1, max_value=604800),
    content_type=st.one_of(st.none(), content_types),
    content_length=st.one_of(st.none(), st.integers(min_value=0, max_value=5 * 1024**3)),
    filename=st.one_of(
        st.none(),
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
            lambda n: "/" not in n and "\\" not in n
        ),
    ),
    credentials=st.sampled_from(CREDENTIALS),
)
def test_urls_are_byte_for_byte_botocores(
    key, bucket, endpoint, region, method, expires, content_type, content_length, filename, credentials
) -> None:
    signer = _signers.setdefault(endpoint, S3Presigner(endpoint_url=endpoint))
    target = GrantTarget(bucket, key, is_prefix=False)
    request = PresignItem(
        target=str(target),
        grant_target=target,
        method=method,
        expires_in=expires,
        content_type=content_type if method == "PUT" else None,
        content_length=content_length if method == "PUT" else None,
        filename=filename if method == "GET" else None,
    )
    params = {"Bucket": bucket, "Key": key}
    if request.filename:
        params["ResponseContentDisposition"] = content_disposition(request.filename)
    if request.content_type:
        params["ContentType"] = request.content_type
    if request.content_length is not None:
        params["ContentLength"] = request.content_length
    operation = "get_object" if method == "GET" else "put_object"
    client = reference(endpoint, region, credentials)

    ours, botocores = same_second(
        lambda: signer.presign(request, credentials, expires, region).url,
        lambda: client.generate_presigned_url(operation, Params=params, ExpiresIn=expires, HttpMethod=method),
    )

    assert ours == botocores


def test_part_urls_of_large_uploads_are_botocores_too() -> None:
    credentials = AwsCredentials(
        "ASIAEXAMPLEEXAMPLE12", "secret", "token", datetime.now(UTC) + timedelta(hours=1)
    )
    signer = S3Presigner(endpoint_url="http://127.0.0.1:4000")
    client = reference("http://127.0.0.1:4000", "us-east-1", credentials)
    target = GrantTarget("shopfast-data", "feedback/big.bin", is_prefix=False)
    for number in (1, 999, 10000):

        def ours(number: int = number) -> str:
            params = {"uploadId": "u/+=", "partNumber": str(number)}
            return signer.sign("PUT", target, credentials, 3600, "us-east-1", params=params).url

        def botocores(number: int = number) -> str:
            params = {
                "Bucket": "shopfast-data",
                "Key": "feedback/big.bin",
                "UploadId": "u/+=",
                "PartNumber": number,
            }
            return client.generate_presigned_url("upload_part", Params=params, ExpiresIn=3600)

        first, second = same_second(ours, botocores)
        assert first == second


def test_the_signing_key_is_derived_once_per_secret_day_region_and_service() -> None:
    keys = SigningKeys(max_keys=3)
    first = keys.key("secret", "20261130", "us-east-1", "s3")
    assert keys.key("secret", "20261130", "us-east-1", "s3") is first
    assert len(keys) == 1
    keys.key("secret", "20261201", "us-east-1", "s3")  # another day: another key
    keys.key("secret", "20261130", "eu-west-1", "s3")
    assert len(keys) == 3
    keys.key("other", "20261130", "us-east-1", "s3")  # full: emptied, then this one
    assert len(keys) == 1
    # The AWS General Reference example ("Derive a signing key for SigV4"): secret
    # wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam.
    derived = SigningKeys().key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert derived.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


header_names = st.sampled_from(
    ["content-type", "content-md5", "x-amz-checksum-crc32", "range", "if-none-match", "x-amz-meta-note"]
)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
query_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=keys,
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]),
    query=st.lists(
        st.tuples(query_text.filter(bool), query_text), max_size=4, unique_by=lambda pair: pair[0]
    ),
    headers=st.dictionaries(header_names, header_values, max_size=4),
    host=st.sampled_from(["127.0.0.1:4000", "shopfast-data.s3.eu-west-1.amazonaws.com", "s3.amazonaws.com"]),
    region=st.sampled_from(REGIONS),
    credentials=st.sampled_from(CREDENTIALS),
    instant=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
)
def test_header_signatures_are_botocores(
    key, method, query, headers, host, region, credentials, instant
) -> None:
    """Iceberg's remote signing: `sign_headers` against botocore's `S3SigV4Auth` (header SigV4 with
    `UNSIGNED-PAYLOAD`, what PyIceberg's own client would have computed with the same keys)."""
    instant = instant.replace(microsecond=0, tzinfo=UTC)
    path = "/shopfast-data/" + quote(key, safe="/~")
    request = AWSRequest(method=method, url=f"http://{host}{path}", headers=dict(headers), params=query)
    request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    reference_auth = S3SigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_access_key, credentials.session_token),
        "s3",
        region,
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=instant.replace(tzinfo=None)):
        reference_auth.add_auth(request)

    ours = sign_headers(
        method=method,
        host=host,
        path=path,
        query=query,
        headers=headers,
        payload_hash="UNSIGNED-PAYLOAD",
        access_key=credentials.access_key_id,
        secret_key=credentials.secret_access_key,
        token=credentials.session_token,
        region=region,
        service="s3",
        now=instant,
        keys=_header_keys,
    )

    assert ours == {
        name: request.headers[name]
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256", "X-Amz-Security-Token")
        if name in request.headers
    }


_header_keys = SigningKeys()
