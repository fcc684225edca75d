"""S3 refuses vended credentials the way S3 does: scope, permission, expiry, signatures, tokens; CORS."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from local.stack import LocalStack
from tests.emulator.helpers import boto_keys, get_data_access, role_session, s3_with

pytestmark = pytest.mark.integration

BUCKET = "shopfast-data"
ORIGIN = "http://127.0.0.1:3000"


@pytest.fixture
def sales_rw(stack: LocalStack) -> dict:
    return get_data_access(stack, role_session(stack, "Sales"), "s3://shopfast-data/users/*", "READWRITE")


@pytest.fixture
def support_read(stack: LocalStack) -> dict:
    return get_data_access(
        stack, role_session(stack, "CustomerSupport"), "s3://shopfast-data/users/*", "READ"
    )


def error_code(response: requests.Response) -> str:
    return response.text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def presign(
    stack: LocalStack, vended: dict, method: str, key: str, expires: int = 300, **config: object
) -> str:
    s3 = s3_with(stack, vended, **config)
    return s3.generate_presigned_url(method, Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=expires)


def replace_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_read_write_inside_the_scope_and_multipart(stack: LocalStack, sales_rw: dict) -> None:
    s3 = s3_with(stack, sales_rw)
    s3.put_object(Bucket=BUCKET, Key="users/new_list", Body=b"frank\n")
    assert s3.get_object(Bucket=BUCKET, Key="users/new_list")["Body"].read() == b"frank\n"
    assert s3.head_object(Bucket=BUCKET, Key="users/new_list")["ContentLength"] == 6
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="users/big")
    part = s3.upload_part(
        Bucket=BUCKET, Key="users/big", UploadId=upload["UploadId"], PartNumber=1, Body=b"p" * 10
    )
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="users/big",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    s3.copy_object(Bucket=BUCKET, Key="users/copy", CopySource={"Bucket": BUCKET, "Key": "users/big"})
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "users/copy"}, {"Key": "users/big"}]})
    s3.delete_object(Bucket=BUCKET, Key="users/new_list")


@pytest.mark.parametrize(
    "call",
    [
        lambda s3: s3.get_object(Bucket=BUCKET, Key="transactions/2024-01.csv"),
        lambda s3: s3.put_object(Bucket=BUCKET, Key="users-archive/x", Body=b"x"),
        lambda s3: s3.list_objects_v2(Bucket=BUCKET, Prefix="users"),
        lambda s3: s3.list_objects_v2(Bucket=BUCKET),
        lambda s3: s3.copy_object(
            Bucket=BUCKET, Key="users/stolen", CopySource={"Bucket": BUCKET, "Key": "feedback/2024-q1.csv"}
        ),
        lambda s3: s3.get_bucket_policy(Bucket=BUCKET),
        lambda s3: s3.list_buckets(),
    ],
    ids=[
        "other-prefix",
        "lookalike-prefix",
        "list-wider",
        "list-bucket",
        "copy-from-outside",
        "bucket-op",
        "list-buckets",
    ],
)
def test_outside_the_scope_is_access_denied(stack: LocalStack, sales_rw: dict, call) -> None:
    with pytest.raises(ClientError) as denied:
        call(s3_with(stack, sales_rw))
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_head_bucket_reports_the_region_on_200_and_403(stack: LocalStack, support_read: dict) -> None:
    allowed = stack.client("s3").head_bucket(Bucket=BUCKET)
    assert allowed["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    with pytest.raises(ClientError) as denied:
        s3_with(stack, support_read).head_bucket(Bucket=BUCKET)
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert denied.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"


def test_expired_credentials_are_refused(stack: LocalStack, support_read: dict) -> None:
    s3 = s3_with(stack, support_read)
    assert s3.get_object(Bucket=BUCKET, Key="users/user_list")["Body"].read()
    stack.advance_clock(3601)
    with pytest.raises(ClientError) as expired:
        s3.get_object(Bucket=BUCKET, Key="users/user_list")
    assert expired.value.response["Error"]["Code"] == "ExpiredToken"


def test_wrong_or_missing_session_token_is_refused(stack: LocalStack, support_read: dict) -> None:
    keys = boto_keys(support_read["Credentials"])
    other = stack.client(
        "s3", credentials={**keys, "aws_session_token": keys["aws_session_token"][:-4] + "AAAA"}
    )
    with pytest.raises(ClientError) as wrong:
        other.get_object(Bucket=BUCKET, Key="users/user_list")
    assert wrong.value.response["Error"]["Code"] == "InvalidToken"
    missing = stack.client("s3", credentials={k: v for k, v in keys.items() if k != "aws_session_token"})
    with pytest.raises(ClientError) as absent:
        missing.get_object(Bucket=BUCKET, Key="users/user_list")
    assert absent.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_a_wrong_secret_fails_the_signature(stack: LocalStack, support_read: dict) -> None:
    keys = boto_keys(support_read["Credentials"])
    forged = stack.client("s3", credentials={**keys, "aws_secret_access_key": "x" * 40})
    with pytest.raises(ClientError) as refused:
        forged.get_object(Bucket=BUCKET, Key="users/user_list")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_presigned_sigv4_get_and_put(stack: LocalStack, sales_rw: dict) -> None:
    put_url = presign(stack, sales_rw, "put_object", "users/presigned.txt")
    assert requests.put(put_url, data=b"via presigned PUT", timeout=10).status_code == 200
    get_url = presign(stack, sales_rw, "get_object", "users/presigned.txt")
    answer = requests.get(get_url, timeout=10)
    assert (answer.status_code, answer.content) == (200, b"via presigned PUT")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("users/user_list", "users/user_lisT"),
        lambda url: replace_query(url, **{"X-Amz-Expires": "86400"}),
        lambda url: replace_query(url, **{"X-Amz-Signature": "0" * 64}),
        lambda url: url.replace("/shopfast-data/users/user_list", "/shopfast-data/transactions/2024-01.csv"),
    ],
    ids=["key", "expires", "signature", "other-object"],
)
def test_tampered_sigv4_presigned_url_fails_its_signature(
    stack: LocalStack, support_read: dict, tamper
) -> None:
    url = presign(stack, support_read, "get_object", "users/user_list")
    assert requests.get(url, timeout=10).status_code == 200
    answer = requests.get(tamper(url), timeout=10)
    assert (answer.status_code, error_code(answer)) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("users/user_list", "users/user_lisT"),
        lambda url: replace_query(url, Expires="9999999999"),
        lambda url: replace_query(url, Signature="AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    ],
    ids=["key", "expires", "signature"],
)
def test_tampered_sigv2_presigned_url_fails_its_signature(
    stack: LocalStack, support_read: dict, tamper
) -> None:
    url = presign(stack, support_read, "get_object", "users/user_list", signature_version="s3")
    assert "AWSAccessKeyId=" in url
    assert requests.get(url, timeout=10).content == b"alice,bob,carol,dave,erin\n"
    answer = requests.get(tamper(url), timeout=10)
    assert (answer.status_code, error_code(answer)) == (403, "SignatureDoesNotMatch")


def test_sigv2_presigned_url_outside_the_scope_is_denied(stack: LocalStack, support_read: dict) -> None:
    url = presign(stack, support_read, "get_object", "users-archive/old_list", signature_version="s3")
    answer = requests.get(url, timeout=10)
    assert (answer.status_code, error_code(answer)) == (403, "AccessDenied")


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_presigned_url_expires(stack: LocalStack, support_read: dict, signature_version: str) -> None:
    url = presign(
        stack, support_read, "get_object", "users/user_list", expires=60, signature_version=signature_version
    )
    assert requests.get(url, timeout=10).status_code == 200
    stack.advance_clock(120)
    answer = requests.get(url, timeout=10)
    assert (answer.status_code, error_code(answer)) == (403, "AccessDenied")
    assert "Request has expired" in answer.text


def test_presigned_put_with_read_credentials_is_denied(stack: LocalStack, support_read: dict) -> None:
    url = presign(stack, support_read, "put_object", "users/not-allowed.txt")
    answer = requests.put(url, data=b"x", timeout=10)
    assert (answer.status_code, error_code(answer)) == (403, "AccessDenied")


def test_browser_cors_for_presigned_get_and_put(stack: LocalStack, sales_rw: dict) -> None:
    url = presign(stack, sales_rw, "put_object", "users/from-browser.txt")
    for origin in (ORIGIN, "http://localhost:5173"):
        preflight = requests.options(
            url,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type",
            },
            timeout=10,
        )
        assert preflight.status_code == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == origin
        assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    put = requests.put(url, data=b"hello", headers={"Origin": ORIGIN}, timeout=10)
    assert put.status_code == 200
    assert put.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in put.headers["Access-Control-Expose-Headers"]
    denied = requests.get(
        presign(stack, sales_rw, "get_object", "products/catalog.csv"), headers={"Origin": ORIGIN}, timeout=10
    )
    assert denied.status_code == 403
    assert denied.headers["Access-Control-Allow-Origin"] == ORIGIN  # the page can read why it failed


def test_cors_refuses_foreign_origins(stack: LocalStack, sales_rw: dict) -> None:
    url = presign(stack, sales_rw, "get_object", "users/user_list")
    preflight = requests.options(
        url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, timeout=10
    )
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    answer = requests.get(url, headers={"Origin": "https://evil.example"}, timeout=10)
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_presigned_put_binds_the_signed_content_type(stack: LocalStack, sales_rw: dict) -> None:
    s3 = s3_with(stack, sales_rw)
    url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": BUCKET, "Key": "users/typed.csv", "ContentType": "text/csv"},
        ExpiresIn=300,
    )
    ok = requests.put(url, data=b"a,b\n", headers={"Content-Type": "text/csv", "Origin": ORIGIN}, timeout=10)
    assert ok.status_code == 200
    other = requests.put(url, data=b"<x/>", headers={"Content-Type": "text/html"}, timeout=10)
    assert (other.status_code, error_code(other)) == (403, "SignatureDoesNotMatch")


def test_presigned_get_with_response_overrides(stack: LocalStack, support_read: dict) -> None:
    s3 = s3_with(stack, support_read)
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": BUCKET,
            "Key": "users/user_list",
            "ResponseContentDisposition": 'attachment; filename="user list.csv"',
        },
        ExpiresIn=300,
    )
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="user list.csv"'


@pytest.mark.parametrize("key", ["users/with space.txt", "users/ünïcødé/€.txt", "users/a+b=c&d.txt"])
def test_keys_that_need_encoding(stack: LocalStack, sales_rw: dict, key: str) -> None:
    s3 = s3_with(stack, sales_rw)
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"encoded")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"encoded"
    for signature_version in ("s3v4", "s3"):
        url = presign(stack, sales_rw, "get_object", key, signature_version=signature_version)
        assert requests.get(url, timeout=10).content == b"encoded"


def test_transfer_manager_uploads_and_downloads(stack: LocalStack, sales_rw: dict, tmp_path) -> None:
    """s3transfer streams file bodies and goes multipart above its threshold."""
    s3 = s3_with(stack, sales_rw)
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(b"s" * 1000)
    large.write_bytes(b"L" * (6 * 1024 * 1024))
    multipart = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(small), BUCKET, "users/small.bin")
    s3.upload_file(str(large), BUCKET, "users/large.bin", Config=multipart)
    s3.download_file(BUCKET, "users/large.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == large.read_bytes()
    assert s3.get_object(Bucket=BUCKET, Key="users/small.bin")["Body"].read() == b"s" * 1000
    with pytest.raises(S3UploadFailedError, match=r"\(AccessDenied\)"):
        s3.upload_file(str(small), BUCKET, "users-archive/small.bin")


def test_a_batch_delete_outside_the_scope_deletes_nothing_there(stack: LocalStack, sales_rw: dict) -> None:
    """DeleteObjects answers 200 and refuses each key outside the scope in its own `Error` entry
    (test_multipart_and_batches.py has the documented shape); the object outside is still there."""
    answer = s3_with(stack, sales_rw).delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": "users/a"}, {"Key": "products/catalog.csv"}]}
    )
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("products/catalog.csv", "AccessDenied")]
    stack.client("s3").head_object(Bucket=BUCKET, Key="products/catalog.csv")
