"""One test per behaviour AWS documents for the emulated APIs, each naming its source.

Every call goes through plain boto3 (or `requests` for presigned URLs) against the session's emulator; the
grants, applications and users a test adds are its own and are removed again.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
import requests
from botocore.auth import UNSIGNED_PAYLOAD, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from local.stack import IDENTITY_CENTER_KEYS, TEST_KEYS, LocalStack
from tests.emulator.helpers import (
    ACCOUNT_ID,
    assume,
    boto_keys,
    client_app_keys,
    get_data_access,
    identity_session,
    role_session,
    s3_with,
)
from tests.emulator.identity_flow import exchange

pytestmark = pytest.mark.integration

BUCKET = "shopfast-data"
OTHER_APPLICATION = "arn:aws:sso::222222222222:application/ssoins-7223c0ffee5e1a7d/apl-0ther0ther0ther0"


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@contextmanager
def grant_for(stack: LocalStack, grantee: dict[str, str], prefix: str, **extra: Any) -> Iterator[str]:
    s3control = stack.client("s3control")
    location = next(
        entry["AccessGrantsLocationId"]
        for entry in s3control.list_access_grants_locations(AccountId=ACCOUNT_ID)["AccessGrantsLocationsList"]
        if entry["LocationScope"] == f"s3://{BUCKET}"
    )
    grant = s3control.create_access_grant(
        AccountId=ACCOUNT_ID,
        AccessGrantsLocationId=location,
        AccessGrantsLocationConfiguration={"S3SubPrefix": prefix + "*"},
        Grantee=grantee,
        Permission="READ",
        **extra,
    )
    try:
        yield grant["GrantScope"]
    finally:
        s3control.delete_access_grant(AccountId=ACCOUNT_ID, AccessGrantId=grant["AccessGrantId"])


def group_grantee(stack: LocalStack, group: str) -> dict[str, str]:
    group_id = stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS).get_group_id(
        IdentityStoreId=stack.config()["identityStoreId"],
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": group}},
    )["GroupId"]
    return {"GranteeType": "DIRECTORY_GROUP", "GranteeIdentifier": group_id}


# -- GetDataAccess ---------------------------------------------------------------------------------
@pytest.mark.parametrize("target_type", [{}, {"TargetType": "Object"}], ids=["no TargetType", "Object"])
def test_minimal_without_a_star_is_exactly_that_object(stack: LocalStack, target_type: dict) -> None:
    """S3 User Guide, 'Request access to Amazon S3 data through S3 Access Grants' (privilege table): Minimal
    on `bob/` (no `*`) returns `bob/`, which names one object only, with or without TargetType."""
    stack.client("s3").put_object(Bucket=BUCKET, Key="users/", Body=b"folder marker")
    stack.client("s3").put_object(Bucket=BUCKET, Key="users/next", Body=b"sibling")
    keys = role_session(stack, "Sales")
    vended = get_data_access(stack, keys, f"s3://{BUCKET}/users/", "READ", Privilege="Minimal", **target_type)
    assert vended["MatchedGrantTarget"] == f"s3://{BUCKET}/users/"
    s3 = s3_with(stack, vended)
    assert s3.get_object(Bucket=BUCKET, Key="users/")["Body"].read() == b"folder marker"
    for other in ("users/next", "users/user_list"):
        with pytest.raises(ClientError) as refused:
            s3.get_object(Bucket=BUCKET, Key=other)
        assert code_of(refused) == ("AccessDenied", 403)


def test_get_data_access_answers_the_matched_instance_and_takes_audit_context(stack: LocalStack) -> None:
    """API reference, GetDataAccess: the response carries MatchedInstanceArn; AuditContext and
    InstanceScope are request parameters (CloudTrail shows the audit context)."""
    keys = identity_session(stack, "alice@shopfast.example")
    vended = get_data_access(
        stack, keys, f"s3://{BUCKET}/users/*", "READ", AuditContext="req-123", InstanceScope="SELF"
    )
    assert vended["MatchedInstanceArn"] == stack.config()["accessGrantsInstanceArn"]
    assert stack.cloudtrail_events()[-1]["requestParameters"]["auditContext"] == "req-123"


def test_vended_credentials_are_the_location_roles_session(stack: LocalStack) -> None:
    """API reference, GetDataAccess: S3 Access Grants assumes the location's IAM role; GetCallerIdentity
    with the credentials names that role's session (the README example shows access-grants-<uuid>)."""
    vended = get_data_access(stack, role_session(stack, "Sales"), f"s3://{BUCKET}/users/*", "READ")
    identity = stack.client("sts", credentials=boto_keys(vended["Credentials"])).get_caller_identity()
    assert ":assumed-role/shopfast-access-grants-location/access-grants-" in identity["Arn"]


