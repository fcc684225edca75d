"""Every demo user x every row of the department table, in both identity modes: POST /v1/credentials
answers 200 with working, correctly scoped credentials exactly where the access plan allows, else 403."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack
from tests.integration.conftest import (
    PLANNED_GRANTS,
    USERS,
    PlannedGrant,
    Tokens,
    groups_of,
    plan_allows,
    s3_with,
    sample_key,
)
from tests.integration.handler_calls import call, problem_of

pytestmark = pytest.mark.integration

OUTSIDE_EVERY_GRANT = ("shopfast-data", "users-archive/old_list")


def own_grant_targets(user: str, grant: PlannedGrant) -> set[str]:
    """Targets of the user's own planned grants that cover the requested one."""
    return {
        planned.target
        for planned in PLANNED_GRANTS
        if planned.department in groups_of(user)
        and planned.bucket == grant.bucket
        and grant.prefix.startswith(planned.prefix)
    }


def _denied(error: pytest.ExceptionInfo[ClientError]) -> bool:
    return error.value.response["Error"]["Code"] in {"AccessDenied", "403"}


@pytest.mark.parametrize("grant", PLANNED_GRANTS, ids=str)
@pytest.mark.parametrize("user", USERS)
def test_credentials_for_every_user_and_department_row(
    mode: str, local_stack: LocalStack, tokens: Tokens, user: str, grant: PlannedGrant
) -> None:
    answer = call(
        "POST",
        "/v1/credentials",
        token=tokens(user),
        body={"target": grant.target, "permission": grant.permission},
    )

    if not plan_allows(user, grant.bucket, grant.prefix, grant.permission):
        problem = problem_of(answer, 403)
        assert problem["code"] == "access_denied"
        return

    assert answer.status == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.body
    assert set(body) == {"credentials", "matchedGrantTarget", "grantee"}
    assert body["matchedGrantTarget"] in own_grant_targets(user, grant)
    assert body["grantee"]["type"] in {"DIRECTORY_GROUP", "DIRECTORY_USER", "IAM"}
    s3 = s3_with(local_stack, body["credentials"])

    readable = sample_key(local_stack, grant.bucket, grant.prefix)
    assert s3.get_object(Bucket=grant.bucket, Key=readable)["Body"].read() is not None

    bucket, outside = OUTSIDE_EVERY_GRANT
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key=outside)
    assert _denied(refused)

    written = f"{grant.prefix}matrix-{mode}-{uuid.uuid4().hex[:8]}.txt"
    # Asked for READ, a user who may also write can be served cached READWRITE credentials (READWRITE
    # satisfies READ), so writing is only asserted where it was asked for or where the plan forbids it.
    if "WRITE" in grant.permission:
        s3.put_object(Bucket=grant.bucket, Key=written, Body=b"written through vended credentials")
        assert s3.get_object(Bucket=grant.bucket, Key=written)["Body"].read() == (
            b"written through vended credentials"
        )
    elif not plan_allows(user, grant.bucket, grant.prefix, "WRITE"):
        with pytest.raises(ClientError) as refused:
            s3.put_object(Bucket=grant.bucket, Key=written, Body=b"must not land")
        assert _denied(refused)
