"""Multipart uploads (POST /v1/uploads*) and presigned POST policies through the real handlers, the part
URLs and forms sent to the emulator's S3 with plain HTTP, and what S3 then holds."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from domain.audit import logger
from local.stack import LocalStack
from tests.integration.handler_calls import Answer, call, problem_of, service_configured

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
BOB = "bob@shopfast.example"
CAROL = "carol@shopfast.example"
DAVE = "dave@shopfast.example"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def service(local_stack: LocalStack) -> Iterator[LocalStack]:
    with service_configured(local_stack):
        yield local_stack


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def post(stack: LocalStack, user: str, path: str, body: object) -> Answer:
    return call("POST", path, token=stack.token(user), body=body)


def target_for(name: str) -> str:
    return f"s3://shopfast-data/feedback/uploads-test/{name}-{os.urandom(4).hex()}"


def stored(stack: LocalStack, target: str) -> bytes | None:
    bucket, key = target.removeprefix("s3://").split("/", 1)
    s3 = stack.client("s3", region="us-east-1")
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def put_parts(http: requests.Session, parts: list[dict], chunks: list[bytes]) -> list[dict]:
    done = []
    for part, chunk in zip(parts, chunks, strict=True):
        answer = http.put(part["url"], data=chunk, timeout=30)
        assert answer.status_code == 200, answer.text
        done.append({"partNumber": part["partNumber"], "etag": answer.headers["ETag"]})
    return done


def test_alice_uploads_three_parts_and_the_object_is_their_concatenation(
    service: LocalStack, http: requests.Session
) -> None:
    target = target_for("three-parts")
    chunks = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1024)]
    started = post(
        service, ALICE, "/v1/uploads", {"target": target, "partCount": 3, "contentType": "text/csv"}
    )

    assert started.status == 201, started.text
    assert started.headers["cache-control"] == "no-store"
    body = started.body
    assert {"uploadId", "target", "parts", "expiresAt"} <= set(body)
    assert body["target"] == target
    assert [part["partNumber"] for part in body["parts"]] == [1, 2, 3]
    for part in body["parts"]:
        query = parse_qs(urlsplit(part["url"]).query)
        assert query["partNumber"] == [str(part["partNumber"])]
        assert "/us-east-1/s3/aws4_request" in query["X-Amz-Credential"][0]  # the bucket's Region
    done = put_parts(http, body["parts"], chunks)

    completed = post(
        service,
        ALICE,
        "/v1/uploads/complete",
        {"target": target, "uploadId": body["uploadId"], "parts": done},
    )

    assert completed.status == 200, completed.text
    assert completed.body["target"] == target and completed.body["etag"].endswith("-3")
    assert stored(service, target) == b"".join(chunks)
    bucket, key = target.removeprefix("s3://").split("/", 1)
    head = service.client("s3", region="us-east-1").head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "text/csv"


def test_a_lost_part_url_is_replaced_and_the_upload_resumes(
    service: LocalStack, http: requests.Session
) -> None:
    target = target_for("resume")
    chunks = [os.urandom(5 * MIB), b"tail"]
    started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 2}).body
    first = put_parts(http, started["parts"][:1], chunks[:1])

    fresh = post(
        service,
        ALICE,
        "/v1/uploads/parts",
        {"target": target, "uploadId": started["uploadId"], "partNumbers": [2]},
    )

    assert fresh.status == 200, fresh.text
    assert set(fresh.body) == {"parts", "expiresAt"}
    assert [part["partNumber"] for part in fresh.body["parts"]] == [2]
    second = put_parts(http, fresh.body["parts"], chunks[1:])
    completed = post(
        service,
        ALICE,
        "/v1/uploads/complete",
        {"target": target, "uploadId": started["uploadId"], "parts": first + second},
    )
    assert completed.status == 200, completed.text
    assert stored(service, target) == b"".join(chunks)


def test_nobody_else_can_refresh_complete_or_abort_alices_upload(
    service: LocalStack, http: requests.Session
) -> None:
    target = target_for("owned")
    started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 1}).body
    done = put_parts(http, started["parts"], [b"alice's bytes"])
    upload_id = started["uploadId"]
    before = service.stats()["calls"]

    for user in (BOB, CAROL, DAVE):
        refresh = post(
            service, user, "/v1/uploads/parts", {"target": target, "uploadId": upload_id, "partNumbers": [1]}
        )
        complete = post(
            service, user, "/v1/uploads/complete", {"target": target, "uploadId": upload_id, "parts": done}
        )
        abort = post(service, user, "/v1/uploads/abort", {"target": target, "uploadId": upload_id})
        for answer in (refresh, complete, abort):
            assert answer.status == 404, answer.text
            assert problem_of(answer, 404)["code"] == "not_found"
    # Nor alice herself, on another key: the id is bound to the target.
    elsewhere = post(
        service, ALICE, "/v1/uploads/abort", {"target": target + "-other", "uploadId": upload_id}
    )
    assert elsewhere.status == 404
    # A forged MAC does not verify either.
    s3_id, mac = upload_id.rsplit(".", 1)
    forged = post(service, ALICE, "/v1/uploads/abort", {"target": target, "uploadId": f"{s3_id}.{mac[::-1]}"})
    assert forged.status == 404

    # Nothing reached S3, and the upload is intact: alice completes it.
    after = service.stats()["calls"]
    for operation in ("AbortMultipartUpload", "CompleteMultipartUpload", "GetDataAccess"):
        assert after.get(operation, 0) == before.get(operation, 0), operation
    completed = post(
        service, ALICE, "/v1/uploads/complete", {"target": target, "uploadId": upload_id, "parts": done}
    )
    assert completed.status == 200, completed.text
    assert stored(service, target) == b"alice's bytes"


def test_a_multipart_upload_under_a_read_grant_is_403_and_starts_nothing(service: LocalStack) -> None:
    target = target_for("carol")
    answer = post(service, CAROL, "/v1/uploads", {"target": target, "partCount": 2})

    assert answer.status == 403, answer.text
    bucket, key = target.removeprefix("s3://").split("/", 1)
    uploads = service.client("s3", region="us-east-1").list_multipart_uploads(Bucket=bucket, Prefix=key)
    assert not uploads.get("Uploads")


def test_after_an_abort_a_part_put_gets_no_such_upload(service: LocalStack, http: requests.Session) -> None:
    target = target_for("aborted")
    started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 2}).body

    aborted = post(service, ALICE, "/v1/uploads/abort", {"target": target, "uploadId": started["uploadId"]})

    assert aborted.status == 204, aborted.text
    assert aborted.text == ""
    refused = http.put(started["parts"][0]["url"], data=b"too late", timeout=10)
    assert refused.status_code == 404
    assert "<Code>NoSuchUpload</Code>" in refused.text
    again = post(service, ALICE, "/v1/uploads/abort", {"target": target, "uploadId": started["uploadId"]})
    assert problem_of(again, 404)["code"] == "not_found"
    assert stored(service, target) is None


def test_s3s_part_size_and_etag_rules_are_400s_and_the_upload_stays_abortable(
    service: LocalStack, http: requests.Session
) -> None:
    target = target_for("small-parts")
    started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 2}).body
    done = put_parts(http, started["parts"], [b"under five MiB", b"last"])
    upload_id = started["uploadId"]

    too_small = post(
        service, ALICE, "/v1/uploads/complete", {"target": target, "uploadId": upload_id, "parts": done}
    )
    wrong_etag = post(
        service,
        ALICE,
        "/v1/uploads/complete",
        {"target": target, "uploadId": upload_id, "parts": [{"partNumber": 1, "etag": '"' + "0" * 32 + '"'}]},
    )

    assert "5 MiB" in problem_of(too_small, 400)["detail"]
    assert "etag" in problem_of(wrong_etag, 400)["detail"]
    assert post(service, ALICE, "/v1/uploads/abort", {"target": target, "uploadId": upload_id}).status == 204


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        ("/v1/uploads", {"target": "s3://shopfast-data/feedback/x", "partCount": 0}, "partCount"),
        ("/v1/uploads", {"target": "s3://shopfast-data/feedback/x", "partCount": 10001}, "partCount"),
        ("/v1/uploads", {"target": "s3://shopfast-data/feedback/x", "partCount": True}, "partCount"),
        ("/v1/uploads", {"target": "s3://shopfast-data/feedback/*", "partCount": 1}, "not a prefix"),
        ("/v1/uploads", {"target": "s3://shopfast-data/feedback/x"}, "partCount is required"),
        (
            "/v1/uploads",
            {"target": "s3://shopfast-data/feedback/x", "partCount": 1, "size": 1},
            "unknown field",
        ),
        (
            "/v1/uploads/parts",
            {"target": "s3://shopfast-data/feedback/x", "uploadId": "u", "partNumbers": []},
            "partNumbers",
        ),
        (
            "/v1/uploads/parts",
            {"target": "s3://shopfast-data/feedback/x", "uploadId": "u", "partNumbers": [0]},
            "partNumbers[0]",
        ),
        (
            "/v1/uploads/parts",
            {"target": "s3://shopfast-data/feedback/x", "uploadId": "u", "partNumbers": [1, 1]},
            "repeat",
        ),
        (
            "/v1/uploads/complete",
            {"target": "s3://shopfast-data/feedback/x", "uploadId": "u", "parts": []},
            "parts",
        ),
        (
            "/v1/uploads/complete",
            {
                "target": "s3://shopfast-data/feedback/x",
                "uploadId": "u",
                "parts": [{"partNumber": 2, "etag": "a"}, {"partNumber": 1, "etag": "b"}],
            },
            "ascending",
        ),
        (
            "/v1/uploads/complete",
            {"target": "s3://shopfast-data/feedback/x", "uploadId": "u", "parts": ["x"]},
            "parts[0]",
        ),
        ("/v1/uploads/abort", {"target": "s3://shopfast-data/feedback/x"}, "uploadId is required"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(service: LocalStack, path: str, body: dict, detail: str) -> None:
    answer = post(service, ALICE, path, body)

    assert detail in problem_of(answer, 400)["detail"]


def test_every_attempt_on_someone_elses_upload_is_an_audited_refusal_without_the_mac(
    service: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    target = target_for("attempted")
    with caplog.at_level(logging.INFO, logger=logger.name):
        started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 1}).body
    upload_id = started["uploadId"]
    s3_id, mac = upload_id.rsplit(".", 1)
    attempts = [
        (BOB, "/v1/uploads/parts", {"target": target, "uploadId": upload_id, "partNumbers": [1]}),
        (
            BOB,
            "/v1/uploads/complete",
            {"target": target, "uploadId": upload_id, "parts": [{"partNumber": 1, "etag": "e"}]},
        ),
        (BOB, "/v1/uploads/abort", {"target": target, "uploadId": upload_id}),
        (ALICE, "/v1/uploads/abort", {"target": target, "uploadId": f"{s3_id}.{mac[::-1]}"}),
    ]
    with caplog.at_level(logging.INFO, logger=logger.name):
        for user, path, body in attempts:
            assert post(service, user, path, body).status == 404
    start, *refusals = [r for r in caplog.records if getattr(r, "action", None) == "upload"]
    assert start.outcome == "started"
    assert [(r.outcome, r.status, r.code) for r in refusals] == [("denied", 404, "not_found")] * 4
    assert start.subject != refusals[0].subject == refusals[1].subject == refusals[2].subject
    assert refusals[3].subject == start.subject
    for record in refusals:
        assert record.target == target and record.permission == "WRITE"
        assert len(record.uploadIdDigest) == 32 and record.requestId
        assert not hasattr(record, "accessKeyId")
    # The three attempts on alice's real id carry the digest her start was recorded with; the forgery
    # has its own. The MAC, the proof of ownership, is in no log line.
    assert {r.uploadIdDigest for r in refusals[:3]} == {start.uploadIdDigest} != {refusals[3].uploadIdDigest}
    assert mac not in caplog.text and mac[::-1] not in caplog.text


def test_an_upload_s3_no_longer_has_is_an_error_in_the_audit_not_a_denial(
    service: LocalStack, http: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    """Completing twice: the second call is alice's own, refused by S3 (NoSuchUpload), not by ownership."""
    target = target_for("twice")
    started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 1}).body
    done = put_parts(http, started["parts"], [b"once"])
    body = {"target": target, "uploadId": started["uploadId"], "parts": done}
    assert post(service, ALICE, "/v1/uploads/complete", body).status == 200
    with caplog.at_level(logging.INFO, logger=logger.name):
        again = post(service, ALICE, "/v1/uploads/complete", body)
    assert again.status == 404
    *_, completed, record = [r for r in caplog.records if getattr(r, "action", None) == "upload"]
    assert completed.outcome == "completed"
    assert (record.outcome, record.status, record.code) == ("error", 404, "not_found")