def test_the_location_role_must_trust_access_grants(stack: LocalStack) -> None:
    """API reference, GetDataAccess, Additional Permissions: the location role's trust policy must allow
    sts:AssumeRole and sts:SetContext (directory identities) or sts:SetSourceIdentity (IAM identities)."""
    iam = stack.client("iam")
    role = f"untrusting-location-{uuid.uuid4().hex[:6]}"
    arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "access-grants.s3.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    bucket = f"untrusting-{uuid.uuid4().hex[:8]}"
    stack.client("s3").create_bucket(Bucket=bucket)
    s3control = stack.client("s3control")
    location = s3control.create_access_grants_location(
        AccountId=ACCOUNT_ID, LocationScope=f"s3://{bucket}", IAMRoleArn=arn
    )
    grant = s3control.create_access_grant(
        AccountId=ACCOUNT_ID,
        AccessGrantsLocationId=location["AccessGrantsLocationId"],
        Grantee={"GranteeType": "IAM", "GranteeIdentifier": stack.config()["departmentRoles"]["Sales"]},
        Permission="READ",
    )
    try:
        with pytest.raises(ClientError) as refused:
            get_data_access(stack, role_session(stack, "Sales"), f"s3://{bucket}/x", "READ")
        assert code_of(refused) == ("AccessDenied", 403)
        assert "sts:SetSourceIdentity" in refused.value.response["Error"]["Message"]
    finally:
        s3control.delete_access_grant(AccountId=ACCOUNT_ID, AccessGrantId=grant["AccessGrantId"])
        s3control.delete_access_grants_location(
            AccountId=ACCOUNT_ID, AccessGrantsLocationId=location["AccessGrantsLocationId"]
        )


# -- grants and applications -----------------------------------------------------------------------
def test_a_grant_restricted_to_an_application_serves_only_that_application(stack: LocalStack) -> None:
    """API reference, CreateAccessGrant / ListCallerAccessGrantsEntry ApplicationArn: "the grantee can only
    access the S3 data through this application"; ListCallerAccessGrants AllowedByApplication keeps the grants
    authorized for the caller's application; entries without an application say NA."""
    ours = stack.config()["applicationArn"]
    grantee = group_grantee(stack, "CustomerSupport")
    with (
        grant_for(stack, grantee, "app-ours/", ApplicationArn=ours) as mine,
        grant_for(stack, grantee, "app-theirs/", ApplicationArn=OTHER_APPLICATION) as theirs,
    ):
        keys = identity_session(stack, "alice@shopfast.example")
        assert get_data_access(stack, keys, mine.replace("*", "x"), "READ")["MatchedGrantTarget"] == mine
        with pytest.raises(ClientError) as refused:
            get_data_access(stack, keys, theirs.replace("*", "x"), "READ")
        assert code_of(refused) == ("AccessDenied", 403)
        s3control = stack.client("s3control", credentials=keys)
        listed = {
            e["GrantScope"]: e
            for e in s3control.list_caller_access_grants(AccountId=ACCOUNT_ID)["CallerAccessGrantsList"]
        }
        assert listed[theirs]["ApplicationArn"] == OTHER_APPLICATION
        assert listed[f"s3://{BUCKET}/users/*"]["ApplicationArn"] == "NA"
        assert {e["AccessGrantsInstanceArn"] for e in listed.values()} == {
            stack.config()["accessGrantsInstanceArn"]
        }
        allowed = s3control.list_caller_access_grants(AccountId=ACCOUNT_ID, AllowedByApplication=True)
        assert {e["GrantScope"] for e in allowed["CallerAccessGrantsList"]} == {mine}
    # A plain IAM role session has no application: a grant for one never serves it.
    with grant_for(
        stack,
        {"GranteeType": "IAM", "GranteeIdentifier": stack.config()["departmentRoles"]["Sales"]},
        "app-iam/",
        ApplicationArn=ours,
    ) as restricted:
        with pytest.raises(ClientError) as refused:
            get_data_access(stack, role_session(stack, "Sales"), restricted.replace("*", "x"), "READ")
        assert code_of(refused) == ("AccessDenied", 403)


def test_an_invalid_next_token_is_invalid_request(stack: LocalStack) -> None:
    """S3 error-code table (Access Grants): a continuation token the service did not issue."""
    s3control = stack.client("s3control", credentials=identity_session(stack, "dave@shopfast.example"))
    with pytest.raises(ClientError) as refused:
        s3control.list_caller_access_grants(AccountId=ACCOUNT_ID, NextToken="not-a-token")
    assert code_of(refused) == ("InvalidRequest", 400)


def test_a_grant_needs_a_bucket_that_exists_and_not_the_whole_default_location(stack: LocalStack) -> None:
    """API reference, CreateAccessGrant AccessGrantsLocationId: "you cannot create an access grant for the
    entire default location"; a grant names data that exists."""
    s3control = stack.client("s3control")
    role = stack.config()["departmentRoles"]["Sales"]
    default = s3control.create_access_grants_location(
        AccountId=ACCOUNT_ID, LocationScope="s3://", IAMRoleArn=stack.config()["locationRoleArn"]
    )["AccessGrantsLocationId"]
    try:
        for sub_prefix in (None, "*", "no-such-bucket-anywhere/*"):
            configuration = (
                {"AccessGrantsLocationConfiguration": {"S3SubPrefix": sub_prefix}} if sub_prefix else {}
            )
            with pytest.raises(ClientError) as refused:
                s3control.create_access_grant(
                    AccountId=ACCOUNT_ID,
                    AccessGrantsLocationId=default,
                    Grantee={"GranteeType": "IAM", "GranteeIdentifier": role},
                    Permission="READ",
                    **configuration,
                )
            assert code_of(refused) == ("InvalidAccessGrant", 400), sub_prefix
    finally:
        s3control.delete_access_grants_location(AccountId=ACCOUNT_ID, AccessGrantsLocationId=default)


