"""POST /v1/presign through the real handler, boto3 and the emulator's S3 enforcement of presigned URLs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
USER_LIST = "s3://shopfast-data/users/user_list"
USER_LIST_BYTES = b"alice,bob,carol,dave,erin\n"
ARCHIVED = "s3://shopfast-data/users-archive/old_list"


@pytest.fixture(scope="module")
def service(local_stack: LocalStack) -> Iterator[LocalStack]:
    with service_configured(local_stack):
        yield local_stack


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback only
        yield session


def presign(stack: LocalStack, user: str, body: object) -> Answer:
    return call("POST", "/v1/presign", token=stack.token(user), body=body)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def access_key_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/")[0]


def test_presigned_get_downloads_the_object_as_alice(service: LocalStack, http: requests.Session) -> None:
    answer = presign(service, ALICE, {"target": USER_LIST, "method": "GET"})

    assert answer.status == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    result = answer.body
    assert set(result) == {"url", "method", "headers", "expiresAt"}
    assert result["method"] == "GET" and result["headers"] == {}
    query = parse_qs(urlsplit(result["url"]).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]  # SigV4, always
    assert query["X-Amz-Expires"] == ["300"]  # the default lifetime
    expires_at = parse_time(result["expiresAt"])
    assert timedelta(seconds=290) < expires_at - datetime.now(UTC) <= timedelta(seconds=300)
    download = http.get(result["url"], timeout=10)
    assert download.status_code == 200
    assert download.content == USER_LIST_BYTES


def test_presigned_get_offers_a_safely_encoded_download_name(
    service: LocalStack, http: requests.Session
) -> None:
    answer = presign(service, ALICE, {"target": USER_LIST, "method": "GET", "filename": 'Kunden "ü"; x.csv'})

    assert answer.status == 200, answer.text
    download = http.get(answer.body["url"], timeout=10)
    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Kunden ____ x.csv"; ')
    assert disposition.endswith("filename*=UTF-8''Kunden%20%22%C3%BC%22%3B%20x.csv")


def test_presigned_put_as_bob_uploads_to_users(service: LocalStack, http: requests.Session) -> None:
    target = "s3://shopfast-data/users/uploaded-by-bob.csv"
    answer = presign(service, BOB, {"target": target, "method": "PUT", "contentType": "text/csv"})

    assert answer.status == 200, answer.text
    result = answer.body
    assert result["method"] == "PUT"
    assert result["headers"] == {"Content-Type": "text/csv"}
    upload = http.put(result["url"], data=b"id,name\n1,zoe\n", headers=result["headers"], timeout=10)
    assert upload.status_code == 200, upload.text
    landed = service.client("s3").get_object(Bucket="shopfast-data", Key="users/uploaded-by-bob.csv")
    assert landed["Body"].read() == b"id,name\n1,zoe\n"
    assert landed["ContentType"] == "text/csv"


def test_presigned_put_refuses_a_content_type_other_than_the_signed_one(
    service: LocalStack, http: requests.Session
) -> None:
    target = "s3://shopfast-data/users/typed.csv"
    result = presign(service, BOB, {"target": target, "method": "PUT", "contentType": "text/csv"}).body

    upload = http.put(result["url"], data=b"<html/>", headers={"Content-Type": "text/html"}, timeout=10)

    assert upload.status_code == 403
    assert b"SignatureDoesNotMatch" in upload.content


def test_alice_cannot_presign_a_put_to_users(service: LocalStack) -> None:
    answer = presign(service, ALICE, {"target": "s3://shopfast-data/users/x.csv", "method": "PUT"})

    problem = problem_of(answer, 403)
    assert problem["code"] == "access_denied"
    assert "url" not in answer.text


def test_a_url_past_expires_at_fails(service: LocalStack, http: requests.Session) -> None:
    result = presign(service, ALICE, {"target": USER_LIST, "method": "GET", "expiresIn": 60}).body
    assert http.get(result["url"], timeout=10).status_code == 200
    lifetime = (parse_time(result["expiresAt"]) - datetime.now(UTC)).total_seconds()

    service.advance_clock(lifetime + 5)  # the emulator's S3 now lives just past expiresAt
    try:
        expired = http.get(result["url"], timeout=10)
    finally:
        service.reset_clock()

    assert expired.status_code == 403
    assert b"expired" in expired.content.lower()
    assert http.get(result["url"], timeout=10).status_code == 200  # the same URL, before expiresAt


def test_expires_at_never_outlives_the_signing_credentials(local_stack: LocalStack) -> None:
    # Credentials that live 900 s, and a URL asked for an hour: the URL must be cut to the credentials.
    with service_configured(local_stack, DEFAULT_DURATION_SECONDS="900", MAX_DURATION_SECONDS="900"):
        token = local_stack.token(ALICE)
        answer = call(
            "POST", "/v1/presign", token=token, body={"target": USER_LIST, "method": "GET", "expiresIn": 3600}
        )
        assert answer.status == 200, answer.text
        url, expires_at = answer.body["url"], parse_time(answer.body["expiresAt"])
        vended = call(
            "POST", "/v1/credentials", token=token, body={"target": USER_LIST, "permission": "READ"}
        ).body["credentials"]

    assert vended["accessKeyId"] == access_key_of(url)  # the signing credentials, served from the cache
    expiration = parse_time(vended["expiration"])
    assert expires_at <= expiration - timedelta(seconds=30)
    assert expires_at - datetime.now(UTC) > timedelta(seconds=800)  # shortened, not refused
    assert int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]) < 900


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"target": "s3://shopfast-data/users/*", "method": "GET"}, "not a prefix"),
        ({"target": "s3://shopfast-data/users/../x", "method": "GET"}, "'..'"),
        ({"target": USER_LIST, "method": "DELETE"}, "method"),
        ({"target": USER_LIST}, "method is required"),
        ({"target": USER_LIST, "method": "GET", "expiresIn": 0}, "expiresIn"),
        ({"target": USER_LIST, "method": "GET", "expiresIn": 3601}, "expiresIn"),
        ({"target": USER_LIST, "method": "GET", "expiresIn": "60"}, "expiresIn must be an integer"),
        ({"target": USER_LIST, "method": "PUT", "filename": "a.txt"}, "filename applies to GET"),
        ({"target": USER_LIST, "method": "GET", "contentType": "text/plain"}, "contentType applies to PUT"),
        ({"target": USER_LIST, "method": "PUT", "contentType": "text/plain\r\nX-Evil: 1"}, "contentType"),
        ({"target": USER_LIST, "method": "GET", "filename": "../../etc/passwd"}, "filename"),
        ({"target": USER_LIST, "method": "GET", "acl": "public-read"}, "unknown field"),
        ({"objects": []}, "1 to 100"),
        ({"objects": [{"target": USER_LIST, "method": "GET"}] * 101}, "1 to 100"),
        ({"objects": [{"target": USER_LIST, "method": "GET"}], "method": "GET"}, "unknown field"),
    ],
)
def test_invalid_requests_are_400_problems(service: LocalStack, body: dict, fragment: str) -> None:
    problem = problem_of(presign(service, ALICE, body), 400)
    assert fragment in problem["detail"]


def test_no_token_is_401(service: LocalStack) -> None:
    answer = call("POST", "/v1/presign", body={"target": USER_LIST, "method": "GET"})

    problem_of(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")


def batch_of_100() -> tuple[list[object], list[int]]:
    """Alice's mixed batch and the status expected for each item."""
    items: list[object] = []
    expected: list[int] = []
    for index in range(60):  # READ under her users/* grant
        items.append(
            {"target": USER_LIST if index % 2 == 0 else f"s3://shopfast-data/users/n{index}", "method": "GET"}
        )
        expected.append(200)
    for index in range(25):  # WRITE under her feedback/* grant
        items.append(
            {
                "target": f"s3://shopfast-data/feedback/b{index}.txt",
                "method": "PUT",
                "contentType": "text/plain",
            }
        )
        expected.append(200)
    for index in range(5):  # denied: users/ is READ only for her, users-archive/ is outside every grant
        items.append({"target": f"s3://shopfast-data/users/w{index}", "method": "PUT"})
        items.append({"target": ARCHIVED, "method": "GET"})
        expected += [403, 403]
    malformed: list[object] = [
        {"target": "s3://shopfast-data/users/*", "method": "GET"},
        {"target": "s3://shopfast-data//x", "method": "GET"},
        {"target": USER_LIST, "method": "DELETE"},
        {"target": USER_LIST, "method": "GET", "extra": 1},
        "s3://shopfast-data/users/user_list",
    ]
    items += malformed
    expected += [400] * len(malformed)
    return items, expected