def test_an_unknown_upload_is_404_before_any_aws_call(service: LocalStack) -> None:
    before = service.stats()["calls"]
    answer = post(
        service,
        ALICE,
        "/v1/uploads/complete",
        {
            "target": "s3://shopfast-data/feedback/x",
            "uploadId": "never-started." + "A" * 43,
            "parts": [{"partNumber": 1, "etag": "abc"}],
        },
    )
    assert answer.status == 404
    assert service.stats()["calls"].get("CompleteMultipartUpload", 0) == before.get(
        "CompleteMultipartUpload", 0
    )


def test_a_large_upload_gets_its_first_thousand_urls_and_the_rest_on_request(service: LocalStack) -> None:
    target = target_for("large")
    started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 2500})

    assert started.status == 201, started.text
    assert len(started.body["parts"]) == 1000 and started.body["nextPartNumber"] == 1001
    rest = post(
        service,
        ALICE,
        "/v1/uploads/parts",
        {"target": target, "uploadId": started.body["uploadId"], "partNumbers": list(range(1001, 2001))},
    )
    assert rest.status == 200 and [p["partNumber"] for p in rest.body["parts"]][-1] == 2000
    assert (
        post(
            service, ALICE, "/v1/uploads/abort", {"target": target, "uploadId": started.body["uploadId"]}
        ).status
        == 204
    )


