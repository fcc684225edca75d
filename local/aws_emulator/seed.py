"""Seed the running emulator from the access plan (the file Terraform reads too) and the demo users.

Everything AWS-shaped is created through the emulator's own endpoint with boto3 (the same wire path
as any client), so seeding exercises the API rather than a back door. Only the Identity Center
directory is filled in directly, by the identity side's `identity_center.seed`.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config

from lib.loopback import use_loopback_endpoint
from local.aws_emulator import identity_center
from local.aws_emulator.state import EmulatorState

# Static keys of the seeding administrator (moto accepts any keys; they are not a vended credential).
ADMIN_KEYS = {"aws_access_key_id": "AKIAEMULATORSEED0001", "aws_secret_access_key": "emulator-seed-secret"}
AUDIENCE = "shopfast-vending"
APPLICATION_ARN = "arn:aws:sso::123456789012:application/ssoins-7223c0ffee5e1a7d/apl-5a1e5c0ffee0b1d8"
LOCATION_ROLE = "shopfast-access-grants-location"
IDENTITY_BEARER_ROLE = "shopfast-identity-bearer"
CLIENT_APP_ROLE = "shopfast-vending-client-app"
# Browsers on the demo page (any loopback port) fetch and upload through presigned URLs.
CORS_RULES = [
    {
        "AllowedOrigins": ["http://127.0.0.1:*", "http://localhost:*"],
        "AllowedMethods": ["GET", "PUT", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "x-amz-request-id"],
        "MaxAgeSeconds": 600,
    }
]
# A readable sample object under each granted prefix; anything not named here gets `<prefix>sample.txt`.
SAMPLE_OBJECTS = {
    ("shopfast-data", "users/user_list"): "alice,bob,carol,dave,erin\n",
    ("shopfast-data", "users-archive/old_list"): "zoe,yann\n",
    ("shopfast-data", "products/catalog.csv"): "sku,name,price\nSF-1,Mug,9.90\nSF-2,Tote,14.50\n",
    ("shopfast-data", "feedback/2024-q1.csv"): "order,rating,comment\n1001,5,fast delivery\n",
    ("shopfast-data", "transactions/2024-01.csv"): "order,amount\n1001,24.40\n",
    ("shopfast-internal", "leads/pipeline.csv"): "company,stage\nAcme,qualified\n",
    ("shopfast-internal", "employee-records/roster.csv"): "employee,department\nalice,CustomerSupport\n",
    ("shopfast-internal", "benefits/plans.txt"): "Standard health plan\n",
}


def _trust(principal: dict[str, Any], actions: list[str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": actions}],
        }
    )


def _client(service: str, endpoint: str, region: str) -> Any:
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
        **ADMIN_KEYS,
    )
    return use_loopback_endpoint(client)


def seed_directory(
    state: EmulatorState, *, plan: dict[str, Any], demo_users: dict[str, Any]
) -> dict[str, Any]:
    """Only the Identity Center instance and its directory (as an IdP's SCIM sync leaves it), no AWS
    resources: what the Terraform tests start from. Returns the keys it adds to `/_local/config`."""
    from local.aws_emulator import identity_center

    identity_center.seed_directory(state, demo_users, plan)
    return {
        "identityCenterInstanceArn": state.instance_arn,
        "identityStoreId": state.identity_store_id,
        "audience": AUDIENCE,
    }


def seed(
    state: EmulatorState, *, endpoint: str, issuer_url: str, plan: dict[str, Any], demo_users: dict[str, Any]
) -> dict[str, Any]:
    """Create everything the access plan describes; return the `/_local/config` document."""
    account, region = state.account_id, state.region
    identity_center.seed(state, demo_users, plan, issuer_url, AUDIENCE)

    iam = _client("iam", endpoint, region)
    role_arn = f"arn:aws:iam::{account}:role/{{}}"
    iam.create_role(
        RoleName=LOCATION_ROLE,
        AssumeRolePolicyDocument=_trust(
            {"Service": "access-grants.s3.amazonaws.com"},
            ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:SetContext"],
        ),
    )
    iam.create_role(
        RoleName=CLIENT_APP_ROLE,
        AssumeRolePolicyDocument=_trust({"Service": "lambda.amazonaws.com"}, ["sts:AssumeRole"]),
    )
    iam.create_role(
        RoleName=IDENTITY_BEARER_ROLE,
        AssumeRolePolicyDocument=_trust(
            {"AWS": role_arn.format(CLIENT_APP_ROLE)}, ["sts:AssumeRole", "sts:SetContext"]
        ),
    )
    department_roles = {}
    for department, spec in plan["departments"].items():
        iam.create_role(
            RoleName=spec["iam_role"],
            AssumeRolePolicyDocument=_trust(
                {"AWS": f"arn:aws:iam::{account}:root"}, ["sts:AssumeRole", "sts:SetSourceIdentity"]
            ),
        )
        department_roles[department] = role_arn.format(spec["iam_role"])

    s3 = _client("s3", endpoint, region)
    for bucket in plan["buckets"]:
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": CORS_RULES})
    objects = dict(SAMPLE_OBJECTS)
    for spec in plan["departments"].values():
        for grant in spec["grants"]:
            if not any(b == grant["bucket"] and k.startswith(grant["prefix"]) for b, k in objects):
                objects[(grant["bucket"], grant["prefix"] + "sample.txt")] = (
                    f"sample object in {grant['prefix']}\n"
                )
    for (bucket, key), body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/plain")

    s3control = _client("s3control", endpoint, region)
    instance = s3control.create_access_grants_instance(
        AccountId=account, IdentityCenterArn=state.instance_arn
    )
    locations = {}
    for bucket in plan["buckets"]:
        created = s3control.create_access_grants_location(
            AccountId=account, LocationScope=f"s3://{bucket}", IAMRoleArn=role_arn.format(LOCATION_ROLE)
        )
        locations[bucket] = created["AccessGrantsLocationId"]
    for department, spec in plan["departments"].items():
        group_id = state.group_id_by_name(spec["directory_group"])
        grantees = [{"GranteeType": "IAM", "GranteeIdentifier": department_roles[department]}]
        if group_id is not None:
            grantees.append({"GranteeType": "DIRECTORY_GROUP", "GranteeIdentifier": group_id})
        for grant in spec["grants"]:
            for grantee in grantees:
                s3control.create_access_grant(
                    AccountId=account,
                    AccessGrantsLocationId=locations[grant["bucket"]],
                    AccessGrantsLocationConfiguration={"S3SubPrefix": grant["prefix"] + "*"},
                    Grantee=grantee,
                    Permission=grant["permission"],
                )

    return {
        "accountId": account,
        "region": region,
        "endpoint": endpoint,
        "accessGrantsInstanceArn": instance["AccessGrantsInstanceArn"],
        "identityCenterInstanceArn": state.instance_arn,
        "identityStoreId": state.identity_store_id,
        "applicationArn": APPLICATION_ARN,
        "identityBearerRoleArn": role_arn.format(IDENTITY_BEARER_ROLE),
        "clientApplicationRoleArn": role_arn.format(CLIENT_APP_ROLE),
        "locationRoleArn": role_arn.format(LOCATION_ROLE),
        "departmentRoles": department_roles,
        "buckets": list(plan["buckets"]),
        "issuer": issuer_url,
        "audience": AUDIENCE,
    }
