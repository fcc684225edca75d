"""Iceberg's S3 remote signing (`POST /v1/aws/s3/sign`) through the real handler, driven the way PyIceberg
drives it: a botocore S3 client that holds no keys (`signature_version=UNSIGNED`) asks the signer for
each request in its `before-sign` event, adds the answered headers and sends the request to S3 (the
emulator, which checks the SigV4 signature with botocore and the vended session's policy). The attacks
are the requests a caller would try: another prefix, another bucket, bucket configuration, a body that
differs from the one signed."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config

from local.stack import LocalStack
from tests.integration.handler_calls import Answer, call, service_configured

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"  # READWRITE feedback/, READ users/
CAROL = "carol@shopfast.example"  # READ feedback/ and products/
MALLORY = "mallory@shopfast.example"  # no grants
BUCKET = "shopfast-data"


@pytest.fixture
def service(local_stack: LocalStack) -> Iterator[LocalStack]:
    local_stack.clear_faults()
    with service_configured(local_stack):
        yield local_stack


class RemoteSignedS3:
    """An S3 client without keys whose every request is signed by the service, as PyIceberg's
    `S3V4RestSigner` does it (fsspec FileIO)."""

    def __init__(self, stack: LocalStack, token: str) -> None:
        self.answers: list[Answer] = []
        self.bodies: list[dict[str, Any]] = []
        session = botocore.session.Session()
        self.client = session.create_client(
            "s3",
            region_name="us-east-1",
            endpoint_url=stack.aws_endpoint,
            config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
        )
        self._token = token
        self.client.meta.events.register_last("before-sign.s3", self._sign)

    def _sign(self, request: Any, **_: Any) -> None:
        body = {
            "method": request.method,
            "region": request.context["client_region"],
            "uri": request.url,
            "headers": {key: [value] for key, value in request.headers.items()},
        }
        if request.body and "delete" in request.url:
            body["body"] = request.body.decode() if isinstance(request.body, bytes) else request.body
        self.bodies.append(body)
        answer = call("POST", "/v1/aws/s3/sign", token=self._token, body=body)
        self.answers.append(answer)
        if answer.status != 200:
            raise PermissionError(answer.body["error"]["message"])
        for key, values in answer.body["headers"].items():
            request.headers.add_header(key, ", ".join(values))
        request.url = answer.body["uri"]


def refusal(answer: Answer, status: int) -> dict[str, Any]:
    """The answer's Iceberg error model, after checking it is one with this status."""
    assert answer.status == status, answer.text
    assert answer.content_type == "application/json"
    error = answer.body["error"]
    assert error["code"] == status and error["message"] and error["type"]
    return dict(error)


def sign(stack: LocalStack, user: str, method: str, path: str, **extra: Any) -> Answer:
    body = {"region": "us-east-1", "uri": f"{stack.aws_endpoint}{path}", "method": method, "headers": {}}
    return call("POST", "/v1/aws/s3/sign", token=stack.token(user), body={**body, **extra})


def test_a_signed_get_returns_the_object_and_may_be_cached_privately(service: LocalStack) -> None:
    s3 = RemoteSignedS3(service, service.token(ALICE))

    got = s3.client.get_object(Bucket=BUCKET, Key="users/user_list")

    assert got["Body"].read()
    (answer,) = s3.answers
    assert answer.headers["cache-control"] == "private"
    signed = answer.body["headers"]
    assert signed["Authorization"][0].startswith("AWS4-HMAC-SHA256 Credential=ASIA")
    assert signed["X-Amz-Content-SHA256"] == ["UNSIGNED-PAYLOAD"]
    assert {"X-Amz-Date", "X-Amz-Security-Token"} <= signed.keys()


