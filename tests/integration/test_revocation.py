"""Revocation through the real handlers and the operator's commands (`local.revocation`, what
`make revoke`, `make reinstate` and `make revoke-sessions` run), against the emulator's table and IAM."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.aws import ClientFactory
from adapters.shared_state import DynamoDbSharedState
from domain.config import ServiceConfig
from domain.errors import ServiceUnavailable
from domain.revocation import MAX_STALENESS_SECONDS, POLL_SECONDS, Revocations
from local import revocation
from local.stack import LocalStack
from tests.integration.conftest import s3_with
from tests.integration.handler_calls import Answer, call, service_configured

pytestmark = pytest.mark.integration

DAVE = "dave@shopfast.example"
ALICE = "alice@shopfast.example"
PRODUCTS = "s3://shopfast-data/products/"
USER_LIST = "s3://shopfast-data/users/user_list"
LEARNT_WITHIN_SECONDS = 2 * POLL_SECONDS  # what docs/revocation.md promises


@pytest.fixture
def operator(local_stack: LocalStack, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """`make revoke …` against this stack: the state dir holds what `make run` writes (stack.json)."""
    (tmp_path / "stack.json").write_text(json.dumps({"awsEndpoint": local_stack.aws_endpoint}))

    def run(action: str, *arguments: str) -> str:
        import contextlib
        import io

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert revocation.main([action, *arguments, "--state-dir", str(tmp_path)]) == 0
        return printed.getvalue()

    yield run
    run("reinstate", "--user", DAVE)


@pytest.fixture
def service(local_stack: LocalStack) -> Iterator[LocalStack]:
    local_stack.clear_faults()
    with service_configured(local_stack):
        yield local_stack
    local_stack.clear_faults()


def every_route(token: str) -> dict[str, Answer]:
    return {
        "credentials": call(
            "POST", "/v1/credentials", token=token, body={"target": f"{PRODUCTS}*", "permission": "READ"}
        ),
        "presign": call(
            "POST", "/v1/presign", token=token, body={"target": f"{PRODUCTS}catalog.csv", "method": "GET"}
        ),
        "grants": call("GET", "/v1/grants", token=token),
        "objects": call("GET", "/v1/objects", token=token, query={"prefix": PRODUCTS}),
        "me": call("GET", "/v1/me", token=token),
        "uploads": call("POST", "/v1/uploads", token=token, body={"target": f"{PRODUCTS}new.csv"}),
    }


def until(condition: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.25)
    return time.monotonic() - started


def test_a_revoked_user_is_refused_on_every_route_but_health_within_10_s_then_served_again(
    service: LocalStack, operator: Callable[..., str]
) -> None:
    token = service.token(DAVE)
    before = every_route(token)
    assert all(before[route].status == 200 for route in ("credentials", "presign", "grants", "me")), before

    printed = operator("revoke", "--user", DAVE)
    assert "revoked dave@shopfast.example" in printed and DAVE not in repr(service_items(service))
    waited = until(
        lambda: (
            call("POST", "/v1/presign", token=token, body={"target": f"{PRODUCTS}x", "method": "GET"}).status
            == 403
        ),
        LEARNT_WITHIN_SECONDS,
    )

    answers = every_route(token)
    for route, answer in answers.items():
        assert answer.status == 403, (route, answer.text)
        assert answer.body["code"] == "revoked" and answer.headers["cache-control"] == "no-store"
    assert call("GET", "/v1/health").status == 200
    # Others are served as before, and dave's cached entries are gone from the table.
    assert call("GET", "/v1/grants", token=service.token(ALICE)).status == 200
    assert waited <= LEARNT_WITHIN_SECONDS

    assert "reinstated" in operator("reinstate", "--user", DAVE)
    until(lambda: call("GET", "/v1/grants", token=token).status == 200, LEARNT_WITHIN_SECONDS)
    assert every_route(token)["credentials"].status == 200


def test_a_revocation_by_directory_user_id_is_enforced_once_the_exchange_names_the_user(
    service: LocalStack, operator: Callable[..., str]
) -> None:
    token = service.token(DAVE)
    directory_user_id = call("GET", "/v1/me", token=token).body["directoryUserId"]
    assert directory_user_id

    operator("revoke", "--user", directory_user_id)

    until(lambda: call("GET", "/v1/grants", token=token).status == 403, LEARNT_WITHIN_SECONDS)
    refused = call(
        "POST", "/v1/credentials", token=token, body={"target": f"{PRODUCTS}*", "permission": "READ"}
    )
    assert refused.status == 403 and refused.body["code"] == "revoked"
    operator("reinstate", "--user", directory_user_id)


def test_revoking_deletes_the_users_shared_entries(service: LocalStack, operator: Callable[..., str]) -> None:
    token = service.token(DAVE)
    assert (
        call(
            "POST", "/v1/credentials", token=token, body={"target": f"{PRODUCTS}*", "permission": "READ"}
        ).status
        == 200
    )
    before = service_items(service)

    printed = operator("revoke", "--user", DAVE)

    after = service_items(service)
    gone = [item for item in before if item not in after]
    entries = [item for item in gone if not item["pk"]["S"].startswith(("user/", "revocations"))]
    assert {item["sk"]["S"].split("/")[0] for item in entries} == {"session", "grant"}
    assert f"({len(entries)} shared cache entries deleted)" in printed
    assert any(item["pk"]["S"].startswith("user/") for item in gone)  # and the index pointing at them


def service_items(stack: LocalStack) -> list[dict[str, Any]]:
    dynamodb = stack.client("dynamodb")
    table = stack.config()["stateTable"]
    return [
        item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]
    ]


def test_a_fresh_environment_that_cannot_read_the_revocation_list_does_not_vend(service: LocalStack) -> None:
    service.set_fault("GetItem", server_error=100)

    answer = call(
        "POST",
        "/v1/credentials",
        token=service.token(ALICE),
        body={"target": USER_LIST, "permission": "READ"},
    )

    assert answer.status == 503 and answer.body["code"] == "service_unavailable", answer.text
    assert answer.headers["retry-after"]
    assert call("GET", "/v1/health").status == 200


def test_an_unreadable_revocation_list_stops_vending_after_60_s_not_before(service: LocalStack) -> None:
    import os

    config = ServiceConfig.from_env(os.environ)
    assert config.state_table
    now = [1000.0]
    revocations = Revocations(
        DynamoDbSharedState(config.state_table, config.state_key_arn, ClientFactory(config)),
        clock=lambda: now[0],
    )
    revocations.refuse_if_revoked(ALICE)  # read once
    service.set_fault("GetItem", server_error=1000)

    now[0] += MAX_STALENESS_SECONDS - 1
    revocations.refuse_if_revoked(ALICE)  # stale, within the bound: served
    now[0] += 2
    with pytest.raises(ServiceUnavailable):
        revocations.refuse_if_revoked(ALICE)

    service.clear_faults()
    now[0] += POLL_SECONDS
    revocations.refuse_if_revoked(ALICE)  # readable again: served again


def test_revoke_sessions_ends_every_vended_session_issued_before_it_and_new_vends_work(
    service: LocalStack, operator: Callable[..., str]
) -> None:
    token = service.token(ALICE)
    vended = call(
        "POST", "/v1/credentials", token=token, body={"target": USER_LIST, "permission": "READ"}
    ).body
    url = call("POST", "/v1/presign", token=token, body={"target": USER_LIST, "method": "GET"}).body["url"]
    old = s3_with(service, vended["credentials"])
    assert old.get_object(Bucket="shopfast-data", Key="users/user_list")["Body"].read()
    time.sleep(1.1)  # aws:TokenIssueTime has a resolution of one second

    location_role = service.config()["locationRoleArn"]
    try:
        printed = operator("revoke-sessions")
        assert "issued before" in printed

        with pytest.raises(old.exceptions.ClientError) as refused:
            old.get_object(Bucket="shopfast-data", Key="users/user_list")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        with requests.Session() as http:
            http.trust_env = False
            assert http.get(url, timeout=10).status_code == 403

        def fresh_credentials_work() -> bool:
            answer = call(
                "POST", "/v1/credentials", token=token, body={"target": USER_LIST, "permission": "READ"}
            )
            if (
                answer.status != 200
                or answer.body["credentials"]["accessKeyId"] == vended["credentials"]["accessKeyId"]
            ):
                return False
            s3 = s3_with(service, answer.body["credentials"])
            return bool(s3.get_object(Bucket="shopfast-data", Key="users/user_list")["Body"].read())

        until(fresh_credentials_work, LEARNT_WITHIN_SECONDS)
    finally:
        service.client("iam").delete_role_policy(
            RoleName=location_role.rsplit("/", 1)[-1], PolicyName=revocation.REVOKE_SESSIONS_POLICY
        )
