"""Cache keys built from claims an IdP lets users shape: no choice of `sub` or `email` reaches another
user's cached session, in either identity mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.clients import DirectInvoker
from tests.security.conftest import LambdaHosts, Tokens, control_plane_calls

pytestmark = pytest.mark.security

ALICE = "alice@shopfast.example"
ALICES_OBJECT = {"target": "s3://shopfast-data/users/user_list", "permission": "READ"}


def _vend(invoker: DirectInvoker, token: str, body: dict[str, Any] = ALICES_OBJECT) -> Any:
    return invoker.invoke("POST", "/v1/credentials", token=token, body=body)


@pytest.fixture
def fresh_lambda(lambda_hosts: LambdaHosts) -> Iterator[DirectInvoker]:
    """An execution environment of its own: nothing cached but what the test puts there."""
    with lambda_hosts.start() as invoker:
        yield invoker


def test_a_subject_and_email_that_join_to_a_cached_identity_get_no_session_of_it(
    fresh_lambda: DirectInvoker, tokens: Tokens, stack: Any
) -> None:
    """With alice's session cached for subject `T|x`, a token with subject `T` and email `x|alice@…`
    (the same string joined with `|`) must go through its own exchange, which finds no such user."""
    forge = tokens.forge()
    cached = _vend(fresh_lambda, forge.legit(sub="T|x", email=ALICE))
    assert cached.status == 200, cached.body
    calls_before = control_plane_calls(stack)
    colliding = _vend(fresh_lambda, forge.legit(sub="T", email=f"x|{ALICE}"))
    assert colliding.status in (401, 403), colliding.body
    assert "credentials" not in colliding.json()
    assert control_plane_calls(stack) > calls_before, "answered from another identity's cached session"


def test_in_iam_role_mode_the_same_collision_reaches_no_other_session(
    lambda_hosts: LambdaHosts, tokens: Tokens, stack_config: dict[str, Any], stack: Any
) -> None:
    """iam-role mode adds the role to the key; two colleagues of one department whose claims join to the
    same string must still get sessions of their own (the session name and source identity say who
    acted, in CloudTrail and in our audit)."""
    mapping = json.dumps(stack_config["departmentRoles"], separators=(",", ":"))
    forge = tokens.forge()
    with lambda_hosts.start(IDENTITY_MODE="iam-role", ROLE_MAPPING=mapping) as invoker:
        assert _vend(invoker, forge.legit(sub="T|x", email=ALICE)).status == 200
        calls_before = control_plane_calls(stack)
        answer = _vend(invoker, forge.legit(sub="T", email=f"x|{ALICE}"))
        assert answer.status == 200, answer.body
        assert control_plane_calls(stack) > calls_before, "answered from another caller's cached session"