def test_a_location_and_its_grants_hold_only_the_instances_regions_buckets(stack: LocalStack) -> None:
    """API reference, CreateAccessGrantsLocation: "Your S3 data must be in the same Region as your S3 Access
    Grants instance"; user guide, "Register a location": the default location covers "all of your S3
    buckets in that AWS Region". shopfast-internal is in ap-southeast-2, the home instance in us-east-1."""
    s3control = stack.client("s3control")
    with pytest.raises(ClientError) as refused:
        s3control.create_access_grants_location(
            AccountId=ACCOUNT_ID,
            LocationScope="s3://shopfast-internal/leads/",
            IAMRoleArn=stack.config()["locationRoleArn"],
        )
    assert code_of(refused) == ("InvalidAccessGrantsLocation", 400)
    assert "ap-southeast-2" in refused.value.response["Error"]["Message"]
    default = s3control.create_access_grants_location(
        AccountId=ACCOUNT_ID, LocationScope="s3://", IAMRoleArn=stack.config()["locationRoleArn"]
    )["AccessGrantsLocationId"]
    try:
        with pytest.raises(ClientError) as elsewhere:
            s3control.create_access_grant(
                AccountId=ACCOUNT_ID,
                AccessGrantsLocationId=default,
                AccessGrantsLocationConfiguration={"S3SubPrefix": "shopfast-internal/leads/*"},
                Grantee={
                    "GranteeType": "IAM",
                    "GranteeIdentifier": stack.config()["departmentRoles"]["Sales"],
                },
                Permission="READ",
            )
        assert code_of(elsewhere) == ("InvalidAccessGrant", 400)
    finally:
        s3control.delete_access_grants_location(AccountId=ACCOUNT_ID, AccessGrantsLocationId=default)


def test_an_object_grant_is_written_as_the_user_guide_shows(stack: LocalStack) -> None:
    """User guide, "Create grants", Subprefix: on a bucket location an object's sub-prefix is
    `/object-key-name`, and the grant scope is the location and the sub-prefix concatenated
    (`s3://bucket/object-key-name`); a grant of one object must pass `S3PrefixType` `Object` (the model's
    only value), which names an object, not a prefix with `*`. The object grant then vends that object."""
    config = stack.config()
    s3control = stack.client("s3control")
    (seeded,) = s3control.list_access_grants_locations(
        AccountId=ACCOUNT_ID, LocationScope="s3://shopfast-data"
    )["AccessGrantsLocationsList"]
    bucket_location = seeded["AccessGrantsLocationId"]
    role = config["departmentRoles"]["ProductManagement"]
    created = []
    try:
        grant = s3control.create_access_grant(
            AccountId=ACCOUNT_ID,
            AccessGrantsLocationId=bucket_location,
            AccessGrantsLocationConfiguration={"S3SubPrefix": "/users/user_list"},
            S3PrefixType="Object",
            Grantee={"GranteeType": "IAM", "GranteeIdentifier": role},
            Permission="READ",
        )
        created.append(grant["AccessGrantId"])
        assert grant["GrantScope"] == "s3://shopfast-data/users/user_list"
        assert grant["AccessGrantsLocationConfiguration"] == {"S3SubPrefix": "/users/user_list"}
        vended = get_data_access(
            stack, role_session(stack, "ProductManagement"), "s3://shopfast-data/users/user_list", "READ"
        )
        assert vended["MatchedGrantTarget"] == "s3://shopfast-data/users/user_list"
        prefix = s3control.create_access_grant(
            AccountId=ACCOUNT_ID,
            AccessGrantsLocationId=bucket_location,
            AccessGrantsLocationConfiguration={"S3SubPrefix": "products/*"},
            Grantee={"GranteeType": "IAM", "GranteeIdentifier": role},
            Permission="READ",
        )
        created.append(prefix["AccessGrantId"])
        assert prefix["GrantScope"] == "s3://shopfast-data/products/*"
        for wrong in ({"S3PrefixType": "Object"}, {"S3PrefixType": "Object", "S3SubPrefix": "users/*"}):
            sub_prefix = {"S3SubPrefix": wrong["S3SubPrefix"]} if "S3SubPrefix" in wrong else {}
            with pytest.raises(ClientError) as refused:
                s3control.create_access_grant(
                    AccountId=ACCOUNT_ID,
                    AccessGrantsLocationId=bucket_location,
                    AccessGrantsLocationConfiguration=sub_prefix,
                    S3PrefixType="Object",
                    Grantee={"GranteeType": "IAM", "GranteeIdentifier": role},
                    Permission="READ",
                )
            assert code_of(refused) == ("InvalidAccessGrant", 400), wrong
    finally:
        for grant_id in created:
            s3control.delete_access_grant(AccountId=ACCOUNT_ID, AccessGrantId=grant_id)


