"""GetDataAccess and ListCallerAccessGrants semantics: privilege, target forms, duration, paging, expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from local.stack import IDENTITY_CENTER_KEYS, LocalStack
from tests.emulator.helpers import (
    ACCOUNT_ID,
    CONTEXT_PROVIDER,
    assume,
    client_app_keys,
    get_data_access,
    identity_context,
    identity_session,
    role_session,
    s3_with,
)

pytestmark = pytest.mark.integration


def code_of(error: pytest.ExceptionInfo[ClientError]) -> str:
    return error.value.response["Error"]["Code"]


def test_default_privilege_scopes_to_the_matched_grant(stack: LocalStack) -> None:
    keys = identity_session(stack, "alice@shopfast.example")
    vended = get_data_access(stack, keys, "s3://shopfast-data/users/user_list", "READ", TargetType="Object")
    assert vended["MatchedGrantTarget"] == "s3://shopfast-data/users/*"
    s3 = s3_with(stack, vended)
    stack.client("s3").put_object(Bucket="shopfast-data", Key="users/other_list", Body=b"x\n")
    assert s3.get_object(Bucket="shopfast-data", Key="users/other_list")["Body"].read() == b"x\n"


def test_minimal_privilege_scopes_to_exactly_the_object(stack: LocalStack) -> None:
    keys = identity_session(stack, "alice@shopfast.example")
    vended = get_data_access(
        stack, keys, "s3://shopfast-data/users/user_list", "READ", Privilege="Minimal", TargetType="Object"
    )
    assert vended["MatchedGrantTarget"] == "s3://shopfast-data/users/user_list"
    s3 = s3_with(stack, vended)
    assert (
        s3.get_object(Bucket="shopfast-data", Key="users/user_list")["Body"].read()
        == b"alice,bob,carol,dave,erin\n"
    )
    stack.client("s3").put_object(Bucket="shopfast-data", Key="users/user_list_2", Body=b"x")
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket="shopfast-data", Key="users/user_list_2")
    assert code_of(denied) == "AccessDenied"


def test_minimal_privilege_on_a_sub_prefix(stack: LocalStack) -> None:
    keys = role_session(stack, "Sales")
    vended = get_data_access(stack, keys, "s3://shopfast-data/users/eu/*", "READWRITE", Privilege="Minimal")
    assert vended["MatchedGrantTarget"] == "s3://shopfast-data/users/eu/*"
    s3 = s3_with(stack, vended)
    s3.put_object(Bucket="shopfast-data", Key="users/eu/list", Body=b"eu")
    assert s3.list_objects_v2(Bucket="shopfast-data", Prefix="users/eu/")["KeyCount"] == 1
    with pytest.raises(ClientError) as denied:
        s3.list_objects_v2(Bucket="shopfast-data", Prefix="users/")
    assert code_of(denied) == "AccessDenied"


@pytest.mark.parametrize(
    "target", ["s3://shopfast-data/users/*", "s3://shopfast-data/users/", "s3://shopfast-data/users/sub/*"]
)
def test_prefix_targets_with_or_without_star_inside_the_grant(stack: LocalStack, target: str) -> None:
    keys = role_session(stack, "CustomerSupport")
    assert get_data_access(stack, keys, target, "READ")["MatchedGrantTarget"] == "s3://shopfast-data/users/*"


@pytest.mark.parametrize("duration", [899, 43201, 0])
def test_duration_outside_900_to_43200_is_a_validation_error(stack: LocalStack, duration: int) -> None:
    keys = role_session(stack, "CustomerSupport")
    # Client-side validation off, so the emulator's own answer is what is tested.
    s3control = stack.client("s3control", credentials=keys, parameter_validation=False)
    with pytest.raises(ClientError) as invalid:
        s3control.get_data_access(
            AccountId=ACCOUNT_ID,
            Target="s3://shopfast-data/users/*",
            Permission="READ",
            DurationSeconds=duration,
        )
    assert code_of(invalid) == "ValidationException"
    assert invalid.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(("duration", "expected"), [(None, 3600), (900, 900), (43200, 43200)])
def test_duration_sets_the_expiration(stack: LocalStack, duration: int | None, expected: int) -> None:
    keys = role_session(stack, "CustomerSupport")
    extra = {} if duration is None else {"DurationSeconds": duration}
    vended = get_data_access(stack, keys, "s3://shopfast-data/users/*", "READ", **extra)
    remaining = (vended["Credentials"]["Expiration"] - datetime.now(UTC)).total_seconds()
    assert expected - 60 < remaining <= expected


def test_static_keys_are_no_grantee(stack: LocalStack) -> None:
    with pytest.raises(ClientError) as denied:
        stack.client("s3control").get_data_access(
            AccountId=ACCOUNT_ID, Target="s3://shopfast-data/users/*", Permission="READ"
        )
    assert code_of(denied) == "AccessDenied"
    assert (
        stack.client("s3control").list_caller_access_grants(AccountId=ACCOUNT_ID)["CallerAccessGrantsList"]
        == []
    )


def test_the_identity_bearer_role_without_context_holds_no_grant(stack: LocalStack) -> None:
    app_keys = client_app_keys(stack)
    keys = assume(stack, stack.config()["identityBearerRoleArn"], "no-context", credentials=app_keys)
    with pytest.raises(ClientError) as denied:
        get_data_access(stack, keys, "s3://shopfast-data/users/*", "READ")
    assert code_of(denied) == "AccessDenied"


def test_unknown_identity_context_is_refused(stack: LocalStack) -> None:
    app_keys = client_app_keys(stack)
    with pytest.raises(ClientError) as refused:
        assume(
            stack,
            stack.config()["identityBearerRoleArn"],
            "forged-context",
            credentials=app_keys,
            ProvidedContexts=[{"ProviderArn": CONTEXT_PROVIDER, "ContextAssertion": "A" * 64}],
        )
    # The STS model's InvalidContextAssertionException (400): "malformed, expired or not issued".
    assert code_of(refused) == "InvalidContextAssertion"


def test_expired_identity_context_is_refused(stack: LocalStack) -> None:
    app_keys = client_app_keys(stack)
    context = identity_context(stack, "alice@shopfast.example", app_keys)
    stack.expire_identity_contexts()
    with pytest.raises(ClientError) as refused:
        assume(
            stack,
            stack.config()["identityBearerRoleArn"],
            "expired-context",
            credentials=app_keys,
            ProvidedContexts=[{"ProviderArn": CONTEXT_PROVIDER, "ContextAssertion": context}],
        )
    assert code_of(refused) == "InvalidContextAssertion"


def test_an_expired_caller_session_cannot_get_data_access(stack: LocalStack) -> None:
    keys = identity_session(stack, "alice@shopfast.example")
    stack.advance_clock(2 * 3600)
    with pytest.raises(ClientError) as expired:
        get_data_access(stack, keys, "s3://shopfast-data/users/*", "READ")
    assert code_of(expired) == "ExpiredToken"


def test_list_caller_access_grants_pages_and_filters(stack: LocalStack) -> None:
    """Each Region's instance lists the caller's grants there (dave holds one in each Region)."""
    keys = identity_session(stack, "dave@shopfast.example")
    in_home = stack.client("s3control", credentials=keys)
    assert {
        (g["GrantScope"], g["Permission"])
        for g in in_home.list_caller_access_grants(AccountId=ACCOUNT_ID)["CallerAccessGrantsList"]
    } == {("s3://shopfast-data/products/*", "READWRITE")}
    s3control = stack.client("s3control", credentials=keys, region="ap-southeast-2")
    everything = s3control.list_caller_access_grants(AccountId=ACCOUNT_ID)["CallerAccessGrantsList"]
    assert {(g["GrantScope"], g["Permission"]) for g in everything} == {
        ("s3://shopfast-internal/leads/*", "READ")
    }
    extra = stack.client("s3control", region="ap-southeast-2").create_access_grant(
        AccountId=ACCOUNT_ID,
        AccessGrantsLocationId=_location_id(stack, "shopfast-internal"),
        AccessGrantsLocationConfiguration={"S3SubPrefix": "leads/archive/*"},
        Grantee={
            "GranteeType": "DIRECTORY_USER",
            "GranteeIdentifier": _user_id(stack, "dave@shopfast.example"),
        },
        Permission="READ",
    )
    everything = s3control.list_caller_access_grants(AccountId=ACCOUNT_ID)["CallerAccessGrantsList"]
    pages, token = [], None
    while True:
        page = s3control.list_caller_access_grants(
            AccountId=ACCOUNT_ID, MaxResults=1, **({"NextToken": token} if token else {})
        )
        pages.append(page["CallerAccessGrantsList"])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [1, 1]
    assert [g for p in pages for g in p] == everything
    for scope, expected in (
        (
            "s3://shopfast-internal",
            ["s3://shopfast-internal/leads/*", "s3://shopfast-internal/leads/archive/*"],
        ),
        ("s3://shopfast-internal/leads/report.csv", ["s3://shopfast-internal/leads/*"]),
    ):
        filtered = s3control.list_caller_access_grants(AccountId=ACCOUNT_ID, GrantScope=scope)
        assert [g["GrantScope"] for g in filtered["CallerAccessGrantsList"]] == expected
    stack.client("s3control", region="ap-southeast-2").delete_access_grant(
        AccountId=ACCOUNT_ID, AccessGrantId=extra["AccessGrantId"]
    )


def _location_id(stack: LocalStack, bucket: str) -> str:
    s3control = stack.client("s3control", region=stack.config()["bucketRegions"][bucket])
    return next(
        loc["AccessGrantsLocationId"]
        for loc in s3control.list_access_grants_locations(AccountId=ACCOUNT_ID)["AccessGrantsLocationsList"]
        if loc["LocationScope"] == f"s3://{bucket}"
    )


def _user_id(stack: LocalStack, email: str) -> str:
    return stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS).get_user_id(
        IdentityStoreId=stack.config()["identityStoreId"],
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": email}},
    )["UserId"]


def test_the_closest_grant_wins(stack: LocalStack) -> None:
    """A narrower grant to the same group is preferred over the wider one when both satisfy."""
    config = stack.config()
    admin = stack.client("s3control")
    location = next(
        loc["AccessGrantsLocationId"]
        for loc in admin.list_access_grants_locations(AccountId=ACCOUNT_ID)["AccessGrantsLocationsList"]
        if loc["LocationScope"] == "s3://shopfast-data"
    )
    grant = admin.create_access_grant(
        AccountId=ACCOUNT_ID,
        AccessGrantsLocationId=location,
        AccessGrantsLocationConfiguration={"S3SubPrefix": "users/vip/*"},
        Grantee={"GranteeType": "IAM", "GranteeIdentifier": config["departmentRoles"]["Sales"]},
        Permission="READ",
    )
    try:
        keys = role_session(stack, "Sales")
        assert get_data_access(stack, keys, "s3://shopfast-data/users/vip/a", "READ")[
            "MatchedGrantTarget"
        ] == ("s3://shopfast-data/users/vip/*")
        # WRITE is beyond the narrow grant: the wider READWRITE grant is the closest one that satisfies.
        assert get_data_access(stack, keys, "s3://shopfast-data/users/vip/a", "WRITE")[
            "MatchedGrantTarget"
        ] == ("s3://shopfast-data/users/*")
    finally:
        admin.delete_access_grant(AccountId=ACCOUNT_ID, AccessGrantId=grant["AccessGrantId"])


def test_an_identity_aware_session_also_holds_its_roles_grants(stack: LocalStack) -> None:
    config = stack.config()
    admin = stack.client("s3control", region="ap-southeast-2")
    location = _location_id(stack, "shopfast-internal")
    grant = admin.create_access_grant(
        AccountId=ACCOUNT_ID,
        AccessGrantsLocationId=location,
        AccessGrantsLocationConfiguration={"S3SubPrefix": "benefits/*"},
        Grantee={"GranteeType": "IAM", "GranteeIdentifier": config["identityBearerRoleArn"]},
        Permission="READ",
    )
    try:
        keys = identity_session(stack, "mallory@shopfast.example")
        vended = get_data_access(stack, keys, "s3://shopfast-internal/benefits/*", "READ")
        assert vended["Grantee"] == {
            "GranteeType": "IAM",
            "GranteeIdentifier": config["identityBearerRoleArn"],
        }
    finally:
        admin.delete_access_grant(AccountId=ACCOUNT_ID, AccessGrantId=grant["AccessGrantId"])
    with pytest.raises(ClientError) as denied:
        get_data_access(stack, keys, "s3://shopfast-internal/benefits/*", "READ")
    assert code_of(denied) == "AccessDenied"
