"""GET /v1/health, GET /v1/me and GET /v1/grants through the real handlers, in both identity modes."""

from __future__ import annotations

import pytest

from local.stack import LocalStack
from tests.integration.conftest import ACCESS_PLAN, USERS, Tokens, groups_of
from tests.integration.handler_calls import call, problem_of

pytestmark = pytest.mark.integration


def planned_grants_of(email: str) -> set[tuple[str, str]]:
    return {
        (f"s3://{grant['bucket']}/{grant['prefix']}*", grant["permission"])
        for group in groups_of(email)
        for grant in ACCESS_PLAN["departments"].get(group, {}).get("grants", [])
    }


def test_health_needs_no_token(mode: str) -> None:
    answer = call("GET", "/v1/health")
    assert answer.status == 200
    assert answer.body["status"] == "ok" and answer.body["version"]
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("user", [u for u in USERS if groups_of(u)])
def test_me_describes_the_caller(mode: str, local_stack: LocalStack, tokens: Tokens, user: str) -> None:
    answer = call("GET", "/v1/me", token=tokens(user))
    assert answer.status == 200, answer.text
    me = answer.body
    assert me["email"] == user
    assert me["identityMode"] == mode
    assert me["groups"] == groups_of(user)
    assert me["sessionName"] == user
    config = local_stack.config()
    if mode == "identity-center":
        assert me["roleArn"] == config["identityBearerRoleArn"]
        assert me["directoryUserId"]
    else:
        assert me["roleArn"] == config["departmentRoles"][groups_of(user)[0]]
        assert me["sourceIdentity"] == user


def test_me_without_a_token_is_401(mode: str) -> None:
    problem_of(call("GET", "/v1/me"), 401)


@pytest.mark.parametrize("user", USERS)
def test_grants_lists_exactly_the_callers_grants(mode: str, tokens: Tokens, user: str) -> None:
    answer = call("GET", "/v1/grants", token=tokens(user))
    if not groups_of(user) and mode == "iam-role":
        problem_of(answer, 403)  # mallory: no group, so no department role to act as
        return
    assert answer.status == 200, answer.text
    listed = {(grant["grantScope"], grant["permission"]) for grant in answer.body["grants"]}
    assert listed == planned_grants_of(user)
    assert answer.body["nextToken"] is None


def test_grants_paginate_with_an_opaque_token(mode: str, tokens: Tokens) -> None:
    token = tokens("bob@shopfast.example")
    first = call("GET", "/v1/grants", token=token, query={"maxResults": "1"})
    assert first.status == 200, first.text
    assert len(first.body["grants"]) == 1 and first.body["nextToken"]
    second = call(
        "GET", "/v1/grants", token=token, query={"maxResults": "1", "nextToken": first.body["nextToken"]}
    )
    assert second.status == 200, second.text
    scopes = {g["grantScope"] for g in first.body["grants"] + second.body["grants"]}
    assert scopes == {scope for scope, _ in planned_grants_of("bob@shopfast.example")}


def test_grants_filtered_by_scope(mode: str, tokens: Tokens) -> None:
    answer = call(
        "GET",
        "/v1/grants",
        token=tokens("bob@shopfast.example"),
        query={"scope": "s3://shopfast-data/users/"},
    )
    assert answer.status == 200, answer.text
    assert {g["grantScope"] for g in answer.body["grants"]} == {"s3://shopfast-data/users/*"}


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"maxResults": "0"}, "maxResults"),
        ({"maxResults": "many"}, "maxResults"),
        ({"nextToken": "bad token with spaces"}, "nextToken"),
        ({"scope": "s3://shopfast-data/../x/"}, "'..'"),
        ({"unknown": "1"}, "unknown"),
    ],
)
def test_bad_grant_queries_are_400(mode: str, tokens: Tokens, query: dict[str, str], detail: str) -> None:
    problem = problem_of(call("GET", "/v1/grants", token=tokens("alice@shopfast.example"), query=query), 400)
    assert detail in problem["detail"]