def test_an_iam_user_can_be_a_grantee(stack: LocalStack) -> None:
    """API reference, CreateAccessGrant: "The grantee can be an IAM user or role or a directory user, or
    group"; the user's own access keys then get data access."""
    iam = stack.client("iam")
    name = f"analyst-{uuid.uuid4().hex[:6]}"
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    keys = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    with grant_for(stack, {"GranteeType": "IAM", "GranteeIdentifier": user["Arn"]}, "by-user/") as scope:
        vended = stack.client("s3control", credentials=keys).get_data_access(
            AccountId=ACCOUNT_ID, Target=scope, Permission="READ"
        )
        assert vended["Grantee"] == {"GranteeType": "IAM", "GranteeIdentifier": user["Arn"]}
        wrong = {**keys, "aws_secret_access_key": "not-the-secret"}
        with pytest.raises(ClientError) as refused:
            stack.client("s3control", credentials=wrong).get_data_access(
                AccountId=ACCOUNT_ID, Target=scope, Permission="READ"
            )
        assert code_of(refused) == ("SignatureDoesNotMatch", 403)


# -- Identity Center ---------------------------------------------------------------------------------
def test_create_token_with_iam_answers_as_documented(stack: LocalStack) -> None:
    """IAM Identity Center OIDC API reference, CreateTokenWithIAM (jwt-bearer example): a refresh token is
    returned; the idToken's audience is the application; an unknown clientId is InvalidClientException
    with HTTP 401 (the sso-oidc model)."""
    answer = exchange(stack, stack.token("alice@shopfast.example"))
    assert answer["refreshToken"]
    claims = jwt.decode(answer["idToken"], options={"verify_signature": False})
    assert claims["aud"] == stack.config()["applicationArn"]
    oidc = stack.client("sso-oidc", credentials=client_app_keys(stack))
    with pytest.raises(ClientError) as refused:
        oidc.create_token_with_iam(
            clientId=OTHER_APPLICATION,
            grantType="urn:ietf:params:oauth:grant-type:jwt-bearer",
            assertion=stack.token("alice@shopfast.example"),
        )
    assert code_of(refused) == ("InvalidClientException", 401)


@pytest.mark.parametrize(
    ("grant", "extra", "expected"),
    [
        ("password", {}, ("UnsupportedGrantTypeException", "unsupported_grant_type")),
        (
            "refresh_token",
            {"refreshToken": "aorvJYubGpU6i91YnH7Mfo"},
            ("UnauthorizedClientException", "unauthorized_client"),
        ),
        (
            "authorization_code",
            {"code": "c", "redirectUri": "https://app.example/cb"},
            ("UnauthorizedClientException", "unauthorized_client"),
        ),
    ],
)
def test_create_token_with_iam_answers_other_grant_types_with_the_models_errors(
    stack: LocalStack, grant: str, extra: dict, expected: tuple[str, str]
) -> None:
    """IAM Identity Center OIDC API reference, CreateTokenWithIAM: `grantType` is one of authorization_code,
    refresh_token, jwt-bearer and token-exchange; "Errors": UnsupportedGrantTypeException for any other,
    UnauthorizedClientException "the client is not authorized to use the grant type" (the seeded
    application has only the jwt-bearer grant), each 400 with the OAuth `error` member."""
    oidc = stack.client("sso-oidc", credentials=client_app_keys(stack))
    with pytest.raises(ClientError) as refused:
        oidc.create_token_with_iam(clientId=stack.config()["applicationArn"], grantType=grant, **extra)
    assert code_of(refused) == (expected[0], 400)
    assert refused.value.response["error"] == expected[1]


def test_create_token_with_iam_wants_each_grants_parameters_and_redeems_no_foreign_token(
    stack: LocalStack,
) -> None:
    """CreateTokenWithIAM's parameters: `assertion` is required for jwt-bearer (InvalidRequestException
    otherwise); a refresh token this instance never issued is InvalidGrantException."""
    oidc = stack.client("sso-oidc", credentials=client_app_keys(stack))
    application = stack.config()["applicationArn"]
    with pytest.raises(ClientError) as refused:
        oidc.create_token_with_iam(
            clientId=application, grantType="urn:ietf:params:oauth:grant-type:jwt-bearer"
        )
    assert code_of(refused) == ("InvalidRequestException", 400)
    admin = stack.client("sso-admin", credentials=IDENTITY_CENTER_KEYS)
    admin.put_application_grant(
        ApplicationArn=application, GrantType="refresh_token", Grant={"RefreshToken": {}}
    )
    try:
        with pytest.raises(ClientError) as refused:
            oidc.create_token_with_iam(
                clientId=application, grantType="refresh_token", refreshToken="never-issued"
            )
        assert code_of(refused) == ("InvalidGrantException", 400)
    finally:
        admin.delete_application_grant(ApplicationArn=application, GrantType="refresh_token")


