"""Caching through the real handler: the emulator's call counters prove what reached AWS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack
from tests.integration.handler_calls import call, problem_of, service_configured

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
BOB = "bob@shopfast.example"
CAROL = "carol@shopfast.example"
USERS_PREFIX = "s3://shopfast-data/users/*"


def vend(token: str, target: str, permission: str = "READ", **extra: object) -> dict:
    answer = call(
        "POST", "/v1/credentials", token=token, body={"target": target, "permission": permission, **extra}
    )
    assert answer.status == 200, answer.text
    return answer.body


def control_plane_calls(stack: LocalStack) -> dict[str, int]:
    stats = stack.stats()
    return {**stats["calls"], "total": stats["controlPlaneCalls"]}


@pytest.fixture(params=["identity-center", "iam-role"])
def fresh(request: pytest.FixtureRequest, local_stack: LocalStack) -> Iterator[LocalStack]:
    """A fresh execution environment (cold caches) in the given mode, with counters reset."""
    with service_configured(local_stack, IDENTITY_MODE=request.param):
        local_stack.reset_stats()
        yield local_stack


@pytest.fixture
def fresh_identity_center(local_stack: LocalStack) -> Iterator[LocalStack]:
    with service_configured(local_stack):
        local_stack.reset_stats()
        yield local_stack


def test_100_calls_under_one_grant_cost_at_most_3_aws_calls(fresh: LocalStack) -> None:
    token = fresh.token(ALICE)
    fresh.reset_stats()
    key_ids = set()
    for index in range(100):
        target = USERS_PREFIX if index % 10 == 0 else f"s3://shopfast-data/users/report-{index}.csv"
        key_ids.add(vend(token, target)["credentials"]["accessKeyId"])

    calls = control_plane_calls(fresh)
    assert calls["total"] <= 3, calls
    assert calls.get("GetDataAccess") == 1
    assert len(key_ids) == 1


def test_cached_credentials_are_never_served_to_another_user(fresh_identity_center: LocalStack) -> None:
    stack = fresh_identity_center
    alice = vend(stack.token(ALICE), USERS_PREFIX)
    bob = vend(stack.token(BOB), USERS_PREFIX)
    assert bob["credentials"]["accessKeyId"] != alice["credentials"]["accessKeyId"]
    assert control_plane_calls(stack)["GetDataAccess"] == 2
    # Carol (Marketing) holds no grant on users/: alice's and bob's cached credentials do not help her.
    denied = call(
        "POST",
        "/v1/credentials",
        token=stack.token(CAROL),
        body={"target": USERS_PREFIX, "permission": "READ"},
    )
    problem_of(denied, 403)


def test_a_cached_readwrite_entry_never_answers_read_or_write(fresh_identity_center: LocalStack) -> None:
    # Handed-out credentials match the request exactly: each permission is its own vend.
    token = fresh_identity_center.token(BOB)
    first = vend(token, USERS_PREFIX, "READWRITE")
    keys = {first["credentials"]["accessKeyId"]}
    for permission in ("READ", "WRITE"):
        keys.add(
            vend(token, "s3://shopfast-data/users/new-file.csv", permission)["credentials"]["accessKeyId"]
        )
    assert len(keys) == 3
    assert control_plane_calls(fresh_identity_center)["GetDataAccess"] == 3


def test_a_narrower_grant_does_not_serve_a_wider_permission(fresh_identity_center: LocalStack) -> None:
    token = fresh_identity_center.token(ALICE)
    vend(token, "s3://shopfast-data/feedback/*", "READWRITE")
    vend(token, USERS_PREFIX, "READ")
    problem_of(
        call("POST", "/v1/credentials", token=token, body={"target": USERS_PREFIX, "permission": "WRITE"}),
        403,
    )
    assert control_plane_calls(fresh_identity_center)["GetDataAccess"] == 3


def test_denials_are_cached_briefly(fresh_identity_center: LocalStack) -> None:
    token = fresh_identity_center.token(ALICE)
    for _ in range(5):
        answer = call(
            "POST", "/v1/credentials", token=token, body={"target": USERS_PREFIX, "permission": "WRITE"}
        )
        problem_of(answer, 403)
    assert control_plane_calls(fresh_identity_center)["GetDataAccess"] == 1


def test_a_longer_duration_than_cached_is_vended_anew(fresh_identity_center: LocalStack) -> None:
    token = fresh_identity_center.token(ALICE)
    short = vend(token, USERS_PREFIX, durationSeconds=900)
    longer = vend(token, USERS_PREFIX, durationSeconds=7200)
    assert longer["credentials"]["accessKeyId"] != short["credentials"]["accessKeyId"]
    assert longer["credentials"]["expiration"] > short["credentials"]["expiration"]
    assert control_plane_calls(fresh_identity_center)["GetDataAccess"] == 2


def test_cache_disabled_sends_every_call_upstream(local_stack: LocalStack) -> None:
    with service_configured(local_stack, CACHE_ENABLED="false"):
        token = local_stack.token(ALICE)
        local_stack.reset_stats()
        for _ in range(5):
            vend(token, USERS_PREFIX)
        calls = control_plane_calls(local_stack)
    assert calls["CreateTokenWithIAM"] == 5
    assert calls["AssumeRole"] == 5
    assert calls["GetDataAccess"] == 5


def test_an_identity_session_expired_upstream_is_replaced(fresh_identity_center: LocalStack) -> None:
    stack = fresh_identity_center
    token = stack.token(ALICE, ttl=4 * 3600)
    vend(token, USERS_PREFIX)
    stack.advance_clock(3700)  # the emulator's sessions have expired; the service's cache does not know
    try:
        vend(token, "s3://shopfast-data/feedback/*", "READWRITE")
    finally:
        stack.reset_clock()
    calls = control_plane_calls(stack)
    assert calls["CreateTokenWithIAM"] == 2
    assert calls["AssumeRole"] == 2
