"""Two accounts, as the reference setup deploys them: IAM Identity Center in 222222222222, the buckets, the
Access Grants instances and the service's roles in 111111111111.

Sources: the IAM User Guide, "Cross-account policy evaluation logic" (a request from another account is
allowed only when the resource's policy allows it and the caller's identity-based policies do too) and
"How IAM roles differ from resource-based policies"; the S3 user guide, "Working with S3 Access Grants
and corporate directories" (an Access Grants instance associated with an Identity Center instance of
another account of the organisation); the IAM Identity Center API reference (ListInstances,
AccessDeniedException). Static keys act in the data account; keys whose access key ID is twelve digits
act in that account (local/README.md).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import IDENTITY_CENTER_KEYS, TEST_KEYS, LocalStack
from tests.emulator.helpers import boto_keys

DATA_ACCOUNT = "111111111111"
IDC_ACCOUNT = "222222222222"


def _error(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _role(iam: Any, trusted: dict[str, Any], policy: dict[str, Any] | None = None) -> str:
    name = f"two-accounts-{uuid.uuid4().hex[:8]}"
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": trusted, "Action": "sts:AssumeRole"}],
    }
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="own", PolicyDocument=json.dumps(policy))
    return arn


def _allow(action: str, resource: str, effect: str = "Allow") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
    }


def test_the_configuration_names_both_accounts_and_static_keys_choose_theirs(stack: LocalStack) -> None:
    config = stack.config()
    assert (config["accountId"], config["identityCenterAccountId"]) == (DATA_ACCOUNT, IDC_ACCOUNT)
    assert config["applicationArn"].split(":")[4] == IDC_ACCOUNT
    assert config["clientApplicationRoleArn"].split(":")[4] == DATA_ACCOUNT
    assert config["accessGrantsInstanceArn"].split(":")[4] == DATA_ACCOUNT
    assert stack.client("sts").get_caller_identity()["Account"] == DATA_ACCOUNT
    assert (
        stack.client("sts", credentials=IDENTITY_CENTER_KEYS).get_caller_identity()["Account"] == IDC_ACCOUNT
    )


def test_each_account_keeps_its_own_state(stack: LocalStack) -> None:
    """moto's backends are per account: a role, a table or a secret made in one is not in the other."""
    name = f"only-in-idc-{uuid.uuid4().hex[:8]}"
    idc_iam = stack.client("iam", credentials=IDENTITY_CENTER_KEYS)
    arn = _role(idc_iam, {"AWS": f"arn:aws:iam::{IDC_ACCOUNT}:root"})
    assert arn.startswith(f"arn:aws:iam::{IDC_ACCOUNT}:role/")
    assert _error(stack.client("iam").get_role, RoleName=arn.rsplit("/", 1)[1]) == ("NoSuchEntity", 404)
    stack.client("secretsmanager", credentials=IDENTITY_CENTER_KEYS).create_secret(
        Name=name, SecretString="x"
    )
    assert name not in {s["Name"] for s in stack.client("secretsmanager").list_secrets()["SecretList"]}
    # The seeded state table is the data account's.
    assert "local-state" in stack.client("dynamodb").list_tables()["TableNames"]
    assert (
        "local-state"
        not in stack.client("dynamodb", credentials=IDENTITY_CENTER_KEYS).list_tables()["TableNames"]
    )


def test_identity_center_belongs_to_its_own_account(stack: LocalStack) -> None:
    """From the data account there is no instance, and the other account's application and directory are
    refused (AccessDeniedException, as the API reference lists for these operations)."""
    config = stack.config()
    assert stack.client("sso-admin").list_instances()["Instances"] == []
    assert (
        stack.client("sso-admin", credentials=IDENTITY_CENTER_KEYS).list_instances()["Instances"][0][
            "InstanceArn"
        ]
        == config["identityCenterInstanceArn"]
    )
    assert _error(
        stack.client("sso-admin").describe_application, ApplicationArn=config["applicationArn"]
    ) == (
        "AccessDeniedException",
        400,
    )
    assert _error(stack.client("identitystore").list_users, IdentityStoreId=config["identityStoreId"]) == (
        "AccessDeniedException",
        400,
    )
    users = stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS).list_users(
        IdentityStoreId=config["identityStoreId"]
    )["Users"]
    assert "alice@shopfast.example" in {user["UserName"] for user in users}