def test_sso_admin_lists_page_and_client_tokens_are_idempotent(stack: LocalStack) -> None:
    """IAM Identity Center API reference: list calls take MaxResults/NextToken; a retried Create with the
    same ClientToken returns the same resource, with other parameters it is IdempotentParameterMismatch."""
    sso = stack.client("sso-admin", credentials=IDENTITY_CENTER_KEYS)
    instance = stack.config()["identityCenterInstanceArn"]
    token = str(uuid.uuid4())
    params = {
        "InstanceArn": instance,
        "ApplicationProviderArn": "arn:aws:sso::aws:applicationProvider/custom",
        "Name": f"paging-{token[:8]}",
        "ClientToken": token,
    }
    created = [sso.create_application(**params)["ApplicationArn"] for _ in range(2)]
    assert created[0] == created[1]
    with pytest.raises(ClientError) as mismatch:
        sso.create_application(**{**params, "Name": "another"})
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    extra = sso.create_application(
        **{**params, "Name": f"second-{token[:8]}", "ClientToken": str(uuid.uuid4())}
    )
    try:
        first = sso.list_applications(InstanceArn=instance, MaxResults=1)
        assert len(first["Applications"]) == 1 and first["NextToken"]
        seen = [first["Applications"][0]["ApplicationArn"]]
        token_ = first["NextToken"]
        while token_:
            page = sso.list_applications(InstanceArn=instance, MaxResults=1, NextToken=token_)
            seen += [a["ApplicationArn"] for a in page["Applications"]]
            token_ = page.get("NextToken")
        assert {created[0], extra["ApplicationArn"], stack.config()["applicationArn"]} <= set(seen)
        assert len(seen) == len(set(seen))
    finally:
        for arn in (created[0], extra["ApplicationArn"]):
            sso.delete_application(ApplicationArn=arn)


def test_identitystore_omits_unset_attributes(stack: LocalStack) -> None:
    """identitystore API reference, DescribeUser: optional attributes appear only when set."""
    identitystore = stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS)
    store = stack.config()["identityStoreId"]
    user_id = identitystore.get_user_id(
        IdentityStoreId=store,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "bob@shopfast.example"}
        },
    )["UserId"]
    described = identitystore.describe_user(IdentityStoreId=store, UserId=user_id)
    assert {"NickName", "ProfileUrl", "Title", "Locale", "Timezone", "ExternalIds"}.isdisjoint(described)
    assert described["UserName"] == "bob@shopfast.example"


# -- S3 with vended credentials ------------------------------------------------------------------------
@pytest.fixture
def sales_rw(stack: LocalStack) -> dict:
    return get_data_access(stack, role_session(stack, "Sales"), f"s3://{BUCKET}/users/*", "READWRITE")


def _v4(stack: LocalStack, vended: dict) -> Any:
    return s3_with(stack, vended, signature_version="s3v4", s3={"addressing_style": "path"})


def test_unsigned_amz_headers_on_a_presigned_request_are_refused(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, 'Authenticating Requests: Using Query Parameters': headers in the request that
    were not signed are refused ("There were headers present in the request which were not signed")."""
    url = _v4(stack, sales_rw).generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": "users/h.txt"}
    )
    answer = requests.put(url, data=b"x", headers={"x-amz-acl": "public-read"}, timeout=10)
    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code>" in answer.text and "not signed" in answer.text
    assert "<HeadersNotSigned>x-amz-acl</HeadersNotSigned>" in answer.text


def test_a_put_stores_its_bytes_whatever_its_content_type(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, PutObject: the body is the object's data; Content-Type is only its metadata."""
    s3 = _v4(stack, sales_rw)
    url = s3.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": BUCKET,
            "Key": "users/form.txt",
            "ContentType": "application/x-www-form-urlencoded",
        },
    )
    body = b"a=1&b=2&c=%20"
    answer = requests.put(
        url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10
    )
    assert answer.status_code == 200
    stored = s3.get_object(Bucket=BUCKET, Key="users/form.txt")
    assert stored["Body"].read() == body
    assert stored["ContentType"] == "application/x-www-form-urlencoded"


def test_only_the_actions_documented_for_vended_credentials_are_allowed(
    stack: LocalStack, sales_rw: dict
) -> None:
    """S3 User Guide, 'Create grants' (permission levels): READ is GetObject, GetObjectVersion, GetObjectAcl,
    GetObjectVersionAcl, ListMultipartUploadParts; GetObjectAttributes and tagging are not among them."""
    s3 = _v4(stack, sales_rw)
    assert s3.get_object_acl(Bucket=BUCKET, Key="users/user_list")["Grants"] is not None
    for call in (
        lambda: s3.get_object_attributes(Bucket=BUCKET, Key="users/user_list", ObjectAttributes=["ETag"]),
        lambda: s3.get_object_tagging(Bucket=BUCKET, Key="users/user_list"),
        lambda: s3.get_bucket_location(Bucket=BUCKET),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert code_of(refused) == ("AccessDenied", 403)


def test_multipart_uploads_hold_to_the_credentials_scope_and_permission(
    stack: LocalStack, sales_rw: dict
) -> None:
    """S3 API reference, CreateMultipartUpload / UploadPart / CompleteMultipartUpload "Permissions": each is
    authorized as s3:PutObject on the key, so vended credentials upload in parts only inside their scope,
    and READ credentials not at all."""
    s3 = _v4(stack, sales_rw)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="users/parts.bin")["UploadId"]
    part = s3.upload_part(
        Bucket=BUCKET, Key="users/parts.bin", UploadId=upload, PartNumber=1, Body=b"only part"
    )
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="users/parts.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert s3.get_object(Bucket=BUCKET, Key="users/parts.bin")["Body"].read() == b"only part"

    with pytest.raises(ClientError) as outside:
        s3.create_multipart_upload(Bucket=BUCKET, Key="feedback/parts.bin")
    assert code_of(outside) == ("AccessDenied", 403)
    read_only = get_data_access(stack, role_session(stack, "Marketing"), f"s3://{BUCKET}/feedback/*", "READ")
    with pytest.raises(ClientError) as read:
        _v4(stack, read_only).create_multipart_upload(Bucket=BUCKET, Key="feedback/parts.bin")
    assert code_of(read) == ("AccessDenied", 403)


