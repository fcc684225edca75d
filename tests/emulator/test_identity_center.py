"""Emulated IAM Identity Center through real boto3: CreateTokenWithIAM, sso-admin, the identity store."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from local.aws_emulator.core import policy
from local.aws_emulator.core.policy import Principal, RequestContext
from local.aws_emulator.seed import token_exchange_policy
from local.stack import IDENTITY_CENTER_KEYS, TEST_KEYS, LocalStack
from tests.emulator.helpers import JWT_BEARER, assume, client_app_keys
from tests.emulator.identity_flow import capture_raw, exchange, fields_outside_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "local" / "demo-users.json").read_text())
PLAN = json.loads((ROOT / "terraform" / "access-plan.json").read_text())
CUSTOM_PROVIDER = "arn:aws:sso::aws:applicationProvider/custom"
UNKNOWN_APPLICATION = "arn:aws:sso::222222222222:application/ssoins-7223c0ffee5e1a7d/apl-0000000000000000"

pytestmark = pytest.mark.integration


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response.get("error", "")


def _directory_user_id(stack: LocalStack, email: str) -> str:
    identitystore = stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS)
    return identitystore.get_user_id(
        IdentityStoreId=stack.config()["identityStoreId"],
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "emails.value", "AttributeValue": email}},
    )["UserId"]


def _forged(stack: LocalStack, email: str, *, iss: str | None = None, kid: str | None = None) -> str:
    """A token shaped like the issuer's but signed with a key the issuer never published."""
    real = stack.token(email)
    claims = jwt.decode(real, options={"verify_signature": False})
    claims["iss"] = iss or claims["iss"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(
        claims, key, algorithm="RS256", headers={"kid": kid or jwt.get_unverified_header(real)["kid"]}
    )


@pytest.mark.parametrize("user", [u["email"] for u in DEMO["users"]])
def test_create_token_with_iam_for_every_demo_user(stack: LocalStack, user: str) -> None:
    config = stack.config()
    oidc = stack.client("sso-oidc", credentials=client_app_keys(stack))
    raw = capture_raw(oidc)
    answer = oidc.create_token_with_iam(
        clientId=config["applicationArn"], grantType=JWT_BEARER, assertion=stack.token(user)
    )
    assert fields_outside_model(raw[-1]) == []
    assert answer["tokenType"] == "Bearer" and answer["expiresIn"] == 3600
    assert answer["accessToken"] and "sts:identity_context" in answer["scope"]
    context = answer["awsAdditionalDetails"]["identityContext"]
    claims = jwt.decode(answer["idToken"], options={"verify_signature": False})
    assert claims["sts:identity_context"] == context
    assert claims["sub"] == _directory_user_id(stack, user)
    assert claims["aws:identity_store_id"] == config["identityStoreId"]
    assert claims["aws:instance_arn"] == config["identityCenterInstanceArn"]
    assert claims["aws:instance_account"] == config["identityCenterAccountId"]
    assert claims["exp"] - claims["iat"] == 3600
    assert exchange(stack, stack.token(user))["awsAdditionalDetails"]["identityContext"] != context


def test_static_keys_are_held_to_the_actor_policy_too(stack: LocalStack) -> None:
    """IAM Identity Center OIDC API reference, CreateTokenWithIAM: the caller must be allowed by the
    application's IAM authentication method. Static keys are moto's stand-in administrator (user/moto),
    not the client-application role the actor policy names."""
    with pytest.raises(ClientError) as refused:
        exchange(stack, stack.token("carol@shopfast.example"), signer=TEST_KEYS)
    assert _error(refused) == ("AccessDeniedException", "access_denied")


@pytest.mark.parametrize(
    ("make_assertion", "description"),
    [
        (lambda s: s.token("alice@shopfast.example", aud="some-other-app"), "audience"),
        (lambda s: s.token("alice@shopfast.example", ttl=-30), "expired"),
        (lambda s: _forged(s, "alice@shopfast.example"), "verification"),
        (lambda s: _forged(s, "alice@shopfast.example", iss="http://127.0.0.1:1"), "not trusted"),
        (lambda s: _forged(s, "alice@shopfast.example", kid="no-such-key"), "does not publish"),
        (lambda s: "not.a.jwt", "not a valid JWT"),
        (lambda s: s.token("alice@shopfast.example").rsplit(".", 1)[0] + ".", "verification"),
    ],
    ids=["wrong-audience", "expired", "bad-signature", "wrong-issuer", "unknown-kid", "garbage", "unsigned"],
)
def test_bad_assertions_are_invalid_grants(stack: LocalStack, make_assertion, description: str) -> None:
    with pytest.raises(ClientError) as refused:
        exchange(stack, make_assertion(stack))
    assert _error(refused) == ("InvalidGrantException", "invalid_grant")
    assert description in refused.value.response["error_description"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_assertion_expires_on_the_emulator_clock(stack: LocalStack) -> None:
    assertion = stack.token("bob@shopfast.example", ttl=120)
    signer = client_app_keys(stack)
    stack.advance_clock(300)
    with pytest.raises(ClientError) as refused:
        exchange(stack, assertion, signer=signer)
    assert _error(refused) == ("InvalidGrantException", "invalid_grant")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"clientId": f"{UNKNOWN_APPLICATION}"}, "InvalidClientException"),
        ({"grantType": "password"}, "UnsupportedGrantTypeException"),
        ({"grantType": "authorization_code", "code": "abc"}, "UnauthorizedClientException"),
        ({"scope": ["s3:something:else"]}, "InvalidScopeException"),
    ],
)
def test_request_errors_use_the_real_error_codes(stack: LocalStack, overrides: dict, code: str) -> None:
    with pytest.raises(ClientError) as refused:
        exchange(stack, stack.token("alice@shopfast.example"), **overrides)
    assert refused.value.response["Error"]["Code"] == code


