"""Seed the running emulator from the access plan (the file Terraform reads too) and the demo users.

IAM roles, buckets, objects, the directory (identitystore) and Access Grants are created with boto3
through the emulator's own WSGI application, with the same wire format and checks as any client's call;
the bytes go to the application in this process rather than over a socket (botocore has no WSGI
transport, so `_InProcessHttp` stands in for its HTTP session). The vending application is made
directly, with everything hanging off it (its trusted token issuer, jwt-bearer grant, IAM
authentication method with the actor policy, Access Grants scope and assignment setting), because its
ARNs are fixed (the local stack's configuration and the tests name them) and sso-admin's
CreateApplication chooses ARNs itself.
"""

from __future__ import annotations

import functools
import io
import json
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.config import Config
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from adapters.loopback import use_loopback_endpoint
from adapters.shared_state import ENCRYPTION_CONTEXT
from local.aws_emulator.core.state import IDENTITY_CENTER_ACCOUNT_ID
from local.aws_emulator.sso_admin.models import INSTANCE_ID, JWT_BEARER

if TYPE_CHECKING:
    from local.aws_emulator.app import EmulatorApp

# Static keys of the seeding administrator (moto's stand-in administrator; not a vended credential), in
# the data account, and in the Identity Center account (an access key ID of twelve digits names it).
ADMIN_KEYS = {"aws_access_key_id": "AKIAEMULATORSEED0001", "aws_secret_access_key": "emulator-seed-secret"}
IDENTITY_CENTER_ADMIN_KEYS = {
    "aws_access_key_id": IDENTITY_CENTER_ACCOUNT_ID,
    "aws_secret_access_key": "emulator-seed-secret",
}
AUDIENCE = "shopfast-vending"
APPLICATION_ARN = f"arn:aws:sso::{IDENTITY_CENTER_ACCOUNT_ID}:application/{INSTANCE_ID}/apl-5a1e5c0ffee0b1d8"
CUSTOM_APPLICATION_PROVIDER = "arn:aws:sso::aws:applicationProvider/custom"
LOCATION_ROLE = "shopfast-access-grants-location"
IDENTITY_BEARER_ROLE = "shopfast-identity-bearer"
CLIENT_APP_ROLE = "shopfast-vending-client-app"
UPLOAD_BINDING_SECRET = "UploadBindingSecret"
AUDIT_PSEUDONYM_SECRET = "AuditPseudonymSecret"
# template.yaml's StateTable (`${AWS::StackName}-state`, the local stack being "local") and StateKey.
STATE_TABLE = "local-state"