def test_parts_of_an_aborted_upload_are_no_such_upload(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, UploadPart and AbortMultipartUpload "Errors": once aborted (or completed), the
    upload's parts, listing, completion and abort are NoSuchUpload (404); a presigned part URL too."""
    s3 = _v4(stack, sales_rw)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="users/aborted.bin")["UploadId"]
    url = s3.generate_presigned_url(
        "upload_part",
        Params={"Bucket": BUCKET, "Key": "users/aborted.bin", "UploadId": upload, "PartNumber": 1},
    )
    s3.abort_multipart_upload(Bucket=BUCKET, Key="users/aborted.bin", UploadId=upload)

    answer = requests.put(url, data=b"late", timeout=10)
    assert answer.status_code == 404 and "<Code>NoSuchUpload</Code>" in answer.text
    assert f"<UploadId>{upload}</UploadId>" in answer.text
    with pytest.raises(ClientError) as again:
        s3.abort_multipart_upload(Bucket=BUCKET, Key="users/aborted.bin", UploadId=upload)
    assert code_of(again) == ("NoSuchUpload", 404)


def test_an_expired_url_says_when_it_expired(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, 'Error responses': an expired presigned request is AccessDenied "Request has
    expired" with X-Amz-Expires, Expires and ServerTime."""
    url = _v4(stack, sales_rw).generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "users/user_list"}, ExpiresIn=60
    )
    stack.advance_clock(120)
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 403 and "Request has expired" in answer.text
    for element in ("<X-Amz-Expires>60</X-Amz-Expires>", "<Expires>", "<ServerTime>"):
        assert element in answer.text


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_anonymous_requests_to_private_buckets_are_refused(stack: LocalStack, method: str) -> None:
    """S3 User Guide, 'Blocking public access': buckets are private unless a policy grants the public; an
    unsigned request (a web page's fetch) gets AccessDenied and changes nothing."""
    url = f"{stack.aws_endpoint}/{BUCKET}/users/user_list"
    answer = requests.request(method, url, data=b"overwritten" if method == "PUT" else None, timeout=10)
    assert answer.status_code == 403 and "<Code>AccessDenied</Code>" in answer.text
    assert (
        stack.client("s3").get_object(Bucket=BUCKET, Key="users/user_list")["Body"].read()
        == b"alice,bob,carol,dave,erin\n"
    )


