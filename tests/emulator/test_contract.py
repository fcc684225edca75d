"""Every Access Grants operation through boto3: each answer parses with botocore's own s3control model.

boto3 parses every response with the service model; on top of that `strict` checks that nothing was
left out (required members) or added (members the model does not know). The lifecycle runs in an
account of its own so the seeded account stays as seeded.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack
from tests.emulator.helpers import ACCOUNT_ID, get_data_access, identity_session, role_session

pytestmark = pytest.mark.integration

MODEL = botocore.session.get_session().get_service_model("s3control")
OTHER_ACCOUNT = "111122223333"
IDC_ARN = "arn:aws:sso:::instance/ssoins-7223c0ffee5e1a7d"


def strict(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    shape = MODEL.operation_model(operation).output_shape
    members = set(shape.members) if shape else set()
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    assert set(body) <= members, f"{operation}: members outside the model: {set(body) - members}"
    if shape:
        assert set(shape.required_members) <= set(body), f"{operation}: missing {shape.required_members}"
    assert response["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    return body


def error_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


ACCESS_GRANTS_OPERATIONS = {
    name
    for name in MODEL.operation_names
    if MODEL.operation_model(name)
    .http["requestUri"]
    .startswith(("/v20180820/accessgrantsinstance", "/v20180820/tags/"))
}


def test_instance_location_grant_and_tag_lifecycle(local_stack: LocalStack) -> None:
    # Keys whose access key ID is an account ID act in that account (the emulator's convention).
    s3control = local_stack.client(
        "s3control", credentials={"aws_access_key_id": OTHER_ACCOUNT, "aws_secret_access_key": "other"}
    )
    called: set[str] = set()
    s3control.meta.events.register("after-call.s3-control", lambda model, **_: called.add(model.name))
    account = {"AccountId": OTHER_ACCOUNT}
    assert error_of(s3control.get_access_grants_instance, **account) == (
        "AccessGrantsInstanceNotExistsError",
        404,
    )

    instance = strict(
        "CreateAccessGrantsInstance",
        s3control.create_access_grants_instance(**account, Tags=[{"Key": "team", "Value": "data"}]),
    )
    assert (
        instance["AccessGrantsInstanceArn"] == f"arn:aws:s3:us-east-1:{OTHER_ACCOUNT}:access-grants/default"
    )
    assert error_of(s3control.create_access_grants_instance, **account)[1] == 409
    strict(
        "AssociateAccessGrantsIdentityCenter",
        s3control.associate_access_grants_identity_center(**account, IdentityCenterArn=IDC_ARN),
    )
    got = strict("GetAccessGrantsInstance", s3control.get_access_grants_instance(**account))
    assert got["IdentityCenterArn"] == IDC_ARN
    listed = strict("ListAccessGrantsInstances", s3control.list_access_grants_instances(**account))
    assert [i["AccessGrantsInstanceArn"] for i in listed["AccessGrantsInstancesList"]] == [
        instance["AccessGrantsInstanceArn"]
    ]

    role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/location-role"
    # A grant names data that exists: the bucket first (bucket names are global).
    local_stack.client("s3").create_bucket(Bucket="contract-bucket")
    location = strict(
        "CreateAccessGrantsLocation",
        s3control.create_access_grants_location(
            **account, LocationScope="s3://contract-bucket", IAMRoleArn=role
        ),
    )
    location_id = location["AccessGrantsLocationId"]
    assert error_of(
        s3control.create_access_grants_location,
        **account,
        LocationScope="s3://contract-bucket",
        IAMRoleArn=role,
    ) == ("AccessGrantsLocationAlreadyExistsError", 409)
    assert error_of(
        s3control.create_access_grants_location, **account, LocationScope="s3://b2", IAMRoleArn="not-a-role"
    ) == ("InvalidIamRole", 400)
    strict(
        "GetAccessGrantsLocation",
        s3control.get_access_grants_location(**account, AccessGrantsLocationId=location_id),
    )
    updated = strict(
        "UpdateAccessGrantsLocation",
        s3control.update_access_grants_location(
            **account, AccessGrantsLocationId=location_id, IAMRoleArn=role + "-2"
        ),
    )
    assert updated["IAMRoleArn"] == role + "-2"
    locations = strict(
        "ListAccessGrantsLocations",
        s3control.list_access_grants_locations(**account, LocationScope="s3://contract-bucket"),
    )
    assert [loc["AccessGrantsLocationId"] for loc in locations["AccessGrantsLocationsList"]] == [location_id]

    iam_grant = strict(
        "CreateAccessGrant",
        s3control.create_access_grant(
            **account,
            AccessGrantsLocationId=location_id,
            AccessGrantsLocationConfiguration={"S3SubPrefix": "reports/*"},
            Grantee={"GranteeType": "IAM", "GranteeIdentifier": f"arn:aws:iam::{OTHER_ACCOUNT}:role/analyst"},
            Permission="READ",
        ),
    )
    assert iam_grant["GrantScope"] == "s3://contract-bucket/reports/*"
    user_grant = strict(
        "CreateAccessGrant",
        s3control.create_access_grant(
            **account,
            AccessGrantsLocationId=location_id,
            AccessGrantsLocationConfiguration={"S3SubPrefix": "inbox/report.csv"},
            Grantee={"GranteeType": "DIRECTORY_USER", "GranteeIdentifier": "user-1"},
            Permission="READWRITE",
            S3PrefixType="Object",
            ApplicationArn="arn:aws:sso::111122223333:application/ssoins-7223c0ffee5e1a7d/apl-0000000000000000",
        ),
    )
    assert user_grant["GrantScope"] == "s3://contract-bucket/inbox/report.csv"
    assert error_of(
        s3control.create_access_grant,
        **account,
        AccessGrantsLocationId=location_id,
        AccessGrantsLocationConfiguration={"S3SubPrefix": "reports/*"},
        Grantee={"GranteeType": "IAM", "GranteeIdentifier": f"arn:aws:iam::{OTHER_ACCOUNT}:role/analyst"},
        Permission="READ",
    ) == ("AccessGrantAlreadyExists", 409)
    strict("GetAccessGrant", s3control.get_access_grant(**account, AccessGrantId=iam_grant["AccessGrantId"]))

    def grant_ids(**filters: Any) -> list[str]:
        page = strict("ListAccessGrants", s3control.list_access_grants(**account, **filters))
        return sorted(g["AccessGrantId"] for g in page["AccessGrantsList"])

    both = sorted([iam_grant["AccessGrantId"], user_grant["AccessGrantId"]])
    assert grant_ids() == both
    assert grant_ids(GranteeType="IAM") == [iam_grant["AccessGrantId"]]
    assert grant_ids(GranteeType="DIRECTORY_USER", GranteeIdentifier="user-1") == [
        user_grant["AccessGrantId"]
    ]
    assert grant_ids(Permission="READWRITE") == [user_grant["AccessGrantId"]]
    assert grant_ids(GrantScope="s3://contract-bucket/reports/*") == [iam_grant["AccessGrantId"]]
    assert grant_ids(ApplicationArn=user_grant["ApplicationArn"]) == [user_grant["AccessGrantId"]]
    first = strict("ListAccessGrants", s3control.list_access_grants(**account, MaxResults=1))
    second = strict(
        "ListAccessGrants",
        s3control.list_access_grants(**account, MaxResults=1, NextToken=first["NextToken"]),
    )
    assert sorted(g["AccessGrantId"] for g in first["AccessGrantsList"] + second["AccessGrantsList"]) == both
    assert "NextToken" not in second
    # A token belongs to the request that got it (moto's Paginator binds it to the other parameters).
    assert error_of(
        s3control.list_access_grants, **account, MaxResults=1, NextToken=first["NextToken"], Permission="READ"
    ) == ("InvalidRequest", 400)

    prefix = strict(
        "GetAccessGrantsInstanceForPrefix",
        s3control.get_access_grants_instance_for_prefix(**account, S3Prefix="s3://contract-bucket/reports/"),
    )
    assert prefix["AccessGrantsInstanceArn"] == instance["AccessGrantsInstanceArn"]

    for arn in (
        instance["AccessGrantsInstanceArn"],
        location["AccessGrantsLocationArn"],
        iam_grant["AccessGrantArn"],
    ):
        strict(
            "TagResource",
            s3control.tag_resource(**account, ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}]),
        )
        tags = strict("ListTagsForResource", s3control.list_tags_for_resource(**account, ResourceArn=arn))
        assert {"Key": "k", "Value": "v"} in tags["Tags"]
        strict("UntagResource", s3control.untag_resource(**account, ResourceArn=arn, TagKeys=["k"]))
        tags = strict("ListTagsForResource", s3control.list_tags_for_resource(**account, ResourceArn=arn))
        assert {"Key": "k", "Value": "v"} not in tags["Tags"]
    assert {"Key": "team", "Value": "data"} in s3control.list_tags_for_resource(
        **account, ResourceArn=instance["AccessGrantsInstanceArn"]
    )["Tags"]

    policy = '{"Version":"2012-10-17","Statement":[]}'
    strict(
        "PutAccessGrantsInstanceResourcePolicy",
        s3control.put_access_grants_instance_resource_policy(**account, Policy=policy),
    )
    got_policy = strict(
        "GetAccessGrantsInstanceResourcePolicy",
        s3control.get_access_grants_instance_resource_policy(**account),
    )
    assert got_policy["Policy"] == policy
    strict(
        "DeleteAccessGrantsInstanceResourcePolicy",
        s3control.delete_access_grants_instance_resource_policy(**account),
    )
    assert error_of(s3control.get_access_grants_instance_resource_policy, **account)[1] == 404

    assert error_of(
        s3control.delete_access_grants_location, **account, AccessGrantsLocationId=location_id
    ) == (
        "AccessGrantsLocationNotEmptyError",
        400,
    )
    assert (
        error_of(s3control.delete_access_grants_instance, **account)[0] == "AccessGrantsInstanceNotEmptyError"
    )
    for grant in (iam_grant, user_grant):
        strict(
            "DeleteAccessGrant",
            s3control.delete_access_grant(**account, AccessGrantId=grant["AccessGrantId"]),
        )
    assert error_of(s3control.get_access_grant, **account, AccessGrantId=iam_grant["AccessGrantId"]) == (
        "NoSuchAccessGrantError",
        404,
    )
    strict(
        "DeleteAccessGrantsLocation",
        s3control.delete_access_grants_location(**account, AccessGrantsLocationId=location_id),
    )
    assert error_of(s3control.get_access_grants_location, **account, AccessGrantsLocationId=location_id) == (
        "NoSuchAccessGrantsLocationError",
        404,
    )
    caller = strict("ListCallerAccessGrants", s3control.list_caller_access_grants(**account))
    assert caller["CallerAccessGrantsList"] == []  # static keys are no grantee
    assert error_of(
        s3control.get_data_access, **account, Target="s3://contract-bucket/reports/*", Permission="READ"
    ) == ("AccessDenied", 403)
    strict(
        "DissociateAccessGrantsIdentityCenter", s3control.dissociate_access_grants_identity_center(**account)
    )
    strict("DeleteAccessGrantsInstance", s3control.delete_access_grants_instance(**account))
    assert (
        error_of(s3control.get_access_grants_instance, **account)[0] == "AccessGrantsInstanceNotExistsError"
    )
    assert called == ACCESS_GRANTS_OPERATIONS, f"not exercised: {ACCESS_GRANTS_OPERATIONS - called}"


def test_caller_operations_parse(local_stack: LocalStack) -> None:
    keys = identity_session(local_stack, "bob@shopfast.example")
    s3control = local_stack.client("s3control", credentials=keys)
    listed = strict("ListCallerAccessGrants", s3control.list_caller_access_grants(AccountId=ACCOUNT_ID))
    assert {g["GrantScope"] for g in listed["CallerAccessGrantsList"]} == {
        "s3://shopfast-data/transactions/*",
        "s3://shopfast-data/users/*",
    }
    access = strict(
        "GetDataAccess",
        get_data_access(local_stack, keys, "s3://shopfast-data/users/user_list", "READ", TargetType="Object"),
    )
    assert set(access["Credentials"]) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert access["MatchedGrantTarget"] == "s3://shopfast-data/users/*"
    assert access["Grantee"]["GranteeType"] == "DIRECTORY_GROUP"


def test_the_seeded_account_is_wired_as_configured(local_stack: LocalStack) -> None:
    """One Access Grants instance per Region holding buckets, each with that Region's locations only."""
    config = local_stack.config()
    assert config["bucketRegions"] == {"shopfast-data": "us-east-1", "shopfast-internal": "ap-southeast-2"}
    for region, arn in config["accessGrantsInstanceArns"].items():
        s3control = local_stack.client("s3control", region=region)
        instance = s3control.get_access_grants_instance(AccountId=ACCOUNT_ID)
        assert (
            instance["AccessGrantsInstanceArn"]
            == arn
            == f"arn:aws:s3:{region}:{ACCOUNT_ID}:access-grants/default"
        )
        assert instance["IdentityCenterArn"] == config["identityCenterInstanceArn"]
        scopes = {
            loc["LocationScope"]
            for loc in s3control.list_access_grants_locations(AccountId=ACCOUNT_ID)[
                "AccessGrantsLocationsList"
            ]
        }
        assert scopes == {f"s3://{b}" for b, r in config["bucketRegions"].items() if r == region}
    assert config["accessGrantsInstanceArn"] == config["accessGrantsInstanceArns"]["us-east-1"]
    s3control = local_stack.client("s3control", region="ap-southeast-2")
    iam_grants = s3control.list_access_grants(
        AccountId=ACCOUNT_ID, GranteeType="IAM", GranteeIdentifier=config["departmentRoles"]["HR"]
    )["AccessGrantsList"]
    assert {g["GrantScope"] for g in iam_grants} == {
        "s3://shopfast-internal/employee-records/*",
        "s3://shopfast-internal/benefits/*",
    }
    keys = role_session(local_stack, "HR")
    assert get_data_access(local_stack, keys, "s3://shopfast-internal/benefits/*", "WRITE")["Grantee"] == {
        "GranteeType": "IAM",
        "GranteeIdentifier": config["departmentRoles"]["HR"],
    }


def test_bad_requests_are_client_errors(local_stack: LocalStack) -> None:
    s3control = local_stack.client("s3control")
    assert error_of(s3control.get_access_grant, AccountId=ACCOUNT_ID, AccessGrantId="no-such-grant")[1] == 404
    assert error_of(s3control.list_access_grants, AccountId=ACCOUNT_ID, NextToken="%%%not-a-token")[1] == 400