def test_one_audit_record_per_upload_started_completed_and_aborted_without_signatures(
    service: LocalStack, http: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    target = target_for("audited")
    with caplog.at_level(logging.INFO, logger=logger.name):
        started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 1}).body
        done = put_parts(http, started["parts"], [b"x"])
        post(
            service,
            ALICE,
            "/v1/uploads/complete",
            {"target": target, "uploadId": started["uploadId"], "parts": done},
        )
        other = post(service, ALICE, "/v1/uploads", {"target": target + "b", "partCount": 1}).body
        post(service, ALICE, "/v1/uploads/abort", {"target": target + "b", "uploadId": other["uploadId"]})
    records = [r for r in caplog.records if getattr(r, "action", None) == "upload"]
    assert [r.outcome for r in records] == ["started", "completed", "started", "aborted"]
    assert all(r.target.startswith(target) and r.permission == "WRITE" for r in records)
    signature = parse_qs(urlsplit(started["parts"][0]["url"]).query)["X-Amz-Signature"][0]
    assert records and signature not in caplog.text


# --- presigned POST --------------------------------------------------------------------------------------


def form_upload(
    http: requests.Session, presigned: dict, key: str | None, content: bytes
) -> requests.Response:
    fields = dict(presigned["fields"])
    if key is not None:
        fields["key"] = key
    return http.post(presigned["url"], data=fields, files={"file": ("upload.bin", content)}, timeout=10)