def test_missing_assertion_is_an_invalid_request(stack: LocalStack) -> None:
    oidc = stack.client("sso-oidc", credentials=client_app_keys(stack))
    with pytest.raises(ClientError) as refused:
        oidc.create_token_with_iam(clientId=stack.config()["applicationArn"], grantType=JWT_BEARER)
    assert _error(refused) == ("InvalidRequestException", "invalid_request")


def test_only_the_client_application_role_may_exchange(stack: LocalStack) -> None:
    other_role = stack.config()["departmentRoles"]["Sales"]
    intruder = assume(stack, other_role, "not-the-app")
    with pytest.raises(ClientError) as refused:
        exchange(stack, stack.token("alice@shopfast.example"), signer=intruder)
    assert _error(refused) == ("AccessDeniedException", "access_denied")
    assert "ShopFast-Sales" in refused.value.response["error_description"]


def test_an_expired_client_session_is_refused(stack: LocalStack) -> None:
    signer = assume(stack, stack.config()["departmentRoles"]["Sales"], "expiring")
    stack.advance_clock(3601)
    with pytest.raises(ClientError) as refused:
        exchange(stack, stack.token("alice@shopfast.example", ttl=7200), signer=signer)
    assert refused.value.response["Error"]["Code"] == "ExpiredTokenException"


def test_the_directory_holds_the_demo_users_and_department_groups(stack: LocalStack) -> None:
    store = stack.config()["identityStoreId"]
    identitystore = stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS)
    users = {u["UserName"]: u["UserId"] for u in identitystore.list_users(IdentityStoreId=store)["Users"]}
    assert set(users) >= {u["email"] for u in DEMO["users"]}
    for department in PLAN["departments"].values():
        group_id = identitystore.get_group_id(
            IdentityStoreId=store,
            AlternateIdentifier={
                "UniqueAttribute": {
                    "AttributePath": "displayName",
                    "AttributeValue": department["directory_group"],
                }
            },
        )["GroupId"]
        members = identitystore.list_group_memberships(IdentityStoreId=store, GroupId=group_id)[
            "GroupMemberships"
        ]
        expected = {u["email"] for u in DEMO["users"] if department["directory_group"] in u["groups"]}
        assert {m["MemberId"]["UserId"] for m in members} == {users[e] for e in expected}
    mallory = users["mallory@shopfast.example"]
    groups = identitystore.list_group_memberships_for_member(
        IdentityStoreId=store, MemberId={"UserId": mallory}
    )
    assert groups["GroupMemberships"] == []


