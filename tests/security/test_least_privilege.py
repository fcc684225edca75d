"""Least privilege, tried as the attack: what a caller holds is never wider than asked, no token
can steer who the caller becomes, and no request can make unbounded upstream calls.

Every case goes through a Lambda host (a fresh execution environment, no authorizer in front) against
the suite's emulator, and judges the credentials by what S3 (the emulator's enforcement) does with them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import IDENTITY_CENTER_KEYS, LocalStack
from tests.security.conftest import LambdaHosts, Tokens
from tests.security.jwt_forge import _DROP

pytestmark = pytest.mark.security

ALICE = "alice@shopfast.example"
BOB = "bob@shopfast.example"
MALLORY = "mallory@shopfast.example"
FEEDBACK = "s3://shopfast-data/feedback/*"
FEEDBACK_OBJECT = "feedback/2024-q1.csv"
# Credentials expire at most this much later than asked: the emulator and the service share a clock,
# but a second may tick between the two.
CLOCK_ALLOWANCE_SECONDS = 5


def vend(host: Any, token: str, **body: Any) -> dict[str, Any]:
    answer = host.invoke("POST", "/v1/credentials", token=token, body=body)
    assert answer.status == 200, answer.body
    return answer.json()


def s3_with(stack: LocalStack, vended: dict[str, Any]) -> Any:
    credentials = vended["credentials"]
    return stack.client(
        "s3",
        credentials={
            "aws_access_key_id": credentials["accessKeyId"],
            "aws_secret_access_key": credentials["secretAccessKey"],
            "aws_session_token": credentials["sessionToken"],
        },
    )


def refused_by_s3(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    return str(refused.value.response["Error"]["Code"])


@pytest.fixture
def host(lambda_hosts: LambdaHosts, calm_stack: LocalStack) -> Iterator[Any]:
    with lambda_hosts.start() as invoker:
        yield invoker


# -- handed-out credentials match the request exactly ----------------------------------------------
def test_read_after_readwrite_cannot_write(host: Any, calm_stack: LocalStack, tokens: Tokens) -> None:
    token = tokens.issue(ALICE)
    wide = vend(host, token, target=FEEDBACK, permission="READWRITE")
    read = vend(host, token, target=f"s3://shopfast-data/{FEEDBACK_OBJECT}", permission="READ")
    assert read["credentials"]["accessKeyId"] != wide["credentials"]["accessKeyId"]
    s3 = s3_with(calm_stack, read)
    assert s3.get_object(Bucket="shopfast-data", Key=FEEDBACK_OBJECT)["Body"].read()
    assert refused_by_s3(s3.put_object, Bucket="shopfast-data", Key="feedback/planted.txt", Body=b"x") == (
        "AccessDenied"
    )
    assert refused_by_s3(s3.delete_object, Bucket="shopfast-data", Key=FEEDBACK_OBJECT) == "AccessDenied"


def test_write_after_readwrite_cannot_read(host: Any, calm_stack: LocalStack, tokens: Tokens) -> None:
    token = tokens.issue(ALICE)
    vend(host, token, target=FEEDBACK, permission="READWRITE")
    write = vend(host, token, target="s3://shopfast-data/feedback/upload.txt", permission="WRITE")
    s3 = s3_with(calm_stack, write)
    s3.put_object(Bucket="shopfast-data", Key="feedback/upload.txt", Body=b"written")
    assert refused_by_s3(s3.get_object, Bucket="shopfast-data", Key=FEEDBACK_OBJECT) == "AccessDenied"


def test_minimal_object_after_minimal_prefix_cannot_read_a_sibling(
    host: Any, calm_stack: LocalStack, tokens: Tokens
) -> None:
    calm_stack.client("s3").put_object(Bucket="shopfast-data", Key="feedback/sibling.txt", Body=b"sibling")
    token = tokens.issue(ALICE)
    vend(host, token, target=FEEDBACK, permission="READ", privilege="Minimal")
    one = vend(
        host, token, target=f"s3://shopfast-data/{FEEDBACK_OBJECT}", permission="READ", privilege="Minimal"
    )
    assert one["matchedGrantTarget"] == f"s3://shopfast-data/{FEEDBACK_OBJECT}"
    s3 = s3_with(calm_stack, one)
    assert s3.get_object(Bucket="shopfast-data", Key=FEEDBACK_OBJECT)["Body"].read()
    assert refused_by_s3(s3.get_object, Bucket="shopfast-data", Key="feedback/sibling.txt") == "AccessDenied"


def test_900_seconds_after_43200_expires_within_900(host: Any, tokens: Tokens) -> None:
    token = tokens.issue(ALICE)
    long = vend(host, token, target=FEEDBACK, permission="READ", durationSeconds=43200)
    asked_at = time.time()
    short = vend(host, token, target=FEEDBACK, permission="READ", durationSeconds=900)
    assert short["credentials"]["accessKeyId"] != long["credentials"]["accessKeyId"]
    expires = datetime.strptime(short["credentials"]["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert expires.timestamp() <= asked_at + 900 + CLOCK_ALLOWANCE_SECONDS


def test_credential_process_format_follows_the_same_rule(host: Any, tokens: Tokens) -> None:
    token = tokens.issue(ALICE)
    wide = vend(host, token, target=FEEDBACK, permission="READWRITE")
    answer = host.invoke(
        "POST",
        "/v1/credentials",
        token=token,
        query={"format": "credential_process"},
        body={"target": FEEDBACK, "permission": "READ"},
    )
    assert answer.status == 200
    assert answer.json()["AccessKeyId"] != wide["credentials"]["accessKeyId"]


# -- identity mapping no token can steer -----------------------------------------------------------
@pytest.mark.parametrize("email_verified", [False, "false", "true", _DROP], ids=repr)
def test_a_token_whose_email_is_not_verified_is_401(
    host: Any, calm_stack: LocalStack, tokens: Tokens, email_verified: Any
) -> None:
    forged = tokens.forge().legit(email=BOB, email_verified=email_verified)
    calm_stack.reset_stats()
    answer = host.invoke(
        "POST", "/v1/credentials", token=forged, body={"target": FEEDBACK, "permission": "READ"}
    )
    assert answer.status == 401
    assert "email_verified" in answer.json()["detail"]
    assert 'error_description="email_verified must be true"' in (answer.header("WWW-Authenticate") or "")
    assert calm_stack.stats()["controlPlaneCalls"] == 0


def test_the_requirement_can_be_switched_off_for_idps_that_never_send_it(
    lambda_hosts: LambdaHosts, tokens: Tokens
) -> None:
    token = tokens.forge().legit(email=ALICE, email_verified=_DROP)
    with lambda_hosts.start(REQUIRE_EMAIL_VERIFIED="false") as host:
        assert vend(host, token, target=FEEDBACK, permission="READ")["matchedGrantTarget"] == FEEDBACK


def test_the_same_subject_with_a_new_email_never_acts_as_the_old_user(
    host: Any, calm_stack: LocalStack, tokens: Tokens
) -> None:
    forge = tokens.forge()
    subject = str(uuid.uuid4())
    as_alice = forge.legit(sub=subject, email=ALICE)
    vend(host, as_alice, target=FEEDBACK, permission="READWRITE")
    alice_user = host.invoke("GET", "/v1/me", token=as_alice).json()["directoryUserId"]
    # The IdP let the same account change its address to bob's: Identity Center now maps it to bob.
    as_bob = forge.legit(sub=subject, email=BOB, jti=str(uuid.uuid4()))
    me = host.invoke("GET", "/v1/me", token=as_bob).json()
    assert me["directoryUserId"] != alice_user
    denied = host.invoke(
        "POST", "/v1/credentials", token=as_bob, body={"target": FEEDBACK, "permission": "READ"}
    )
    assert denied.status == 403  # feedback/ is alice's grant, not bob's
    bobs = vend(host, as_bob, target="s3://shopfast-data/transactions/*", permission="READWRITE")
    assert bobs["matchedGrantTarget"] == "s3://shopfast-data/transactions/*"


# -- bounded upstream cost -------------------------------------------------------------------------
def test_a_batch_of_100_unknown_prefixes_from_a_user_without_grants_costs_one_call(
    host: Any, calm_stack: LocalStack, tokens: Tokens
) -> None:
    token = tokens.issue(MALLORY)
    assert host.invoke("GET", "/v1/me", token=token).status == 200  # the identity session, cached
    calm_stack.reset_stats()
    items = [
        {"target": f"s3://shopfast-data/nowhere-{index}/file.txt", "method": "GET"} for index in range(100)
    ]
    answer = host.invoke("POST", "/v1/presign", token=token, body={"objects": items})
    assert answer.status == 200
    results = answer.json()["results"]
    assert [result["status"] for result in results] == [403] * 100
    stats = calm_stack.stats()
    assert stats["controlPlaneCalls"] <= 1, stats
    assert stats["calls"].get("GetDataAccess", 0) == 0


@contextmanager
def extra_grants(stack: LocalStack, group: str, count: int) -> Iterator[list[str]]:
    """`count` more READ grants for a directory group, each on its own prefix, removed afterwards."""
    config = stack.config()
    account = config["accountId"]
    s3control = stack.client("s3control")
    identitystore = stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS)
    group_id = identitystore.get_group_id(
        IdentityStoreId=config["identityStoreId"],
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": group}},
    )["GroupId"]
    location = next(
        entry["AccessGrantsLocationId"]
        for entry in s3control.list_access_grants_locations(AccountId=account)["AccessGrantsLocationsList"]
        if entry["LocationScope"] == "s3://shopfast-data"
    )
    run = uuid.uuid4().hex[:8]
    created, prefixes = [], []
    try:
        for index in range(count):
            prefix = f"cap-{run}/p{index:02d}/"
            grant = s3control.create_access_grant(
                AccountId=account,
                AccessGrantsLocationId=location,
                AccessGrantsLocationConfiguration={"S3SubPrefix": prefix + "*"},
                Grantee={"GranteeType": "DIRECTORY_GROUP", "GranteeIdentifier": group_id},
                Permission="READ",
            )
            created.append(grant["AccessGrantId"])
            prefixes.append(prefix)
        yield prefixes
    finally:
        for grant_id in created:
            s3control.delete_access_grant(AccountId=account, AccessGrantId=grant_id)


def test_one_request_makes_at_most_10_get_data_access_calls(
    host: Any, calm_stack: LocalStack, tokens: Tokens
) -> None:
    token = tokens.issue(ALICE)
    with extra_grants(calm_stack, "CustomerSupport", 14) as prefixes:
        items = [{"target": f"s3://shopfast-data/{prefix}file.txt", "method": "GET"} for prefix in prefixes]
        calm_stack.reset_stats()
        answer = host.invoke("POST", "/v1/presign", token=token, body={"objects": items})
        calls = calm_stack.stats()["calls"]
    assert answer.status == 200
    results = answer.json()["results"]
    assert calls.get("GetDataAccess") == 10
    assert sum("url" in result for result in results) == 10
    refused = [result for result in results if "url" not in result]
    assert len(refused) == 4
    assert {(result["status"], result["code"]) for result in refused} == {(429, "upstream_budget_exhausted")}


# -- revocation lag is bounded ---------------------------------------------------------------------
@contextmanager
def removed_from_group(stack: LocalStack, email: str, group: str) -> Iterator[None]:
    config = stack.config()
    store = config["identityStoreId"]
    identitystore = stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS)
    user_id = identitystore.get_user_id(
        IdentityStoreId=store,
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": email}},
    )["UserId"]
    group_id = identitystore.get_group_id(
        IdentityStoreId=store,
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": group}},
    )["GroupId"]
    membership = identitystore.get_group_membership_id(
        IdentityStoreId=store, GroupId=group_id, MemberId={"UserId": user_id}
    )["MembershipId"]
    identitystore.delete_group_membership(IdentityStoreId=store, MembershipId=membership)
    try:
        yield
    finally:
        identitystore.create_group_membership(
            IdentityStoreId=store, GroupId=group_id, MemberId={"UserId": user_id}
        )


def test_a_user_removed_from_a_group_loses_new_vends_after_the_max_age(
    lambda_hosts: LambdaHosts, calm_stack: LocalStack, tokens: Tokens
) -> None:
    max_age = 3
    token = tokens.issue(ALICE)
    with lambda_hosts.start(CACHE_MAX_AGE_SECONDS=str(max_age)) as host:
        vend(host, token, target=FEEDBACK, permission="READ")
        with removed_from_group(calm_stack, ALICE, "CustomerSupport"):
            time.sleep(max_age + 0.5)
            answer = host.invoke(
                "POST", "/v1/credentials", token=token, body={"target": FEEDBACK, "permission": "READ"}
            )
            assert answer.status == 403, answer.body


# -- CloudTrail join, shared instances -------------------------------------------------------------
def test_every_get_data_access_carries_the_request_id_as_audit_context(
    api: Any, calm_stack: LocalStack, tokens: Tokens
) -> None:
    # Through the gateway: its `apigw-requestid` is the Lambda's request id, as with API Gateway.
    answer = api.request(
        "POST",
        "/v1/credentials",
        token=tokens.issue(ALICE),
        json={
            "target": "s3://shopfast-data/feedback/join.txt",
            "permission": "WRITE",
            "durationSeconds": 901,
        },
    )
    assert answer.status_code == 200, answer.text
    event = next(
        event
        for event in reversed(calm_stack.cloudtrail_events())
        if event["requestParameters"]["durationSeconds"] == 901
    )
    assert event["requestParameters"]["auditContext"] == answer.headers["apigw-requestid"]
    assert event["requestParameters"]["instanceScope"] == "SELF"
    assert event["responseElements"]["accessKeyId"] == answer.json()["credentials"]["accessKeyId"]


def test_instance_scope_all_reaches_get_data_access(
    lambda_hosts: LambdaHosts, calm_stack: LocalStack, tokens: Tokens
) -> None:
    token = tokens.issue(ALICE)
    with lambda_hosts.start(INSTANCE_SCOPE="ALL") as host:
        vend(host, token, target=FEEDBACK, permission="READ")
    assert calm_stack.cloudtrail_events()[-1]["requestParameters"]["instanceScope"] == "ALL"


# -- refusals that say what to do ------------------------------------------------------------------
@pytest.mark.parametrize("target", ["s3://shopfast-data/users", "s3://shopfast-data/users*"])
def test_a_refusal_names_the_grants_near_the_target_and_the_prefix_form(
    host: Any, tokens: Tokens, target: str
) -> None:
    answer = host.invoke(
        "POST", "/v1/credentials", token=tokens.issue(ALICE), body={"target": target, "permission": "READ"}
    )
    assert answer.status == 403
    detail = answer.json()["detail"]
    assert "s3://shopfast-data/users/* (READ)" in detail
    assert "ask for s3://shopfast-data/users/*" in detail


def test_a_write_where_only_read_is_held_says_what_is_held(host: Any, tokens: Tokens) -> None:
    answer = host.invoke(
        "POST",
        "/v1/credentials",
        token=tokens.issue(ALICE),
        body={"target": "s3://shopfast-data/users/new.csv", "permission": "WRITE"},
    )
    assert answer.status == 403
    assert "you hold s3://shopfast-data/users/* (READ)" in answer.json()["detail"]


def test_an_unknown_field_is_reported_before_a_missing_one(host: Any, tokens: Tokens) -> None:
    answer = host.invoke(
        "POST", "/v1/credentials", token=tokens.issue(ALICE), body={"targt": FEEDBACK, "permission": "READ"}
    )
    assert answer.status == 400
    assert answer.json()["detail"] == (
        "unknown field(s) 'targt'; the valid fields are durationSeconds, permission, privilege, role, target,"
        " targetType"
    )