def test_a_post_policy_on_a_prefix_bounds_size_and_key(service: LocalStack, http: requests.Session) -> None:
    answer = post(
        service,
        ALICE,
        "/v1/presign",
        {"target": "s3://shopfast-data/feedback/*", "method": "POST", "maxBytes": 1024},
    )

    assert answer.status == 200, answer.text
    presigned = answer.body
    assert set(presigned) == {"url", "method", "fields", "expiresAt", "maxBytes"}
    assert presigned["method"] == "POST" and presigned["maxBytes"] == 1024
    assert "key" not in presigned["fields"]  # the browser names the key, inside the prefix
    key = f"feedback/post-{os.urandom(4).hex()}.txt"

    small = form_upload(http, presigned, key, b"0123456789")
    too_large = form_upload(http, presigned, key + "-large", b"x" * 2048)
    outside_key = f"users/post-{os.urandom(4).hex()}"
    outside = form_upload(http, presigned, outside_key, b"0123456789")

    assert small.status_code == 204, small.text
    assert stored(service, f"s3://shopfast-data/{key}") == b"0123456789"
    assert too_large.status_code == 400 and "<Code>EntityTooLarge</Code>" in too_large.text
    assert stored(service, f"s3://shopfast-data/{key}-large") is None
    assert outside.status_code == 403, outside.text
    assert stored(service, f"s3://shopfast-data/{outside_key}") is None