def test_another_prefix_is_refused_in_icebergs_error_model(service: LocalStack) -> None:
    s3 = RemoteSignedS3(service, service.token(ALICE))

    with pytest.raises(PermissionError):
        s3.client.get_object(Bucket=BUCKET, Key="transactions/2026.csv")

    error = refusal(s3.answers[-1], 403)
    assert error["type"] == "ForbiddenException"
    assert s3.answers[-1].headers["cache-control"] == "no-store"


def test_a_reader_cannot_write_and_a_writer_can(service: LocalStack) -> None:
    carol = RemoteSignedS3(service, service.token(CAROL))
    with pytest.raises(PermissionError):
        carol.client.put_object(Bucket=BUCKET, Key="feedback/iceberg-test/by-carol.txt", Body=b"no")
    refusal(carol.answers[-1], 403)

    alice = RemoteSignedS3(service, service.token(ALICE))
    alice.client.put_object(Bucket=BUCKET, Key="feedback/iceberg-test/by-alice.txt", Body=b"stored")

    assert alice.answers[-1].headers["cache-control"] == "no-cache"
    stored = carol.client.get_object(Bucket=BUCKET, Key="feedback/iceberg-test/by-alice.txt")
    assert stored["Body"].read() == b"stored"


def test_a_reader_lists_its_prefix_and_nothing_wider(service: LocalStack) -> None:
    carol = RemoteSignedS3(service, service.token(CAROL))

    listed = carol.client.list_objects_v2(Bucket=BUCKET, Prefix="feedback/")

    assert all(item["Key"].startswith("feedback/") for item in listed.get("Contents", []))
    with pytest.raises(PermissionError):
        carol.client.list_objects_v2(Bucket=BUCKET, Prefix="")  # the whole bucket
    with pytest.raises(PermissionError):
        carol.client.list_objects_v2(Bucket=BUCKET, Prefix="users/")


def test_multipart_upload_through_the_signer(service: LocalStack) -> None:
    alice = RemoteSignedS3(service, service.token(ALICE))
    key = "feedback/iceberg-test/multipart.bin"
    part = b"x" * (5 * 1024 * 1024)

    started = alice.client.create_multipart_upload(Bucket=BUCKET, Key=key)
    upload = started["UploadId"]
    etags = [
        alice.client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=body)[
            "ETag"
        ]
        for number, body in ((1, part), (2, b"tail"))
    ]
    listed = alice.client.list_parts(Bucket=BUCKET, Key=key, UploadId=upload)
    alice.client.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )

    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2]
    head = alice.client.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(part) + 4
    operations = [answer.body for answer in alice.answers]
    assert all(body is not None for body in operations)


