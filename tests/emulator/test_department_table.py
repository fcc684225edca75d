"""Acceptance: every demo user and every row of the department table, through plain boto3.

CreateTokenWithIAM → AssumeRole(ProvidedContexts) → GetDataAccess → S3 get/put with the vended
credentials (identity-center mode), and AssumeRole(ShopFast-<Department>) → GetDataAccess (iam-role
mode). The oracle is the seed's department table itself, written out below; it must also be what
`terraform/access-plan.json` says, since Terraform and the emulator both read that file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack
from tests.emulator.helpers import get_data_access, identity_session, role_session, s3_with

pytestmark = pytest.mark.integration

# The reference setup's department table (seeds/000_…): department → {(bucket, prefix): access}.
DEPARTMENT_TABLE = {
    "Marketing": {("shopfast-data", "products/"): "READ", ("shopfast-data", "feedback/"): "READ"},
    "Sales": {("shopfast-data", "transactions/"): "READWRITE", ("shopfast-data", "users/"): "READWRITE"},
    "CustomerSupport": {("shopfast-data", "users/"): "READ", ("shopfast-data", "feedback/"): "READWRITE"},
    "ProductManagement": {
        ("shopfast-data", "products/"): "READWRITE",
        ("shopfast-internal", "leads/"): "READ",
    },
    "HR": {
        ("shopfast-internal", "employee-records/"): "READWRITE",
        ("shopfast-internal", "benefits/"): "READWRITE",
    },
}
USERS = {
    "alice@shopfast.example": "CustomerSupport",
    "bob@shopfast.example": "Sales",
    "carol@shopfast.example": "Marketing",
    "dave@shopfast.example": "ProductManagement",
    "erin@shopfast.example": "HR",
    "mallory@shopfast.example": None,
}
PREFIXES = sorted({location for rows in DEPARTMENT_TABLE.values() for location in rows})
ACCESS = ("READ", "WRITE")


def allowed(department: str | None, location: tuple[str, str], access: str) -> bool:
    granted = DEPARTMENT_TABLE.get(department or "", {}).get(location)
    return granted is not None and granted in (access, "READWRITE")


def test_the_access_plan_is_the_department_table() -> None:
    plan = json.loads((Path(__file__).parents[2] / "terraform" / "access-plan.json").read_text())
    from_plan = {
        name: {(g["bucket"], g["prefix"]): g["permission"] for g in spec["grants"]}
        for name, spec in plan["departments"].items()
    }
    assert from_plan == DEPARTMENT_TABLE


def sample_key(stack: LocalStack, bucket: str, prefix: str) -> str:
    listed = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    assert listed["KeyCount"] >= 1, f"no sample object under s3://{bucket}/{prefix}"
    return listed["Contents"][0]["Key"]


def check_row(stack: LocalStack, keys: dict[str, str], department: str | None) -> None:
    for bucket, prefix in PREFIXES:
        target = f"s3://{bucket}/{prefix}*"
        for access in ACCESS:
            if not allowed(department, (bucket, prefix), access):
                with pytest.raises(ClientError) as denied:
                    get_data_access(stack, keys, target, access)
                assert denied.value.response["Error"]["Code"] == "AccessDenied", (department, target, access)
                assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
                continue
            vended = get_data_access(stack, keys, target, access)
            assert vended["MatchedGrantTarget"] == f"s3://{bucket}/{prefix}*"
            s3 = s3_with(stack, vended)
            if access == "READ":
                key = sample_key(stack, bucket, prefix)
                assert s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] >= 1
                with pytest.raises(ClientError) as refused:  # READ credentials do not write
                    s3.put_object(Bucket=bucket, Key=f"{prefix}from-read-creds.txt", Body=b"x")
                assert refused.value.response["Error"]["Code"] == "AccessDenied"
            else:
                s3.put_object(Bucket=bucket, Key=f"{prefix}written-by-test.txt", Body=b"written")
                with pytest.raises(ClientError) as refused:  # WRITE credentials do not read
                    s3.get_object(Bucket=bucket, Key=f"{prefix}written-by-test.txt")
                assert refused.value.response["Error"]["Code"] == "AccessDenied"
            # Outside the grant the same credentials are refused by S3, including the look-alike prefix.
            for other_bucket, other_prefix in PREFIXES:
                if (other_bucket, other_prefix) != (bucket, prefix):
                    with pytest.raises(ClientError) as outside:
                        s3.get_object(Bucket=other_bucket, Key=sample_key(stack, other_bucket, other_prefix))
                    assert outside.value.response["Error"]["Code"] == "AccessDenied"
            with pytest.raises(ClientError) as lookalike:
                s3.get_object(Bucket="shopfast-data", Key="users-archive/old_list")
            assert lookalike.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize("user", sorted(USERS))
def test_identity_center_mode(local_stack: LocalStack, user: str) -> None:
    check_row(local_stack, identity_session(local_stack, user), USERS[user])


@pytest.mark.parametrize("department", sorted(DEPARTMENT_TABLE))
def test_iam_role_mode(local_stack: LocalStack, department: str) -> None:
    check_row(local_stack, role_session(local_stack, department), department)


def test_the_seed_example_users_prefix_star_is_wider_than_the_grant(local_stack: LocalStack) -> None:
    """The reference setup's failing call: READWRITE on `users*` as CustomerSupport is denied, READ too."""
    keys = role_session(local_stack, "CustomerSupport")
    for access in ("READWRITE", "READ"):
        with pytest.raises(ClientError) as denied:
            get_data_access(local_stack, keys, "s3://shopfast-data/users*", access)
        assert denied.value.response["Error"]["Message"] == (
            f"You do not have {access} permissions to the requested S3 Prefix: s3://shopfast-data/users*"
        )
    assert get_data_access(local_stack, keys, "s3://shopfast-data/users/*", "READ")["MatchedGrantTarget"] == (
        "s3://shopfast-data/users/*"
    )