# Browsers on the demo page (any loopback port) fetch and upload through presigned URLs; Uppy reads the
# ETag of each part and the Location of a POST form upload (https://uppy.io/docs/aws-s3/).
CORS_RULES = [
    {
        "AllowedOrigins": ["http://127.0.0.1:*", "http://localhost:*"],
        "AllowedMethods": ["GET", "PUT", "POST", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Location", "x-amz-request-id"],
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


class _RawBody(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


class _InProcessHttp:
    """botocore's HTTP session, answered by the emulator's WSGI application in this process."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
        environ = EnvironBuilder(
            method=request.method,
            path=unquote(url.path),
            query_string=url.query,
            headers=headers,
            data=body.encode() if isinstance(body, str) else bytes(body or b""),
            base_url=f"{url.scheme}://{url.netloc}",
        ).get_environ()
        environ["RAW_URI"] = url.path + (f"?{url.query}" if url.query else "")
        answer = Response.from_app(self.app, environ)
        answer_headers = HTTPHeaders()
        for name, value in answer.headers.items():
            answer_headers[name] = value
        return AWSResponse(request.url, answer.status_code, answer_headers, _RawBody(answer.get_data()))

    def close(self) -> None:
        pass


def token_exchange_policy(application_arn: str) -> str:
    """The statement of template.yaml's `vend-credentials` that the Identity Center account checks, for one
    application: across accounts, the actor policy alone does not let a role call CreateTokenWithIAM."""
    statement = {
        "Sid": "ExchangeTheCallersToken",
        "Effect": "Allow",
        "Action": "sso-oauth:CreateTokenWithIAM",
        "Resource": application_arn,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _client(
    service: str,
    app: EmulatorApp,
    endpoint: str,
    region: str | None = None,
    keys: dict[str, str] = ADMIN_KEYS,
) -> Any:
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region or app.region,
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
        **keys,
    )
    client._endpoint.http_session = _InProcessHttp(app)
    return use_loopback_endpoint(client)


def _department_groups(plan: dict[str, Any], demo_users: dict[str, Any]) -> list[str]:
    names = [spec["directory_group"] for spec in plan.get("departments", {}).values()]
    names += [group for user in demo_users.get("users", []) for group in user.get("groups", [])]
    return list(dict.fromkeys(names))


def seed_directory(
    app: EmulatorApp, *, endpoint: str, plan: dict[str, Any], demo_users: dict[str, Any]
) -> dict[str, Any]:
    """The Identity Center instance and its directory (as an IdP's SCIM sync leaves it), through the
    identitystore API; no AWS resources: what the Terraform tests start from."""
    center = app.identity_center
    center.claim_moto_instance()
    store = center.identity_store_id
    identitystore = _client("identitystore", app, endpoint, keys=IDENTITY_CENTER_ADMIN_KEYS)
    group_ids = {
        name: identitystore.create_group(
            IdentityStoreId=store, DisplayName=name, Description=f"ShopFast {name}"
        )["GroupId"]
        for name in _department_groups(plan, demo_users)
    }
    for user in demo_users.get("users", []):
        display = user.get("name", user["email"].split("@")[0])
        user_id = identitystore.create_user(
            IdentityStoreId=store,
            UserName=user["email"],
            DisplayName=display,
            Name={"GivenName": display, "FamilyName": "ShopFast"},
            Emails=[{"Value": user["email"], "Type": "work", "Primary": True}],
        )["UserId"]
        for group in user.get("groups", []):
            identitystore.create_group_membership(
                IdentityStoreId=store, GroupId=group_ids[group], MemberId={"UserId": user_id}
            )
    return {
        "identityCenterInstanceArn": center.instance_arn,
        "identityStoreId": store,
        "audience": AUDIENCE,
        "directoryGroupIds": group_ids,
    }


def seed_application(app: EmulatorApp, issuer_url: str) -> None:
    """The vending application trusting the local issuer (claim `email` -> `emails.value`): its jwt-bearer
    grant, an actor policy trusting only the client-application role (of the data account), the Access
    Grants scope, and assignment not required (GetDataAccess decides, so a user without a department is
    refused there). All of it in the Identity Center account."""
    center, account = app.identity_center, app.account_id
    issuer_arn = (
        f"arn:aws:sso::{center.account_id}:trustedTokenIssuer/{INSTANCE_ID}/"
        "tti-5a1e5c0f-fee0-4b1d-8000-000000000001"
    )
    center.create_trusted_token_issuer(
        {
            "InstanceArn": center.instance_arn,
            "Name": "shopfast-local-oidc",
            "TrustedTokenIssuerType": "OIDC_JWT",
            "TrustedTokenIssuerConfiguration": {
                "OidcJwtConfiguration": {
                    "IssuerUrl": issuer_url,
                    "ClaimAttributePath": "email",
                    "IdentityStoreAttributePath": "emails.value",
                    "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
                }
            },
        },
        arn=issuer_arn,
    )
    center.create_application(
        {
            "InstanceArn": center.instance_arn,
            "ApplicationProviderArn": CUSTOM_APPLICATION_PROVIDER,
            "Name": "shopfast-vending",
            "Description": "S3 Access Grants credential vending (local)",
        },
        arn=APPLICATION_ARN,
    )
    application = center.application(APPLICATION_ARN)
    center.put_grant(
        application,
        JWT_BEARER,
        {
            "JwtBearer": {
                "AuthorizedTokenIssuers": [
                    {"TrustedTokenIssuerArn": issuer_arn, "AuthorizedAudiences": [AUDIENCE]}
                ]
            }
        },
    )
    client_role = f"arn:aws:iam::{account}:role/{CLIENT_APP_ROLE}"
    actor_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": account},
                "Action": "sso-oauth:CreateTokenWithIAM",
                "Resource": APPLICATION_ARN,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": client_role}},
            }
        ],
    }
    center.put_authentication_method(application, "IAM", {"Iam": {"ActorPolicy": actor_policy}})
    application.access_scopes["s3:access_grants:read_write"] = []
    application.assignment_required = False


def seed(
    app: EmulatorApp, *, endpoint: str, issuer_url: str, plan: dict[str, Any], demo_users: dict[str, Any]
) -> dict[str, Any]:
    """Create everything the access plan describes; return the `/_local/config` document."""
    account, region = app.account_id, app.region
    directory = seed_directory(app, endpoint=endpoint, plan=plan, demo_users=demo_users)
    seed_application(app, issuer_url)

    client = functools.cache(
        lambda service, client_region=region: _client(service, app, endpoint, client_region)
    )
    iam = client("iam")
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
    iam.put_role_policy(
        RoleName=CLIENT_APP_ROLE,
        PolicyName="vend-credentials",
        PolicyDocument=token_exchange_policy(APPLICATION_ARN),
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

    bucket_regions = {bucket: spec["region"] for bucket, spec in plan["buckets"].items()}
    for bucket, bucket_region in bucket_regions.items():
        s3 = client("s3", bucket_region)
        location = {} if bucket_region == "us-east-1" else {"LocationConstraint": bucket_region}
        s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {}))
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": CORS_RULES})
    objects = dict(SAMPLE_OBJECTS)
    for spec in plan["departments"].values():
        for grant in spec["grants"]:
            if not any(b == grant["bucket"] and k.startswith(grant["prefix"]) for b, k in objects):
                objects[(grant["bucket"], grant["prefix"] + "sample.txt")] = (
                    f"sample object in {grant['prefix']}\n"
                )
    for (bucket, key), body in objects.items():
        client("s3", bucket_regions[bucket]).put_object(
            Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/plain"
        )

    # S3 Access Grants is regional: one instance per Region holding buckets, with that Region's
    # locations and grants (one location role serves both; it is global, like all IAM roles).
    instances: dict[str, str] = {}
    locations: dict[str, str] = {}
    for grants_region in sorted(set(bucket_regions.values())):
        s3control = client("s3control", grants_region)
        instances[grants_region] = s3control.create_access_grants_instance(
            AccountId=account, IdentityCenterArn=app.identity_center.instance_arn
        )["AccessGrantsInstanceArn"]
        for bucket in (b for b, r in bucket_regions.items() if r == grants_region):
            created = s3control.create_access_grants_location(
                AccountId=account, LocationScope=f"s3://{bucket}", IAMRoleArn=role_arn.format(LOCATION_ROLE)
            )
            locations[bucket] = created["AccessGrantsLocationId"]
    for department, spec in plan["departments"].items():
        group_id = directory["directoryGroupIds"][spec["directory_group"]]
        grantees = [
            {"GranteeType": "IAM", "GranteeIdentifier": department_roles[department]},
            {"GranteeType": "DIRECTORY_GROUP", "GranteeIdentifier": group_id},
        ]
        for grant in spec["grants"]:
            for grantee in grantees:
                client("s3control", bucket_regions[grant["bucket"]]).create_access_grant(
                    AccountId=account,
                    AccessGrantsLocationId=locations[grant["bucket"]],
                    AccessGrantsLocationConfiguration={"S3SubPrefix": grant["prefix"] + "*"},
                    Grantee=grantee,
                    Permission=grant["permission"],
                )

    # The key of the uploads' MAC (template.yaml's UploadBindingSecret; locally a resource's logical id
    # stands for its physical id, so the functions' UPLOAD_BINDING_SECRET names this secret).
    # The key of the audit's user digests (template.yaml's AuditPseudonymSecret, with AuditUserIdentifier
    # digest): there whether or not the local run names users by digest, as the parameter decides that.
    secretsmanager = client("secretsmanager")
    for secret_name in (UPLOAD_BINDING_SECRET, AUDIT_PSEUDONYM_SECRET):
        secretsmanager.create_secret(Name=secret_name, SecretString=secrets.token_urlsafe(48))

    state_key_arn = seed_state(client("dynamodb"), client("kms"), role_arn.format(CLIENT_APP_ROLE), account)

    return {
        "accountId": account,
        "identityCenterAccountId": app.identity_center.account_id,
        "region": region,
        "endpoint": endpoint,
        "uploadBindingSecret": UPLOAD_BINDING_SECRET,
        # The home Region's instance (Identity Center's), and every Region's.
        "accessGrantsInstanceArn": instances.get(region) or next(iter(instances.values())),
        "accessGrantsInstanceArns": instances,
        **directory,
        "applicationArn": APPLICATION_ARN,
        "identityBearerRoleArn": role_arn.format(IDENTITY_BEARER_ROLE),
        "clientApplicationRoleArn": role_arn.format(CLIENT_APP_ROLE),
        "locationRoleArn": role_arn.format(LOCATION_ROLE),
        "departmentRoles": department_roles,
        "buckets": list(plan["buckets"]),
        "bucketRegions": bucket_regions,
        "issuer": issuer_url,
        "stateTable": STATE_TABLE,
        "stateKeyArn": state_key_arn,
        # What `Ref` and `GetAtt` give for the resources the seed created in the template's place.
        "physicalIds": {"StateTable": STATE_TABLE, "StateKey": state_key_arn, "StateKey.Arn": state_key_arn},
    }


def seed_state(dynamodb: Any, kms: Any, function_role_arn: str, account: str) -> str:
    """The shared state table and the key sealing its entries, as template.yaml declares them (StateTable,
    StateKey with its key policy); returns the key's ARN."""
    dynamodb.create_table(
        TableName=STATE_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    dynamodb.update_time_to_live(
        TableName=STATE_TABLE, TimeToLiveSpecification={"AttributeName": "expires", "Enabled": True}
    )
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:Create*", "kms:Put*"],
                "Resource": "*",
            },
            {
                "Sid": "OnlyTheFunctionsSealAndOpen",
                "Effect": "Allow",
                "Principal": {"AWS": function_role_arn},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:EncryptionContext:purpose": ENCRYPTION_CONTEXT["purpose"]}
                },
            },
        ],
    }
    key = kms.create_key(
        Description="Seals the vending service's shared cache entries", Policy=json.dumps(key_policy)
    )["KeyMetadata"]
    return str(key["Arn"])