def test_a_batch_of_100_answers_per_item_results_and_problems(
    service: LocalStack, http: requests.Session
) -> None:
    items, expected = batch_of_100()
    assert len(items) == 100

    answer = presign(service, ALICE, {"objects": items})

    assert answer.status == 200, answer.text
    results = answer.body["results"]
    assert [result.get("status", 200) for result in results] == expected
    for item, result in zip(items, results, strict=True):
        if "url" in result:
            assert result["method"] == item["method"]
        else:
            assert set(result) >= {"type", "title", "status", "detail", "code"}
            assert result["code"] == ("access_denied" if result["status"] == 403 else "invalid_request")
    assert "objects[96]." in results[96]["detail"]  # per-item problems name the item
    assert http.get(results[0]["url"], timeout=10).content == USER_LIST_BYTES
    upload = http.put(results[60]["url"], data=b"great shop", headers=results[60]["headers"], timeout=10)
    assert upload.status_code == 200, upload.text


def test_a_batch_vends_once_per_distinct_grant_not_per_item(local_stack: LocalStack) -> None:
    items, _ = batch_of_100()
    # Without the service's caches, only the batch's own reuse stands between the items and GetDataAccess.
    with service_configured(local_stack, CACHE_ENABLED="false"):
        token = local_stack.token(ALICE)
        local_stack.reset_stats()
        answer = call("POST", "/v1/presign", token=token, body={"objects": items})
        calls = local_stack.stats()["calls"]

    assert answer.status == 200, answer.text
    signed = [result for result in answer.body["results"] if "url" in result]
    assert len(signed) == 85
    # users/* READ and feedback/* WRITE: one set of credentials each, shared by 60 and 25 URLs.
    assert len({access_key_of(result["url"]) for result in signed}) == 2
    # 2 grants; the 10 denied items are refused from the caller's grant list, read once for the request
    # (no GetDataAccess for what no grant covers). Each call makes its own identity exchange
    # (the uncached reference flow caches no identity session).
    assert calls.get("GetDataAccess") == 2
    assert calls.get("ListCallerAccessGrants") == 1
    assert calls.get("CreateTokenWithIAM") == calls.get("AssumeRole") == 3