def test_sso_admin_shows_the_seeded_application(stack: LocalStack) -> None:
    config = stack.config()
    sso = stack.client("sso-admin", credentials=IDENTITY_CENTER_KEYS)
    raw = capture_raw(sso)
    instances = sso.list_instances()["Instances"]
    assert [(i["InstanceArn"], i["IdentityStoreId"]) for i in instances] == [
        (config["identityCenterInstanceArn"], config["identityStoreId"])
    ]
    application = sso.describe_application(ApplicationArn=config["applicationArn"])
    assert application["ApplicationProviderArn"] == CUSTOM_PROVIDER
    grant = sso.get_application_grant(ApplicationArn=config["applicationArn"], GrantType=JWT_BEARER)["Grant"]
    (issuer,) = grant["JwtBearer"]["AuthorizedTokenIssuers"]
    assert issuer["AuthorizedAudiences"] == [config["audience"]]
    described = sso.describe_trusted_token_issuer(TrustedTokenIssuerArn=issuer["TrustedTokenIssuerArn"])
    oidc_config = described["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"]
    assert oidc_config["IssuerUrl"] == config["issuer"] == stack.issuer_url
    assert (oidc_config["ClaimAttributePath"], oidc_config["IdentityStoreAttributePath"]) == (
        "email",
        "emails.value",
    )
    method = sso.get_application_authentication_method(
        ApplicationArn=config["applicationArn"], AuthenticationMethodType="IAM"
    )
    statement = method["AuthenticationMethod"]["Iam"]["ActorPolicy"]["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == config["clientApplicationRoleArn"]
    scopes = sso.list_application_access_scopes(ApplicationArn=config["applicationArn"])["Scopes"]
    assert [s["Scope"] for s in scopes] == ["s3:access_grants:read_write"]
    assert [p for r in raw for p in fields_outside_model(r)] == []


def test_an_application_built_through_sso_admin(stack: LocalStack, request: pytest.FixtureRequest) -> None:
    """The Terraform federation root's calls, then the seed's manual steps, then a token exchange."""
    config = stack.config()
    sso = stack.client("sso-admin", credentials=IDENTITY_CENTER_KEYS)
    raw = capture_raw(sso)
    instance = config["identityCenterInstanceArn"]
    name = f"app-{uuid.uuid4().hex[:8]}"
    issuer_arn = sso.create_trusted_token_issuer(
        InstanceArn=instance,
        Name=f"issuer-{name}",
        TrustedTokenIssuerType="OIDC_JWT",
        TrustedTokenIssuerConfiguration={
            "OidcJwtConfiguration": {
                "IssuerUrl": stack.issuer_url,
                "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": "emails.value",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
        Tags=[{"Key": "project", "Value": "shopfast"}],
    )["TrustedTokenIssuerArn"]
    app_arn = sso.create_application(InstanceArn=instance, ApplicationProviderArn=CUSTOM_PROVIDER, Name=name)[
        "ApplicationArn"
    ]
    assert app_arn.startswith(
        f"arn:aws:sso::{config['identityCenterAccountId']}:application/{instance.rsplit('/', 1)[1]}/apl-"
    )
    assert {
        t["Key"]: t["Value"]
        for t in sso.list_tags_for_resource(InstanceArn=instance, ResourceArn=issuer_arn)["Tags"]
    } == {"project": "shopfast"}
    sso.put_application_access_scope(ApplicationArn=app_arn, Scope="s3:access_grants:read_write")
    sso.put_application_assignment_configuration(ApplicationArn=app_arn, AssignmentRequired=True)
    group_id = stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS).get_group_id(
        IdentityStoreId=config["identityStoreId"],
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "Sales"}},
    )["GroupId"]
    sso.create_application_assignment(ApplicationArn=app_arn, PrincipalId=group_id, PrincipalType="GROUP")
    grant = {
        "JwtBearer": {
            "AuthorizedTokenIssuers": [
                {"TrustedTokenIssuerArn": issuer_arn, "AuthorizedAudiences": ["other-aud"]}
            ]
        }
    }
    sso.put_application_grant(ApplicationArn=app_arn, GrantType=JWT_BEARER, Grant=grant)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": config["accountId"]},
                "Action": "sso-oauth:CreateTokenWithIAM",
                "Resource": app_arn,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": config["clientApplicationRoleArn"]}},
            }
        ],
    }
    sso.put_application_authentication_method(
        ApplicationArn=app_arn,
        AuthenticationMethodType="IAM",
        AuthenticationMethod={"Iam": {"ActorPolicy": policy}},
    )
    assert sso.get_application_grant(ApplicationArn=app_arn, GrantType=JWT_BEARER)["Grant"] == grant
    assert [g["GrantType"] for g in sso.list_application_grants(ApplicationArn=app_arn)["Grants"]] == [
        JWT_BEARER
    ]
    assert sso.get_application_assignment_configuration(ApplicationArn=app_arn)["AssignmentRequired"] is True
    assignments = sso.list_application_assignments(ApplicationArn=app_arn)["ApplicationAssignments"]
    assert [(a["PrincipalType"], a["PrincipalId"]) for a in assignments] == [("GROUP", group_id)]
    assert any(
        a["ApplicationArn"] == app_arn for a in sso.list_applications(InstanceArn=instance)["Applications"]
    )
    assert [p for r in raw for p in fields_outside_model(r)] == []

    signer = client_app_keys(stack)
    # The caller is in the data account: across accounts the actor policy is half of it (IAM User Guide,
    # "Cross-account policy evaluation logic"); the role's own policies must allow this application too.
    with pytest.raises(ClientError) as not_in_the_callers_policy:
        exchange(stack, stack.token("bob@shopfast.example", aud="other-aud"), signer=signer, clientId=app_arn)
    assert _error(not_in_the_callers_policy) == ("AccessDeniedException", "access_denied")
    iam, role_name = stack.client("iam"), config["clientApplicationRoleArn"].rsplit("/", 1)[-1]
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName=name,
        PolicyDocument=token_exchange_policy(app_arn),
    )
    request.addfinalizer(lambda: iam.delete_role_policy(RoleName=role_name, PolicyName=name))
    ok = exchange(
        stack, stack.token("bob@shopfast.example", aud="other-aud"), signer=signer, clientId=app_arn
    )
    assert ok["awsAdditionalDetails"]["identityContext"]
    with pytest.raises(ClientError) as wrong_audience:  # the seeded audience is not this application's
        exchange(stack, stack.token("bob@shopfast.example"), signer=signer, clientId=app_arn)
    assert _error(wrong_audience) == ("InvalidGrantException", "invalid_grant")
    with pytest.raises(ClientError) as unassigned:  # alice's department is not assigned to this application
        exchange(
            stack, stack.token("alice@shopfast.example", aud="other-aud"), signer=signer, clientId=app_arn
        )
    assert _error(unassigned) == ("AccessDeniedException", "access_denied")

    # Claim `sub` mapped to userName matches nobody: the IdP's subject is not the directory's user name.
    sso.update_trusted_token_issuer(
        TrustedTokenIssuerArn=issuer_arn,
        TrustedTokenIssuerConfiguration={
            "OidcJwtConfiguration": {"ClaimAttributePath": "sub", "IdentityStoreAttributePath": "userName"}
        },
    )
    with pytest.raises(ClientError) as unknown_user:
        exchange(stack, stack.token("bob@shopfast.example", aud="other-aud"), signer=signer, clientId=app_arn)
    assert _error(unknown_user) == ("InvalidGrantException", "invalid_grant")
    assert "no directory user" in unknown_user.value.response["error_description"]

    sso.delete_application(ApplicationArn=app_arn)
    sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=issuer_arn)
    with pytest.raises(ClientError) as gone:
        sso.describe_application(ApplicationArn=app_arn)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_sso_admin_validation_and_not_found(stack: LocalStack) -> None:
    sso = stack.client("sso-admin", credentials=IDENTITY_CENTER_KEYS)
    app_arn = stack.config()["applicationArn"]
    with pytest.raises(ClientError) as missing_grant:
        sso.get_application_grant(ApplicationArn=app_arn, GrantType="authorization_code")
    assert missing_grant.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as unknown_issuer:
        sso.put_application_grant(
            ApplicationArn=app_arn,
            GrantType=JWT_BEARER,
            Grant={
                "JwtBearer": {
                    "AuthorizedTokenIssuers": [
                        {
                            "TrustedTokenIssuerArn": "arn:aws:sso::1:trustedTokenIssuer/x/tti-x",
                            "AuthorizedAudiences": ["a"],
                        }
                    ]
                }
            },
        )
    assert unknown_issuer.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as bad_policy:
        sso.put_application_authentication_method(
            ApplicationArn=app_arn,
            AuthenticationMethodType="IAM",
            AuthenticationMethod={"Iam": {"ActorPolicy": {}}},
        )
    assert bad_policy.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as unknown_principal:
        sso.create_application_assignment(
            ApplicationArn=app_arn, PrincipalId=str(uuid.uuid4()), PrincipalType="USER"
        )
    assert unknown_principal.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # The seeded grant is unchanged by the refused calls: the flow still works.
    assert exchange(stack, stack.token("erin@shopfast.example"))["accessToken"]