def test_a_post_policy_for_one_key_pins_it_and_the_content_type(
    service: LocalStack, http: requests.Session
) -> None:
    target = target_for("post-one")
    answer = post(
        service, ALICE, "/v1/presign", {"target": target, "method": "POST", "contentType": "text/plain"}
    )

    assert answer.status == 200, answer.text
    presigned = answer.body
    key = target.removeprefix("s3://shopfast-data/")
    assert presigned["fields"]["key"] == key and presigned["fields"]["Content-Type"] == "text/plain"
    assert presigned["maxBytes"] == 100 * MIB  # the deployment's default (DefaultPostBytes)
    assert form_upload(http, presigned, key + "-renamed", b"hi").status_code == 403
    assert form_upload(http, presigned, None, b"hi").status_code == 204
    assert stored(service, target) == b"hi"


def test_carol_with_read_only_on_feedback_gets_no_post_policy(service: LocalStack) -> None:
    answer = post(
        service, CAROL, "/v1/presign", {"target": "s3://shopfast-data/feedback/*", "method": "POST"}
    )
    assert answer.status == 403, answer.text


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"target": "s3://shopfast-data/feedback/*", "method": "POST", "maxBytes": 0}, "maxBytes"),
        ({"target": "s3://shopfast-data/feedback/*", "method": "POST", "maxBytes": 6 * 1024**3}, "maxBytes"),
        ({"target": "s3://shopfast-data/feedback/x", "method": "GET", "maxBytes": 10}, "POST only"),
        ({"target": "s3://shopfast-data/feedback/x", "method": "POST", "contentLength": 10}, "PUT only"),
        ({"target": "s3://shopfast-data/feedback/*", "method": "PUT"}, "only POST takes a prefix"),
    ],
)
def test_bad_post_and_size_fields_are_400s(service: LocalStack, body: dict, detail: str) -> None:
    answer = post(service, ALICE, "/v1/presign", body)
    assert detail in problem_of(answer, 400)["detail"]


def test_a_put_with_content_length_accepts_only_that_size(
    service: LocalStack, http: requests.Session
) -> None:
    target = target_for("sized-put")
    answer = post(service, ALICE, "/v1/presign", {"target": target, "method": "PUT", "contentLength": 5})

    assert answer.status == 200, answer.text
    assert answer.body["headers"] == {"Content-Length": "5"}
    assert http.put(answer.body["url"], data=b"123456", timeout=10).status_code == 403
    assert stored(service, target) is None
    assert http.put(answer.body["url"], data=b"12345", timeout=10).status_code == 200
    assert stored(service, target) == b"12345"


