"""Escalation through request fields, odd paths and foreign origins: a genuine user asking for more
than their department holds gets 4xx with no AWS call; paths the API does not declare never answer
2xx or 5xx; a foreign origin is never allowed by CORS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.clients import ApiClient, DirectInvoker
from tests.security.conftest import LambdaHosts, Tokens, control_plane_calls

pytestmark = pytest.mark.security

HR_RECORD = "s3://shopfast-internal/employee-records/record.txt"


@pytest.fixture(scope="module")
def iam_role_lambda(lambda_hosts: LambdaHosts, stack_config: dict[str, Any]) -> Iterator[DirectInvoker]:
    mapping = json.dumps(stack_config["departmentRoles"], separators=(",", ":"))
    with lambda_hosts.start(IDENTITY_MODE="iam-role", ROLE_MAPPING=mapping) as invoker:
        yield invoker


def test_iam_role_mode_serves_the_callers_own_role(iam_role_lambda: DirectInvoker, tokens: Tokens) -> None:
    """The control: alice's own department role works, so the refusals below are about the role asked for."""
    alice = tokens.issue("alice@shopfast.example")
    body = {"target": "s3://shopfast-data/users/user_list", "permission": "READ", "role": "CustomerSupport"}
    result = iam_role_lambda.invoke("POST", "/v1/credentials", token=alice, body=body)
    assert result.status == 200, result.body
    assert result.json()["grantee"]["identifier"].endswith("role/ShopFast-CustomerSupport")


@pytest.mark.parametrize(
    "role",
    [
        "HR",
        "ShopFast-HR",
        "arn:aws:iam::111111111111:role/ShopFast-HR",
        "hr",
        "HR ",
        "*",
        "CustomerSupport,HR",
    ],
)
def test_naming_another_departments_role_is_refused_before_any_aws_call(
    role: str, iam_role_lambda: DirectInvoker, tokens: Tokens, stack: Any, stack_config: dict[str, Any]
) -> None:
    if role == "arn:HR":
        role = stack_config["departmentRoles"]["HR"]  # the HR role's full ARN
    alice = tokens.issue("alice@shopfast.example")
    calls_before = control_plane_calls(stack)
    body = {"target": HR_RECORD, "permission": "READ", "role": role}
    result = iam_role_lambda.invoke("POST", "/v1/credentials", token=alice, body=body)
    assert result.status in (400, 403), result.body
    assert control_plane_calls(stack) == calls_before


def test_a_user_without_a_mapped_group_gets_nothing_in_iam_role_mode(
    iam_role_lambda: DirectInvoker, tokens: Tokens, stack: Any
) -> None:
    mallory = tokens.issue("mallory@shopfast.example")
    calls_before = control_plane_calls(stack)
    for role in (None, "HR", "Sales"):
        body = {"target": HR_RECORD, "permission": "READ", **({"role": role} if role else {})}
        result = iam_role_lambda.invoke("POST", "/v1/credentials", token=mallory, body=body)
        assert result.status == 403, result.body
    assert control_plane_calls(stack) == calls_before


def test_role_is_refused_in_identity_center_mode(direct: DirectInvoker, tokens: Tokens, stack: Any) -> None:
    alice = tokens.issue("alice@shopfast.example")
    calls_before = control_plane_calls(stack)
    body = {"target": HR_RECORD, "permission": "READ", "role": "HR"}
    result = direct.invoke("POST", "/v1/credentials", token=alice, body=body)
    assert result.status == 400, result.body
    assert control_plane_calls(stack) == calls_before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/me/",
        "/v1//me",
        "/v1/./me",
        "/v1/x/../me",
        "/v1/%6De",
        "/V1/ME",
        "/v1/credentials/..",
        "/v1/me%00",
        "/v1/me;.json",
        "/v2/me",
        "/.well-known/jwks.json",
        "/_local/config",
        "/../../etc/passwd",
    ],
)
def test_undeclared_paths_never_answer_2xx_without_a_token_nor_5xx(path: str, api: ApiClient) -> None:
    response = api.request("GET", path, allow_redirects=False)
    assert response.status_code in (401, 403, 404, 405), (
        f"{path}: {response.status_code} {response.text[:200]}"
    )


@pytest.mark.parametrize("origin", ["https://attacker.invalid", "null", "http://127.0.0.1.attacker.invalid"])
def test_a_foreign_origin_is_never_allowed_by_cors(origin: str, api: ApiClient, tokens: Tokens) -> None:
    preflight = api.request(
        "OPTIONS",
        "/v1/credentials",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code < 500
    assert preflight.headers.get("access-control-allow-origin") not in (origin, "*")
    token = tokens.issue("alice@shopfast.example")
    response = api.request("GET", "/v1/me", token=token, headers={"Origin": origin})
    assert response.status_code == 200, response.text
    assert response.headers.get("access-control-allow-origin") not in (origin, "*")
