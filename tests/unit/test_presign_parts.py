"""The pure parts of presigning and listing: download names, request validation, listing tokens, and
the expiry of a signed URL (signing is local: no AWS call, no emulator needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import msgspec
import pytest
from botocore.config import Config

from adapters.loopback import is_loopback_url
from adapters.s3_signer import S3Presigner
from domain.config import ServiceConfig
from domain.credentials import AwsCredentials
from domain.errors import InvalidRequest
from domain.objects import unwrap_token, wrap_token
from domain.presign import usable_seconds
from domain.signing import PresignItem, content_disposition
from domain.targets import parse_target
from edge.requests.objects import parse_list_request
from edge.requests.presign import parse_batch, parse_presign_request

pytestmark = pytest.mark.unit

CONFIG = ServiceConfig.from_env(
    {
        "JWT_ISSUER": "https://issuer.example.com",
        "JWT_AUDIENCE": "shopfast-vending",
        "IDC_APPLICATION_ARN": (
            "arn:aws:sso::222222222222:application/ssoins-7223c0ffee5e1a7d/apl-5a1e5c0ffee0b1d8"
        ),
        "IDENTITY_BEARER_ROLE_ARN": "arn:aws:iam::111111111111:role/shopfast-identity-bearer",
        "ACCESS_GRANTS_ACCOUNT_ID": "111111111111",
        "ALLOWED_BUCKETS": "shopfast-data,shopfast-internal",
        "MAX_PRESIGN_EXPIRES_SECONDS": "600",
    }
)
CREDENTIALS = AwsCredentials(
    access_key_id="ASIAEXAMPLEEXAMPLE12",
    secret_access_key="example-secret",
    session_token="example-session-token",
    expiration=datetime.now(UTC) + timedelta(hours=1),
)


@pytest.mark.parametrize(
    ("filename", "fallback", "encoded"),
    [
        ("report.csv", "report.csv", "report.csv"),
        ("Übersicht 2026.csv", "_bersicht 2026.csv", "%C3%9Cbersicht%202026.csv"),
        ('a"b\\c;d%e.txt', "a_b_c_d_e.txt", "a%22b%5Cc%3Bd%25e.txt"),
        ("日本.txt", "__.txt", "%E6%97%A5%E6%9C%AC.txt"),
    ],
)
def test_download_names_are_quoted_safely(filename: str, fallback: str, encoded: str) -> None:
    value = content_disposition(filename)

    assert value == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    assert unquote(encoded) == filename
    assert all(0x20 <= ord(char) < 0x7F for char in value)  # a header value S3 can echo back verbatim


def test_a_request_defaults_to_300_seconds_and_an_object_target() -> None:
    request = parse_presign_request({"target": "s3://shopfast-data/users/user_list", "method": "GET"}, CONFIG)

    assert request.expires_in == 300
    assert request.permission == "READ"
    assert request.grant_target.key == "users/user_list" and not request.grant_target.is_prefix


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"target": "s3://other-bucket/a", "method": "GET"}, "not served"),
        ({"target": "s3://shopfast-data/a", "method": "GET", "expiresIn": 601}, "between 1 and 600"),
        ({"target": "s3://shopfast-data/a", "method": "GET", "expiresIn": True}, "must be an integer"),
        ({"target": "s3://shopfast-data/a", "method": "PUT", "contentType": "text"}, "contentType"),
        ({"target": "s3://shopfast-data/a", "method": "GET", "filename": ".."}, "filename"),
        ({"target": "s3://shopfast-data/a", "method": "GET", "filename": "a\nb"}, "filename"),
        ({"target": "s3://shopfast-data/a", "method": "GET", "filename": "a\ud800"}, "filename"),
    ],
)
def test_invalid_requests_say_why(body: dict, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_presign_request(body, CONFIG)
    assert fragment in raised.value.detail


def test_a_batch_keeps_each_items_problem_in_place() -> None:
    parsed = parse_batch(
        {
            "objects": [
                {"target": "s3://shopfast-data/a", "method": "GET"},
                7,
                {"target": "s3://shopfast-data/*"},
            ]
        },
        CONFIG,
    )

    assert isinstance(parsed[0], PresignItem)
    assert isinstance(parsed[1], InvalidRequest) and parsed[1].detail == "objects[1] must be an object"
    assert isinstance(parsed[2], InvalidRequest) and parsed[2].detail.startswith("objects[2].")


def test_a_presigned_url_expires_exactly_when_it_says() -> None:
    signer = S3Presigner(endpoint_url="http://127.0.0.1:4000")
    request = parse_presign_request(
        {"target": "s3://shopfast-data/users/in.csv", "method": "PUT", "contentType": "text/csv"}, CONFIG
    )

    presigned = signer.presign(request, CREDENTIALS, 120, "ap-southeast-2")

    parts = urlsplit(presigned.url)
    query = parse_qs(parts.query)
    assert parts.path == "/shopfast-data/users/in.csv"  # path-style on a loopback endpoint
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["content-type;host"]
    assert query["X-Amz-Credential"][0].split("/")[2] == "ap-southeast-2"  # the bucket's Region signs
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert presigned.expires_at == signed_at + timedelta(seconds=120)
    assert presigned.headers == {"Content-Type": "text/csv"}
    assert "url" not in repr(presigned)  # the signature never reaches a log through repr


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-2"])
@pytest.mark.parametrize(
    "endpoint_url",
    ["http://127.0.0.1:4000", "http://localhost:9000/base", None, "https://s3.eu-west-1.amazonaws.com"],
)
def test_presigned_urls_are_byte_for_byte_what_botocore_generates(
    endpoint_url: str | None, region: str
) -> None:
    """The signer builds URLs itself (bucket URL resolved once per Region, botocore's S3SigV4QueryAuth per
    URL): they must equal botocore's generate_presigned_url in that Region, whatever the key, endpoint and
    parameters."""
    signer = S3Presigner(endpoint_url=endpoint_url)
    addressing = {"addressing_style": "path"} if is_loopback_url(endpoint_url) else {}
    reference = boto3.session.Session().client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=CREDENTIALS.access_key_id,
        aws_secret_access_key=CREDENTIALS.secret_access_key,
        aws_session_token="token+/=with?odd&chars",
        config=Config(signature_version="s3v4", s3=addressing),
    )
    credentials = msgspec.structs.replace(CREDENTIALS, session_token="token+/=with?odd&chars")
    keys = ["users/user_list", "a b/c+d=e&f;g", "ünï/çødé ✓", "x/~tilde/%41", "q?x#y"]
    items = [{"method": "GET"}, {"method": "GET", "filename": 'rép ort;"x".csv'}, {"method": "PUT"}]
    items.append({"method": "PUT", "contentType": "text/csv; charset=utf-8"})
    for bucket in ("shopfast-data", "shopfast-internal"):
        for key in keys:
            for item in items:
                request = parse_presign_request({"target": f"s3://{bucket}/{key}", **item}, CONFIG)
                params = {"Bucket": bucket, "Key": key}
                if "filename" in item:
                    params["ResponseContentDisposition"] = content_disposition(item["filename"])
                if "contentType" in item:
                    params["ContentType"] = item["contentType"]
                operation = "get_object" if item["method"] == "GET" else "put_object"
                for _ in range(5):  # both inside the same second, so that X-Amz-Date is the same
                    ours = signer.presign(request, credentials, 120, region).url
                    botocores = reference.generate_presigned_url(
                        operation, Params=params, ExpiresIn=120, HttpMethod=item["method"]
                    )
                    if _amz_date(ours) == _amz_date(botocores):
                        break
                assert ours == botocores


def _amz_date(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Date"][0]


def test_usable_seconds_keep_a_margin_before_the_credentials_expire() -> None:
    now = datetime.now(UTC)
    credentials = AwsCredentials("ASIAEXAMPLEEXAMPLE12", "s", "t", now + timedelta(seconds=100))

    assert usable_seconds(credentials, now) == 70


def test_listing_tokens_round_trip_and_are_bound_to_their_prefix() -> None:
    token = wrap_token("s3-token/with+odd=chars", "s3://shopfast-data/users/")

    assert unwrap_token(token, "s3://shopfast-data/users/") == "s3-token/with+odd=chars"
    with pytest.raises(InvalidRequest):
        unwrap_token(token, "s3://shopfast-data/feedback/")
    with pytest.raises(InvalidRequest):
        unwrap_token("!!" + token, "s3://shopfast-data/users/")


def test_a_listing_request_is_a_folder_with_a_bounded_page() -> None:
    request = parse_list_request({"prefix": "s3://shopfast-data/users/", "pageSize": "25"}, CONFIG)

    assert (request.folder.bucket, request.folder.key, request.folder.is_prefix) == (
        "shopfast-data",
        "users/",
        True,
    )
    assert request.page_size == 25 and request.continuation_token is None
    assert str(parse_target("s3://shopfast-data/users/*")) == f"{request.prefix}*"