def test_delete_objects_needs_write_on_every_key_and_its_body_cannot_be_swapped(service: LocalStack) -> None:
    alice = RemoteSignedS3(service, service.token(ALICE))
    for key in ("feedback/iceberg-test/a.txt", "feedback/iceberg-test/b.txt"):
        alice.client.put_object(Bucket=BUCKET, Key=key, Body=b"x")

    deleted = alice.client.delete_objects(
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": "feedback/iceberg-test/a.txt"}, {"Key": "feedback/iceberg-test/b.txt"}]},
    )
    assert sorted(item["Key"] for item in deleted["Deleted"]) == [
        "feedback/iceberg-test/a.txt",
        "feedback/iceberg-test/b.txt",
    ]

    # One key outside the caller's WRITE grants refuses the whole request.
    with pytest.raises(PermissionError):
        alice.client.delete_objects(
            Bucket=BUCKET,
            Delete={"Objects": [{"Key": "feedback/iceberg-test/a.txt"}, {"Key": "users/user_list"}]},
        )
    refusal(alice.answers[-1], 403)

    # A body other than the one the digest covers: refused before signing.
    xml = "<Delete><Object><Key>feedback/iceberg-test/a.txt</Key></Object></Delete>"
    other = "<Delete><Object><Key>users/user_list</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(other.encode(), usedforsecurity=False).digest()).decode()
    swapped = sign(service, ALICE, "POST", f"/{BUCKET}?delete", headers={"Content-MD5": [md5]}, body=xml)
    refusal(swapped, 400)
    without_digest = sign(service, ALICE, "POST", f"/{BUCKET}?delete", body=xml)
    assert "Content-MD5" in refusal(without_digest, 400)["message"]


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", f"/{BUCKET}?acl", {}),
        ("PUT", f"/{BUCKET}?policy", {}),
        ("GET", f"/{BUCKET}/feedback/x.txt?acl", {}),
        ("PUT", f"/{BUCKET}/feedback/x.txt?tagging", {}),
        ("DELETE", f"/{BUCKET}", {}),
        ("GET", f"/{BUCKET}?list-type=2&prefix=feedback/&location", {}),
        ("GET", "/", {}),
        ("PUT", f"/{BUCKET}/feedback/copy.txt", {"x-amz-copy-source": [f"/{BUCKET}/users/user_list"]}),
        ("PUT", f"/{BUCKET}/feedback/public.txt", {"x-amz-acl": ["public-read"]}),
        ("OPTIONS", f"/{BUCKET}/feedback/x.txt", {}),
        ("GET", f"/{BUCKET}?list-type=1&prefix=feedback/", {}),
    ],
)
def test_operations_other_than_reads_writes_and_listings_are_refused(
    service: LocalStack, method: str, path: str, headers: dict[str, list[str]]
) -> None:
    refusal(sign(service, ALICE, method, path, headers=headers), 403)


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/shopfast-data/feedback/x.txt",
        "http://127.0.0.2:4566/shopfast-data/feedback/x.txt",
        "ftp://shopfast-data/feedback/x.txt",
        "not a url",
    ],
)
def test_a_uri_outside_the_deployments_s3_endpoint_is_refused(service: LocalStack, uri: str) -> None:
    answer = call(
        "POST",
        "/v1/aws/s3/sign",
        token=service.token(ALICE),
        body={"region": "us-east-1", "uri": uri, "method": "GET", "headers": {}},
    )
    refusal(answer, 400)


def test_users_without_grants_and_without_tokens_are_refused(service: LocalStack) -> None:
    refusal(sign(service, MALLORY, "GET", f"/{BUCKET}/feedback/x.txt"), 403)
    anonymous = call(
        "POST",
        "/v1/aws/s3/sign",
        body={
            "region": "us-east-1",
            "uri": f"{service.aws_endpoint}/{BUCKET}/x",
            "method": "GET",
            "headers": {},
        },
    )
    refusal(anonymous, 401)
    malformed = call("POST", "/v1/aws/s3/sign", token=service.token(ALICE), body={"uri": 3})
    refusal(malformed, 400)


def test_the_signature_fixes_the_key(service: LocalStack) -> None:
    """A GET signed for a key alice may read, sent for another key, is refused by S3."""
    answer = sign(service, ALICE, "GET", f"/{BUCKET}/users/user_list")
    assert answer.status == 200, answer.text
    headers = {name: ", ".join(values) for name, values in answer.body["headers"].items()}
    sent = requests.get(
        answer.body["uri"].replace("users/user_list", "users/other"), headers=headers, timeout=10
    )
    assert sent.status_code == 403
    assert b"SignatureDoesNotMatch" in sent.content
    assert requests.get(answer.body["uri"], headers=headers, timeout=10).status_code == 200


def test_icebergs_newer_requests_with_a_provider_are_served_for_s3_only(service: LocalStack) -> None:
    """Iceberg 1.11 and later send `RemoteSignRequest`, which adds `provider` (and `properties`)."""
    newer = {"provider": "s3", "properties": {"table": "feedback.ratings"}}
    assert sign(service, ALICE, "GET", f"/{BUCKET}/users/user_list", **newer).status == 200
    refusal(sign(service, ALICE, "GET", f"/{BUCKET}/users/user_list", provider="gcs"), 400)