def test_identitystore_writes_reach_the_emulator_directory(stack: LocalStack) -> None:
    """A group created through the identitystore API is known to Identity Center at once."""
    store = stack.config()["identityStoreId"]
    identitystore = stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS)
    group_id = identitystore.create_group(IdentityStoreId=store, DisplayName=f"Temp-{time.time_ns()}")[
        "GroupId"
    ]
    sso = stack.client("sso-admin", credentials=IDENTITY_CENTER_KEYS)
    app_arn = stack.config()["applicationArn"]
    sso.create_application_assignment(ApplicationArn=app_arn, PrincipalId=group_id, PrincipalType="GROUP")
    sso.delete_application_assignment(ApplicationArn=app_arn, PrincipalId=group_id, PrincipalType="GROUP")
    identitystore.delete_group(IdentityStoreId=store, GroupId=group_id)
    with pytest.raises(ClientError) as gone:
        sso.create_application_assignment(ApplicationArn=app_arn, PrincipalId=group_id, PrincipalType="GROUP")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ({"aws_secret_access_key": "not-the-secret"}, "InvalidSignatureException"),
        ({"aws_session_token": "not-the-token"}, "UnrecognizedClientException"),
    ],
)
def test_client_session_must_sign_with_its_secret_and_token(
    stack: LocalStack, tamper: dict, code: str
) -> None:
    keys = client_app_keys(stack)
    with pytest.raises(ClientError) as refused:
        exchange(stack, stack.token("alice@shopfast.example"), signer={**keys, **tamper})
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