def test_batch_items_may_be_post_policies(service: LocalStack) -> None:
    answer = post(
        service,
        ALICE,
        "/v1/presign",
        {
            "objects": [
                {"target": "s3://shopfast-data/feedback/*", "method": "POST"},
                {"target": "s3://shopfast-data/users/x", "method": "POST"},
            ]
        },
    )
    assert answer.status == 200, answer.text
    first, second = answer.body["results"]
    assert first["method"] == "POST" and "fields" in first
    assert second["status"] == 403


def test_credentials_s3_calls_expired_are_replaced_once_and_the_upload_completes(
    service: LocalStack, http: requests.Session
) -> None:
    target = target_for("stale")
    started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 1}).body
    done = put_parts(http, started["parts"], [b"after a stale session"])
    before = service.stats()["calls"].get("GetDataAccess", 0)
    service.set_fault("CompleteMultipartUpload", error={"code": "ExpiredToken", "status": 400, "count": 1})
    try:
        completed = post(
            service,
            ALICE,
            "/v1/uploads/complete",
            {"target": target, "uploadId": started["uploadId"], "parts": done},
        )
    finally:
        service.clear_faults()

    assert completed.status == 200, completed.text
    assert service.stats()["calls"].get("GetDataAccess", 0) == before + 1  # fresh credentials, once
    assert stored(service, target) == b"after a stale session"


def test_s3_failing_is_a_5xx_problem_and_the_upload_can_still_be_aborted(service: LocalStack) -> None:
    target = target_for("s3-down")
    started = post(service, ALICE, "/v1/uploads", {"target": target, "partCount": 1}).body
    service.set_fault("CompleteMultipartUpload", server_error=3)
    try:
        failed = post(
            service,
            ALICE,
            "/v1/uploads/complete",
            {"target": target, "uploadId": started["uploadId"], "parts": [{"partNumber": 1, "etag": "e"}]},
        )
    finally:
        service.clear_faults()

    assert problem_of(failed, 502)["code"]
    assert (
        post(service, ALICE, "/v1/uploads/abort", {"target": target, "uploadId": started["uploadId"]}).status
        == 204
    )


def test_rotating_the_binding_key_breaks_no_upload_in_flight(
    local_stack: LocalStack, http: requests.Session
) -> None:
    """docs/operations.md's rotation, against the emulator's Secrets Manager: put a new value (the old one
    becomes AWSPREVIOUS). An upload started before it completes in an environment started after it; one
    started after it completes; an upload two rotations old is 404."""
    secrets = local_stack.client("secretsmanager")
    chunk = os.urandom(1024)

    def start(target: str) -> str:
        started = post(local_stack, ALICE, "/v1/uploads", {"target": target, "partCount": 1})
        assert started.status == 201, started.text
        put_parts(http, started.body["parts"], [chunk])
        return str(started.body["uploadId"])

    def complete(target: str, upload_id: str) -> Answer:
        parts = post(
            local_stack,
            ALICE,
            "/v1/uploads/parts",
            {"target": target, "uploadId": upload_id, "partNumbers": [1]},
        )
        if parts.status != 200:
            return parts
        done = put_parts(http, parts.body["parts"], [chunk])
        return post(
            local_stack,
            ALICE,
            "/v1/uploads/complete",
            {"target": target, "uploadId": upload_id, "parts": done},
        )

    before, after, oldest = (
        target_for("rotation-before"),
        target_for("rotation-after"),
        target_for("rotation-oldest"),
    )
    with service_configured(local_stack):
        oldest_id, before_id = start(oldest), start(before)
    secrets.put_secret_value(SecretId="UploadBindingSecret", SecretString=os.urandom(32).hex())

    with service_configured(local_stack):  # a new environment: it reads the new key
        assert complete(before, before_id).status == 200
        assert stored(local_stack, before) == chunk
        after_id = start(after)
    secrets.put_secret_value(SecretId="UploadBindingSecret", SecretString=os.urandom(32).hex())

    with service_configured(local_stack):
        assert complete(after, after_id).status == 200  # sealed one rotation ago
        refused = complete(oldest, oldest_id)  # sealed two rotations ago: its key is gone
        assert refused.status == 404, refused.text
    assert stored(local_stack, oldest) is None
