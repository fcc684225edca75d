"""Uploads for real frontends, through real HTTP as `make run` serves template.yaml: the
gateway's JWT authorizer, the UploadsFunction and PresignFunction, and S3 (the emulator) reached with the
part URLs and POST forms those answer. One test per acceptance criterion."""

from __future__ import annotations

import os

import pytest
import requests

from local.gateway import RunningGateway
from local.stack import LocalStack

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
BOB = "bob@shopfast.example"
CAROL = "carol@shopfast.example"  # READ only on feedback/
MIB = 1024 * 1024


def _bearer(stack: LocalStack, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token(user)}"}


def _key() -> str:
    return f"feedback/gateway-{os.urandom(4).hex()}"


def _stored(stack: LocalStack, key: str) -> bytes | None:
    s3 = stack.client("s3")
    try:
        return s3.get_object(Bucket="shopfast-data", Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def test_alice_uploads_three_parts_and_nobody_else_can_touch_her_upload(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    target = f"s3://shopfast-data/{_key()}"
    started = http.post(
        f"{real_gateway.url}/v1/uploads",
        json={"target": target, "partCount": 3},
        headers=_bearer(local_stack, ALICE),
    )
    assert started.status_code == 201, started.text
    assert started.headers["cache-control"] == "no-store"
    upload = started.json()
    chunks = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1024)]
    parts = []
    for part, chunk in zip(upload["parts"], chunks, strict=True):
        sent = http.put(part["url"], data=chunk, timeout=30)
        assert sent.status_code == 200, sent.text
        parts.append({"partNumber": part["partNumber"], "etag": sent.headers["ETag"]})
    owned = {"target": target, "uploadId": upload["uploadId"]}

    for path, body in (
        ("/v1/uploads/parts", owned | {"partNumbers": [1]}),
        ("/v1/uploads/complete", owned | {"parts": parts}),
        ("/v1/uploads/abort", owned),
    ):
        refused = http.post(f"{real_gateway.url}{path}", json=body, headers=_bearer(local_stack, BOB))
        assert refused.status_code == 404, (path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"

    completed = http.post(
        f"{real_gateway.url}/v1/uploads/complete",
        json=owned | {"parts": parts},
        headers=_bearer(local_stack, ALICE),
    )
    assert completed.status_code == 200, completed.text
    assert completed.json() == {"target": target, "etag": completed.json()["etag"]}
    assert _stored(local_stack, target.removeprefix("s3://shopfast-data/")) == b"".join(chunks)


def test_a_multipart_upload_under_a_read_grant_is_403(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    answer = http.post(
        f"{real_gateway.url}/v1/uploads",
        json={"target": f"s3://shopfast-data/{_key()}", "partCount": 2},
        headers=_bearer(local_stack, CAROL),
    )
    assert answer.status_code == 403, answer.text


def test_after_an_abort_a_part_put_gets_no_such_upload(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    target = f"s3://shopfast-data/{_key()}"
    upload = http.post(
        f"{real_gateway.url}/v1/uploads",
        json={"target": target, "partCount": 1},
        headers=_bearer(local_stack, ALICE),
    ).json()
    aborted = http.post(
        f"{real_gateway.url}/v1/uploads/abort",
        json={"target": target, "uploadId": upload["uploadId"]},
        headers=_bearer(local_stack, ALICE),
    )
    assert aborted.status_code == 204 and aborted.content == b""
    refused = http.put(upload["parts"][0]["url"], data=b"late", timeout=10)
    assert refused.status_code == 404 and "<Code>NoSuchUpload</Code>" in refused.text


def _post_form(http: requests.Session, form: dict, key: str, content: bytes) -> requests.Response:
    return http.post(
        form["url"], data={**form["fields"], "key": key}, files={"file": ("f.bin", content)}, timeout=10
    )


def test_a_post_policy_on_feedback_stores_ten_bytes_and_refuses_too_large_or_elsewhere(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    answer = http.post(
        f"{real_gateway.url}/v1/presign",
        json={"target": "s3://shopfast-data/feedback/*", "method": "POST", "maxBytes": 1024},
        headers=_bearer(local_stack, ALICE),
    )
    assert answer.status_code == 200, answer.text
    form = answer.json()
    assert form["method"] == "POST" and form["maxBytes"] == 1024
    small, large, elsewhere = _key(), _key(), f"users/gateway-{os.urandom(4).hex()}"

    assert _post_form(http, form, small, b"0123456789").status_code == 204
    too_large = _post_form(http, form, large, b"x" * 2048)
    outside = _post_form(http, form, elsewhere, b"0123456789")

    assert _stored(local_stack, small) == b"0123456789"
    assert too_large.status_code == 400 and "<Code>EntityTooLarge</Code>" in too_large.text
    assert outside.status_code == 403
    assert _stored(local_stack, large) is None and _stored(local_stack, elsewhere) is None


def test_carol_is_refused_a_post_policy_on_feedback(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    answer = http.post(
        f"{real_gateway.url}/v1/presign",
        json={"target": "s3://shopfast-data/feedback/*", "method": "POST"},
        headers=_bearer(local_stack, CAROL),
    )
    assert answer.status_code == 403, answer.text