def test_a_bucket_policy_deny_holds_for_vended_credentials(stack: LocalStack, sales_rw: dict) -> None:
    """IAM User Guide, policy evaluation logic: an explicit Deny in the bucket policy wins over the Allow of
    the credentials' session policy."""
    admin = stack.client("s3")
    bucket = f"denying-{uuid.uuid4().hex[:8]}"
    admin.create_bucket(Bucket=bucket)
    admin.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/secret/*",
                    }
                ],
            }
        ),
    )
    admin.put_object(Bucket=bucket, Key="secret/x", Body=b"x")
    with pytest.raises(ClientError) as refused:
        admin.get_object(Bucket=bucket, Key="secret/x")
    assert code_of(refused) == ("AccessDenied", 403)
    # S3 User Guide, "Troubleshoot access denied (403 Forbidden) errors": the policy type that denied.
    assert refused.value.response["Error"]["Message"].endswith(
        f'on resource: "arn:aws:s3:::{bucket}/secret/x" with an explicit deny in a resource-based policy'
    )
    assert (
        admin.put_object(Bucket=bucket, Key="open/y", Body=b"y")["ResponseMetadata"]["HTTPStatusCode"] == 200
    )


def test_stale_session_errors_can_be_injected(stack: LocalStack) -> None:
    """The fault API answers any AWS error in the operation's own shape (here STS's ExpiredTokenException)."""
    stack.set_fault("AssumeRole", error={"code": "ExpiredTokenException", "status": 400, "count": 1})
    with pytest.raises(ClientError) as injected:
        assume(stack, stack.config()["departmentRoles"]["Sales"], "faulted")
    assert code_of(injected) == ("ExpiredTokenException", 400)
    assert assume(stack, stack.config()["departmentRoles"]["Sales"], "fine")["aws_access_key_id"]


# -- POST Object (browser-based uploads) -------------------------------------------------------------
def _post(form: dict[str, Any], url: str, content: bytes, filename: str = "upload.bin") -> requests.Response:
    return requests.post(url, data=form, files={"file": (filename, content)}, timeout=10)


def _stored(stack: LocalStack, key: str) -> bytes | None:
    try:
        return stack.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except ClientError:
        return None


def _presigned_post(stack: LocalStack, vended: dict, key: str, conditions: list, **kwargs: Any) -> dict:
    return _v4(stack, vended).generate_presigned_post(BUCKET, key, Conditions=conditions, **kwargs)


def test_a_post_policy_admits_what_it_names_and_stores_the_file(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, 'Browser-Based Uploads Using POST' and 'POST Policy': a form signed with the
    credentials' key stores its file under `key` (`${filename}` is the file's name) when every condition
    holds; `success_action_status` 201 answers a PostResponse naming the object."""
    post = _presigned_post(
        stack,
        sales_rw,
        "users/posted/${filename}",
        [["content-length-range", 1, 1024], {"success_action_status": "201"}, {"Content-Type": "text/plain"}],
        Fields={"success_action_status": "201", "Content-Type": "text/plain"},
    )
    answer = _post(post["fields"], post["url"], b"ten bytes!", filename="note.txt")
    assert answer.status_code == 201, answer.text
    assert "<Key>users/posted/note.txt</Key>" in answer.text and answer.headers["ETag"]
    stored = stack.client("s3").get_object(Bucket=BUCKET, Key="users/posted/note.txt")
    assert stored["Body"].read() == b"ten bytes!" and stored["ContentType"] == "text/plain"


def test_a_post_form_is_read_only_up_to_its_file(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, POST Object: "make sure that the file field is the last field in the form"; a key
    only after the file is "Bucket POST must contain a field named 'key'. If it is specified, please check
    the order of the fields." So a field appended after a signed form's file changes nothing."""
    post = _presigned_post(stack, sales_rw, "users/ordered.txt", [])
    signed = [(name, (None, value)) for name, value in post["fields"].items()]
    appended = [*signed, ("file", ("a.txt", b"kept")), ("key", (None, "users/elsewhere.txt"))]
    answer = requests.post(post["url"], files=appended, timeout=10)
    assert answer.status_code == 204, answer.text
    assert _stored(stack, "users/ordered.txt") == b"kept" and _stored(stack, "users/elsewhere.txt") is None

    key_last = [
        *(f for f in signed if f[0] != "key"),
        ("file", ("a.txt", b"x")),
        ("key", (None, "users/late.txt")),
    ]
    answer = requests.post(post["url"], files=key_last, timeout=10)
    assert answer.status_code == 400 and "<Code>InvalidArgument</Code>" in answer.text
    assert "check the order of the fields" in answer.text and _stored(stack, "users/late.txt") is None


def test_a_post_larger_than_the_policy_allows_is_entity_too_large(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, 'POST Policy' (content-length-range) and 'Error responses': EntityTooLarge with
    ProposedSize and MaxSizeAllowed; nothing is stored."""
    post = _presigned_post(stack, sales_rw, "users/too-big", [["content-length-range", 0, 1024]])
    answer = _post(post["fields"], post["url"], b"x" * 2048)
    assert answer.status_code == 400 and "<Code>EntityTooLarge</Code>" in answer.text
    assert "<ProposedSize>2048</ProposedSize>" in answer.text
    assert "<MaxSizeAllowed>1024</MaxSizeAllowed>" in answer.text
    assert _stored(stack, "users/too-big") is None


def test_a_post_key_outside_the_policy_is_refused(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, 'POST Policy' (condition matching): a field that fails its condition is refused
    ("Invalid according to Policy: Policy Condition failed"); nothing is stored."""
    post = _presigned_post(stack, sales_rw, "users/inbox/${filename}", [])
    fields = dict(post["fields"], key="users/elsewhere")
    answer = _post(fields, post["url"], b"sneaky")
    assert answer.status_code == 403 and "Policy Condition failed" in answer.text
    assert _stored(stack, "users/elsewhere") is None


def test_a_post_inside_the_policy_but_outside_the_credentials_is_refused(
    stack: LocalStack, sales_rw: dict
) -> None:
    """S3 User Guide, Access Grants: vended credentials act only within their grant's scope, whatever a
    policy signed with them allows; a POST is authorized like the PutObject of its key."""
    post = _presigned_post(stack, sales_rw, "${filename}", [["starts-with", "$key", ""]])
    fields = dict(post["fields"], key="feedback/outside-scope")
    answer = _post(fields, post["url"], b"sneaky")
    assert answer.status_code == 403 and "<Code>AccessDenied</Code>" in answer.text
    assert _stored(stack, "feedback/outside-scope") is None


def test_a_post_with_fields_the_policy_does_not_name_is_refused(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, 'POST Policy': every form field except x-amz-signature, file, policy and
    x-ignore-* must appear in the conditions ("Extra input fields"); x-ignore-* fields are allowed."""
    post = _presigned_post(stack, sales_rw, "users/extra", [])
    refused = _post(dict(post["fields"], **{"x-amz-meta-owner": "mallory"}), post["url"], b"x")
    assert refused.status_code == 403 and "Extra input fields: x-amz-meta-owner" in refused.text
    assert _stored(stack, "users/extra") is None
    allowed = _post(dict(post["fields"], **{"x-ignore-note": "anything"}), post["url"], b"x")
    assert allowed.status_code == 204 and _stored(stack, "users/extra") == b"x"


def test_an_expired_post_policy_is_refused(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, 'POST Policy' (expiration): the policy is not valid after its expiration."""
    post = _presigned_post(stack, sales_rw, "users/late", [], ExpiresIn=60)
    stack.advance_clock(120)
    answer = _post(post["fields"], post["url"], b"late")
    assert answer.status_code == 403 and "Policy expired" in answer.text
    assert _stored(stack, "users/late") is None


def test_a_post_policy_changed_after_signing_does_not_match(stack: LocalStack, sales_rw: dict) -> None:
    """S3 API reference, 'Authenticating Requests: Browser-Based Uploads Using POST': the signature is over
    the base64 policy; a rewritten policy (here: a wider size limit) is SignatureDoesNotMatch."""
    post = _presigned_post(stack, sales_rw, "users/forged", [["content-length-range", 0, 4]])
    document = json.loads(base64.b64decode(post["fields"]["policy"]))
    document["conditions"][0] = ["content-length-range", 0, 10_000]
    forged = dict(post["fields"], policy=base64.b64encode(json.dumps(document).encode()).decode())
    answer = _post(forged, post["url"], b"much more than four bytes")
    assert answer.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in answer.text
    assert _stored(stack, "users/forged") is None


def test_an_unsigned_post_to_a_private_bucket_is_refused(stack: LocalStack) -> None:
    """S3 User Guide, 'Blocking public access': a form without credentials is anonymous; the seeded
    buckets grant the public nothing, so no web page can upload into them."""
    answer = _post({"key": "users/anonymous"}, f"{stack.aws_endpoint}/{BUCKET}", b"hello")
    assert answer.status_code == 403 and "<Code>AccessDenied</Code>" in answer.text
    assert _stored(stack, "users/anonymous") is None


# -- Regions ---------------------------------------------------------------------------------------------
def _signed_get(stack: LocalStack, url: str, region: str) -> requests.Response:
    """A GET signed (SigV4 header) for `region` by hand, so that no SDK follows S3's answer."""
    request = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": UNSIGNED_PAYLOAD})
    keys = Credentials(TEST_KEYS["aws_access_key_id"], TEST_KEYS["aws_secret_access_key"])
    S3SigV4Auth(keys, "s3", region).add_auth(request)
    return requests.get(url, headers=dict(request.headers), timeout=10)


def test_a_request_signed_for_another_region_names_the_buckets_region(stack: LocalStack) -> None:
    """S3 API reference, 'Error responses' (AuthorizationHeaderMalformed, AuthorizationQueryParametersError)
    and HeadBucket (`x-amz-bucket-region`): a bucket answers only requests signed for its Region and says
    which one that is; botocore's redirector follows that answer."""
    url = f"{stack.aws_endpoint}/shopfast-internal/leads/pipeline.csv"
    wrong = _signed_get(stack, url, "us-east-1")
    assert wrong.status_code == 400 and "<Code>AuthorizationHeaderMalformed</Code>" in wrong.text
    assert "the region 'us-east-1' is wrong; expecting 'ap-southeast-2'" in wrong.text
    assert "<Region>ap-southeast-2</Region>" in wrong.text
    assert _signed_get(stack, url, "ap-southeast-2").status_code == 200

    presigned = stack.client("s3", signature_version="s3v4", s3={"addressing_style": "path"})
    query_url = presigned.generate_presigned_url(
        "get_object", Params={"Bucket": "shopfast-internal", "Key": "leads/pipeline.csv"}
    )
    refused = requests.get(query_url, timeout=10)
    assert refused.status_code == 400 and "<Code>AuthorizationQueryParametersError</Code>" in refused.text
    assert "<Region>ap-southeast-2</Region>" in refused.text

    head = requests.head(f"{stack.aws_endpoint}/shopfast-internal", timeout=10)
    assert head.headers["x-amz-bucket-region"] == "ap-southeast-2"
    # A plain boto3 client in another Region follows the answer and reads the object.
    assert stack.client("s3").get_object(Bucket="shopfast-internal", Key="leads/pipeline.csv")["Body"].read()


def test_get_data_access_asks_the_instance_of_the_buckets_region(stack: LocalStack) -> None:
    """S3 User Guide, 'Working with S3 Access Grants': an instance is regional and holds only its Region's
    locations; asked in another Region, GetDataAccess finds no grant for the bucket (AccessDenied)."""
    keys = role_session(stack, "HR")
    home = stack.client("s3control", credentials=keys)
    with pytest.raises(ClientError) as denied:
        home.get_data_access(
            AccountId=ACCOUNT_ID, Target="s3://shopfast-internal/benefits/*", Permission="READ"
        )
    assert code_of(denied) == ("AccessDenied", 403)
    vended = get_data_access(stack, keys, "s3://shopfast-internal/benefits/*", "READ")
    assert vended["MatchedInstanceArn"] == f"arn:aws:s3:ap-southeast-2:{ACCOUNT_ID}:access-grants/default"


def test_identity_center_answers_only_in_its_home_region(stack: LocalStack) -> None:
    """IAM Identity Center User Guide, 'Region availability': an instance (and its applications) lives in
    one home Region; CreateTokenWithIAM elsewhere does not find the application."""
    config = stack.config()
    elsewhere = stack.client("sso-oidc", credentials=client_app_keys(stack), region="ap-southeast-2")
    with pytest.raises(ClientError) as refused:
        elsewhere.create_token_with_iam(
            clientId=config["applicationArn"],
            grantType="urn:ietf:params:oauth:grant-type:jwt-bearer",
            assertion=stack.token("alice@shopfast.example"),
        )
    assert code_of(refused) == ("InvalidClientException", 401)