def test_the_access_grants_instance_is_the_data_accounts_associated_with_the_other_accounts_center(
    stack: LocalStack,
) -> None:
    config = stack.config()
    instance = stack.client("s3control").get_access_grants_instance(AccountId=DATA_ACCOUNT)
    assert instance["IdentityCenterArn"] == config["identityCenterInstanceArn"]
    # The application AWS makes for the association lives in the Identity Center instance's account.
    assert instance["IdentityCenterApplicationArn"].split(":")[4] == IDC_ACCOUNT
    # Access Grants has no resource policies: another account's instance is out of its callers' reach.
    idc_s3control = stack.client("s3control", credentials=IDENTITY_CENTER_KEYS)
    assert _error(idc_s3control.get_access_grants_instance, AccountId=DATA_ACCOUNT) == ("AccessDenied", 403)
    assert _error(idc_s3control.list_access_grants, AccountId=DATA_ACCOUNT) == ("AccessDenied", 403)


@pytest.fixture
def data_account_caller(stack: LocalStack) -> Any:
    """A role session in the data account, whose own policy the test chooses."""

    def caller(policy: dict[str, Any] | None) -> dict[str, str]:
        iam = stack.client("iam")
        arn = _role(iam, {"AWS": f"arn:aws:iam::{DATA_ACCOUNT}:root"}, policy)
        sts = stack.client("sts")
        return boto_keys(sts.assume_role(RoleArn=arn, RoleSessionName="caller")["Credentials"])

    return caller


def test_assuming_a_role_of_the_other_account_needs_its_trust_and_the_callers_own_policy(
    stack: LocalStack, data_account_caller: Any
) -> None:
    idc_iam = stack.client("iam", credentials=IDENTITY_CENTER_KEYS)
    trusting = _role(idc_iam, {"AWS": f"arn:aws:iam::{DATA_ACCOUNT}:root"})
    not_trusting = _role(idc_iam, {"AWS": f"arn:aws:iam::{IDC_ACCOUNT}:root"})

    def assume(keys: dict[str, str], role: str) -> Any:
        return stack.client("sts", credentials=keys).assume_role(RoleArn=role, RoleSessionName="across")

    # The trust policy allows the data account, the caller's own policy says nothing: refused.
    unpermitted = data_account_caller(None)
    assert _error(assume, keys=unpermitted, role=trusting) == ("AccessDenied", 403)
    # Both allow: the session is the other account's role.
    permitted = data_account_caller(_allow("sts:AssumeRole", f"arn:aws:iam::{IDC_ACCOUNT}:role/*"))
    session = assume(permitted, trusting)
    assert session["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{IDC_ACCOUNT}:assumed-role/")
    identity = stack.client("sts", credentials=boto_keys(session["Credentials"])).get_caller_identity()
    assert identity["Account"] == IDC_ACCOUNT
    # The caller may, the role does not trust its account: refused.
    assert _error(assume, keys=permitted, role=not_trusting) == ("AccessDenied", 403)
    # An explicit deny in the caller's own policies wins over both allows.
    denied = data_account_caller(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": trusting},
            ],
        }
    )
    assert _error(assume, keys=denied, role=trusting) == ("AccessDenied", 403)
    # Within one account the trust policy alone decides, as before.
    same_account = _role(stack.client("iam"), {"AWS": f"arn:aws:iam::{DATA_ACCOUNT}:root"})
    assert assume(unpermitted, same_account)["AssumedRoleUser"]["Arn"].startswith(
        f"arn:aws:sts::{DATA_ACCOUNT}:assumed-role/"
    )
    # The data account's administrator (static keys) holds every permission of its account.
    assert assume(TEST_KEYS, trusting)["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{IDC_ACCOUNT}:")