APP = "arn:aws:sso::222222222222:application/ssoins-7223c0ffee5e1a7d/apl-5a1e5c0ffee0b1d8"
CLIENT_ROLE = "arn:aws:iam::111111111111:role/shopfast-vending-client-app"


def _statement(**overrides: object) -> dict:
    return {
        "Effect": "Allow",
        "Principal": {"AWS": "111111111111"},
        "Action": "sso-oauth:CreateTokenWithIAM",
    } | overrides


@pytest.mark.unit
@pytest.mark.parametrize(
    ("statements", "principal", "allowed"),
    [
        ([_statement(Principal={"AWS": CLIENT_ROLE})], CLIENT_ROLE, True),
        ([_statement(Principal={"AWS": CLIENT_ROLE})], "arn:aws:iam::111111111111:role/other", False),
        ([_statement(Condition={"ArnEquals": {"aws:PrincipalArn": CLIENT_ROLE}})], CLIENT_ROLE, True),
        (
            [_statement(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/shopfast-*"}})],
            CLIENT_ROLE,
            True,
        ),
        (
            [_statement(Condition={"ArnEquals": {"aws:PrincipalArn": CLIENT_ROLE}})],
            "arn:aws:iam::111111111111:role/x",
            False,
        ),
        ([_statement(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})], CLIENT_ROLE, False),
        ([_statement(Principal={"AWS": "999999999999"})], CLIENT_ROLE, False),
        ([_statement(Action="sso-oauth:*")], CLIENT_ROLE, True),
        ([_statement(Action="sso-oauth:CreateToken")], CLIENT_ROLE, False),
        ([_statement(Resource=APP.replace("apl-5a1e", "apl-0000"))], CLIENT_ROLE, False),
        ([_statement(), _statement(Effect="Deny", Principal="*")], CLIENT_ROLE, False),
        ([], CLIENT_ROLE, False),
    ],
)
def test_actor_policy_evaluation(statements: list, principal: str, allowed: bool) -> None:
    document = {"Version": "2012-10-17", "Statement": statements}
    session = f"arn:aws:sts::111111111111:assumed-role/{principal.rsplit('/', 1)[-1]}/lambda"
    caller = Principal(arn=session, account="111111111111", role_arn=principal)
    context = RequestContext(action="sso-oauth:CreateTokenWithIAM", resource=APP, principal=caller)
    assert policy.allows(document, context) is allowed