def audit_records(caplog: pytest.LogCaptureFixture) -> list[dict]:
    formatter = logger.registered_formatter
    lines = [formatter.format(record) for record in caplog.records]
    return [json.loads(line) for line in lines if line.startswith("{") and '"audit":true' in line]


def test_each_url_has_one_audit_record_and_no_log_holds_its_signature(
    service: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    items = [
        {"target": USER_LIST, "method": "GET"},
        {"target": "s3://shopfast-data/users/other", "method": "GET"},
        {"target": "s3://shopfast-data/users/w.csv", "method": "PUT"},
    ]

    results = presign(service, ALICE, {"objects": items}).body["results"]

    records = audit_records(caplog)
    signed = [record for record in records if record["action"] == "presign"]
    assert [record["target"] for record in signed] == [USER_LIST, "s3://shopfast-data/users/other"]
    assert all(record["outcome"] == "signed" and record["matchedGrantTarget"] for record in signed)
    assert [result["expiresAt"] for result in results[:2]] == [record["expiration"] for record in signed]
    vends = [record for record in records if record["action"] == "vend"]
    # One decision per distinct grant and permission: READ users/* (granted), WRITE users/ (denied).
    assert sorted(record["outcome"] for record in vends) == ["denied", "granted"]
    logged = "\n".join(logger.registered_formatter.format(record) for record in caplog.records)
    for result in results[:2]:
        query = parse_qs(urlsplit(result["url"]).query)
        assert query["X-Amz-Signature"][0] not in logged
        assert query["X-Amz-Security-Token"][0] not in logged


def test_presigning_works_the_same_in_iam_role_mode(local_stack: LocalStack, http: requests.Session) -> None:
    with service_configured(local_stack, IDENTITY_MODE="iam-role"):
        token = local_stack.token(BOB)
        answer = call(
            "POST",
            "/v1/presign",
            token=token,
            body={
                "objects": [
                    {"target": USER_LIST, "method": "GET"},
                    {"target": "s3://shopfast-data/transactions/iam-mode.csv", "method": "PUT"},
                    {"target": "s3://shopfast-internal/leads/a.csv", "method": "GET"},
                ]
            },
        )

    assert answer.status == 200, answer.text
    download, upload, denied = answer.body["results"]
    assert http.get(download["url"], timeout=10).content == USER_LIST_BYTES
    assert http.put(upload["url"], data=b"1", timeout=10).status_code == 200
    assert denied["status"] == 403


@pytest.mark.parametrize("expires_in", [300, 3600])
def test_consecutive_presigns_reuse_cached_credentials(local_stack: LocalStack, expires_in: int) -> None:
    # An hour-long URL needs credentials that outlive it: they are vended once, longer, and then reused.
    with service_configured(local_stack):
        token = local_stack.token(CAROL)
        local_stack.reset_stats()
        answers = [
            call(
                "POST",
                "/v1/presign",
                token=token,
                body={
                    "target": f"s3://shopfast-data/products/p{index}",
                    "method": "GET",
                    "expiresIn": expires_in,
                },
            )
            for index in range(20)
        ]
        calls = local_stack.stats()["calls"]

    assert all(answer.status == 200 for answer in answers)
    assert {access_key_of(answer.body["url"]) for answer in answers} == {
        access_key_of(answers[0].body["url"])
    }
    assert calls.get("GetDataAccess") == 1
    assert all(
        parse_time(answer.body["expiresAt"]) - datetime.now(UTC) > timedelta(seconds=expires_in - 15)
        for answer in answers
    )
