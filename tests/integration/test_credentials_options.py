"""POST /v1/credentials options: privilege Minimal, durationSeconds, iam-role `role`, credential_process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack
from tests.integration.conftest import Tokens, s3_with
from tests.integration.handler_calls import call, problem_of, service_configured

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
USER_LIST = "s3://shopfast-data/users/user_list"


@pytest.fixture
def identity_center(local_stack: LocalStack) -> Iterator[LocalStack]:
    with service_configured(local_stack):
        yield local_stack


@pytest.fixture
def iam_role(local_stack: LocalStack) -> Iterator[LocalStack]:
    with service_configured(local_stack, IDENTITY_MODE="iam-role"):
        yield local_stack


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_minimal_privilege_scopes_credentials_to_the_object(
    identity_center: LocalStack, tokens: Tokens
) -> None:
    answer = call(
        "POST",
        "/v1/credentials",
        token=tokens(ALICE),
        body={"target": USER_LIST, "permission": "READ", "privilege": "Minimal"},
    )
    assert answer.status == 200, answer.text
    assert answer.body["matchedGrantTarget"] == USER_LIST
    s3 = s3_with(identity_center, answer.body["credentials"])
    assert (
        s3.get_object(Bucket="shopfast-data", Key="users/user_list")["Body"].read()
        == b"alice,bob,carol,dave,erin\n"
    )
    other = "users/minimal-neighbour.txt"  # inside alice's grant, outside the Minimal credentials
    identity_center.client("s3").put_object(Bucket="shopfast-data", Key=other, Body=b"neighbour")
    with pytest.raises(ClientError):
        s3.get_object(Bucket="shopfast-data", Key=other)


def test_default_privilege_for_an_object_returns_the_whole_grant(
    identity_center: LocalStack, tokens: Tokens
) -> None:
    answer = call(
        "POST", "/v1/credentials", token=tokens(ALICE), body={"target": USER_LIST, "permission": "READ"}
    )
    assert answer.status == 200, answer.text
    assert answer.body["matchedGrantTarget"] == "s3://shopfast-data/users/*"


def test_duration_is_honoured(identity_center: LocalStack, tokens: Tokens) -> None:
    answer = call(
        "POST",
        "/v1/credentials",
        token=tokens(ALICE),
        body={"target": "s3://shopfast-data/feedback/*", "permission": "READ", "durationSeconds": 43200},
    )
    assert answer.status == 200, answer.text
    expires = parse_time(answer.body["credentials"]["expiration"])
    assert expires - datetime.now(UTC) > timedelta(hours=11)


def test_credential_process_format(identity_center: LocalStack, tokens: Tokens) -> None:
    answer = call(
        "POST",
        "/v1/credentials",
        token=tokens(ALICE),
        body={"target": "s3://shopfast-data/users/*", "permission": "READ"},
        query={"format": "credential_process"},
    )
    assert answer.status == 200, answer.text
    document = answer.body
    assert set(document) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert document["Version"] == 1
    assert parse_time(document["Expiration"]) > datetime.now(UTC)


def test_iam_role_mode_accepts_the_callers_own_role_by_group_or_arn(
    iam_role: LocalStack, tokens: Tokens
) -> None:
    role_arn = iam_role.config()["departmentRoles"]["CustomerSupport"]
    for role in ("CustomerSupport", role_arn):
        answer = call(
            "POST",
            "/v1/credentials",
            token=tokens(ALICE),
            body={"target": "s3://shopfast-data/users/*", "permission": "READ", "role": role},
        )
        assert answer.status == 200, answer.text
        assert answer.body["grantee"]["identifier"] == role_arn


def test_iam_role_mode_refuses_a_role_that_is_not_the_callers(iam_role: LocalStack, tokens: Tokens) -> None:
    answer = call(
        "POST",
        "/v1/credentials",
        token=tokens(ALICE),
        body={"target": "s3://shopfast-data/users/*", "permission": "READ", "role": "Sales"},
    )
    problem_of(answer, 403)
