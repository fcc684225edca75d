"""STS AssumeRole with ProvidedContexts (identity-aware sessions) and GetCallerIdentity, through boto3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack
from tests.emulator.helpers import CONTEXT_PROVIDER, assume, boto_keys, client_app_keys, get_data_access
from tests.emulator.identity_flow import capture_raw, exchange, fields_outside_model

pytestmark = pytest.mark.integration


def _exchange_context(stack: LocalStack, user: str, signer: dict[str, str]) -> tuple[str, datetime]:
    answer = exchange(stack, stack.token(user), signer=signer)
    expires = datetime.fromtimestamp(
        jwt.decode(answer["idToken"], options={"verify_signature": False})["exp"], UTC
    )
    return answer["awsAdditionalDetails"]["identityContext"], expires


def _assume_bearer(stack: LocalStack, signer: dict[str, str], context: str, **kwargs: Any) -> dict[str, Any]:
    sts = stack.client("sts", credentials=signer)
    return sts.assume_role(
        RoleArn=stack.config()["identityBearerRoleArn"],
        RoleSessionName=kwargs.pop("RoleSessionName", "bearer-session"),
        ProvidedContexts=[
            {"ProviderArn": kwargs.pop("ProviderArn", CONTEXT_PROVIDER), "ContextAssertion": context}
        ],
        **kwargs,
    )


def test_identity_aware_session_and_its_caller_identity(stack: LocalStack) -> None:
    config = stack.config()
    signer = client_app_keys(stack)
    context, _ = _exchange_context(stack, "alice@shopfast.example", signer)
    sts = stack.client("sts", credentials=signer)
    raw = capture_raw(sts)
    answer = sts.assume_role(
        RoleArn=config["identityBearerRoleArn"],
        RoleSessionName="alice-session",
        ProvidedContexts=[{"ProviderArn": CONTEXT_PROVIDER, "ContextAssertion": context}],
    )
    assert fields_outside_model(raw[-1]) == []
    expected_arn = f"arn:aws:sts::{config['accountId']}:assumed-role/shopfast-identity-bearer/alice-session"
    assert answer["AssumedRoleUser"]["Arn"] == expected_arn
    assert answer["AssumedRoleUser"]["AssumedRoleId"].endswith(":alice-session")
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")

    identity_client = stack.client("sts", credentials=boto_keys(answer["Credentials"]))
    raw_identity = capture_raw(identity_client)
    identity = identity_client.get_caller_identity()
    assert fields_outside_model(raw_identity[-1]) == []
    assert identity["Arn"] == expected_arn
    assert identity["Account"] == config["accountId"]
    assert identity["UserId"] == answer["AssumedRoleUser"]["AssumedRoleId"]


def test_the_session_acts_as_the_directory_user_for_access_grants(stack: LocalStack) -> None:
    signer = client_app_keys(stack)
    alice = _assume_bearer(stack, signer, _exchange_context(stack, "alice@shopfast.example", signer)[0])
    allowed = get_data_access(
        stack, boto_keys(alice["Credentials"]), "s3://shopfast-data/users/user_list", "READ"
    )
    assert allowed["Grantee"]["GranteeType"] == "DIRECTORY_GROUP"
    mallory = _assume_bearer(stack, signer, _exchange_context(stack, "mallory@shopfast.example", signer)[0])
    with pytest.raises(ClientError) as denied:
        get_data_access(
            stack, boto_keys(mallory["Credentials"]), "s3://shopfast-data/users/user_list", "READ"
        )
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_a_session_without_context_is_just_the_role(stack: LocalStack) -> None:
    sts = stack.client("sts", credentials=client_app_keys(stack))
    plain = sts.assume_role(RoleArn=stack.config()["identityBearerRoleArn"], RoleSessionName="no-context")
    with pytest.raises(ClientError) as denied:
        get_data_access(stack, boto_keys(plain["Credentials"]), "s3://shopfast-data/users/user_list", "READ")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_session_ends_no_later_than_its_identity_context(stack: LocalStack) -> None:
    signer = client_app_keys(stack)
    context, context_expires = _exchange_context(stack, "bob@shopfast.example", signer)
    stack.advance_clock(1800)
    answer = _assume_bearer(stack, signer, context, DurationSeconds=3600)
    expiration = answer["Credentials"]["Expiration"].astimezone(UTC)
    assert abs((expiration - context_expires).total_seconds()) <= 2
    short = _assume_bearer(stack, signer, context, DurationSeconds=900)
    emulator_now = datetime.now(UTC) + timedelta(seconds=1800)
    assert abs((short["Credentials"]["Expiration"] - emulator_now).total_seconds() - 900) <= 5


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ("AQoJb3JpZ2luX2VjAAAAnot-issued-by-the-emulator", "was not issued"),
        ("xxxx", "was not issued"),
    ],
)
def test_contexts_the_emulator_never_issued_are_refused(
    stack: LocalStack, context: str, message: str
) -> None:
    with pytest.raises(ClientError) as refused:
        _assume_bearer(stack, client_app_keys(stack), context)
    # STS model: InvalidContextAssertionException, 400, for a malformed, expired or foreign assertion.
    assert refused.value.response["Error"]["Code"] == "InvalidContextAssertion"
    assert message in refused.value.response["Error"]["Message"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_tampered_context_is_refused(stack: LocalStack) -> None:
    signer = client_app_keys(stack)
    context, _ = _exchange_context(stack, "carol@shopfast.example", signer)
    tampered = context[:-2] + ("AA" if not context.endswith("AA") else "BB")
    with pytest.raises(ClientError) as refused:
        _assume_bearer(stack, signer, tampered)
    assert refused.value.response["Error"]["Code"] == "InvalidContextAssertion"


def test_expired_contexts_are_refused(stack: LocalStack) -> None:
    signer = client_app_keys(stack)
    context, _ = _exchange_context(stack, "dave@shopfast.example", signer)
    stack.advance_clock(3601)
    with pytest.raises(ClientError) as by_clock:
        _assume_bearer(stack, client_app_keys(stack), context)
    assert by_clock.value.response["Error"]["Code"] == "InvalidContextAssertion"
    assert "expired" in by_clock.value.response["Error"]["Message"]
    stack.reset_clock()
    signer = client_app_keys(stack)
    context, _ = _exchange_context(stack, "dave@shopfast.example", signer)
    stack.expire_identity_contexts()
    with pytest.raises(ClientError) as by_control:
        _assume_bearer(stack, signer, context)
    assert by_control.value.response["Error"]["Code"] == "InvalidContextAssertion"


def test_unsupported_context_provider_is_refused(stack: LocalStack) -> None:
    signer = client_app_keys(stack)
    context, _ = _exchange_context(stack, "erin@shopfast.example", signer)
    with pytest.raises(ClientError) as refused:
        _assume_bearer(stack, signer, context, ProviderArn="arn:aws:iam::aws:contextProvider/SomethingElse")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("contexts", "constraint"),
    [
        (6, "less than or equal to 5"),
        ({"ProviderArn": "arn:aws:iam::aws:x"}, "greater than or equal to 20"),
        ({"ContextAssertion": "abc"}, "greater than or equal to 4"),
        ({"ContextAssertion": "a" * 3073}, "less than or equal to 3072"),
    ],
)
def test_provided_contexts_hold_to_the_models_bounds(
    stack: LocalStack, contexts: int | dict, constraint: str
) -> None:
    """STS API reference, AssumeRole `ProvidedContexts` ("Maximum number of 5 items") and ProvidedContext
    (`ProviderArn` length 20-2048, `ContextAssertion` at least 4; at most 3072 in botocore's model, 2048 in
    the reference page, and the model is what SDKs enforce): ValidationError (400) naming the constraint.
    Sent without botocore's own validation, as a client that skips it would."""
    good = {"ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter", "ContextAssertion": "abcd"}
    provided = [good] * contexts if isinstance(contexts, int) else [{**good, **contexts}]
    sts = stack.client("sts", credentials=client_app_keys(stack), parameter_validation=False)
    with pytest.raises(ClientError) as refused:
        sts.assume_role(
            RoleArn=stack.config()["identityBearerRoleArn"],
            RoleSessionName="bounds",
            ProvidedContexts=provided,
        )
    error = refused.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ValidationError", 400)
    assert constraint in error["Error"]["Message"]


@pytest.mark.parametrize(
    ("role", "kwargs", "code"),
    [
        ("arn:aws:iam::111111111111:role/no-such-role", {}, "AccessDenied"),
        ("arn:aws:iam::111111111111:role/ShopFast-Sales", {"DurationSeconds": 43200}, "ValidationError"),
    ],
)
def test_assume_role_checks_the_role_and_duration(
    stack: LocalStack, role: str, kwargs: dict, code: str
) -> None:
    with pytest.raises(ClientError) as refused:
        stack.client("sts").assume_role(RoleArn=role, RoleSessionName="checked", **kwargs)
    assert refused.value.response["Error"]["Code"] == code


@pytest.mark.parametrize(
    ("who", "extra"),
    [
        ("static keys", {}),  # moto's stand-in administrator: not the client-application role
        ("a department role", {}),
        ("the client application role without sts:SetContext", {"SourceIdentity": "someone"}),
    ],
)
def test_the_bearer_role_trusts_only_the_client_application_role(
    stack: LocalStack, who: str, extra: dict
) -> None:
    """STS API reference, AssumeRole: the role's trust policy decides who may assume it, for every caller.
    The identity-bearer role trusts the client-application role, with sts:SetContext only."""
    credentials = {
        "static keys": None,
        "a department role": assume(stack, stack.config()["departmentRoles"]["Sales"], "sales"),
        "the client application role without sts:SetContext": client_app_keys(stack),
    }[who]
    with pytest.raises(ClientError) as refused:
        stack.client("sts", credentials=credentials).assume_role(
            RoleArn=stack.config()["identityBearerRoleArn"], RoleSessionName="intruder", **extra
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_lambda_gets_credentials_only_for_a_role_that_trusts_it(stack: LocalStack) -> None:
    """IAM User Guide: a Lambda execution role's trust policy names lambda.amazonaws.com."""
    keys = client_app_keys(stack)
    identity = stack.client("sts", credentials=keys).get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/shopfast-vending-client-app/local-lambda")
    with pytest.raises(Exception, match="403"):
        stack.execution_role_credentials(stack.config()["identityBearerRoleArn"])


def test_role_chaining_is_limited_to_one_hour(stack: LocalStack) -> None:
    sts = stack.client("sts", credentials=client_app_keys(stack))
    with pytest.raises(ClientError) as refused:
        sts.assume_role(
            RoleArn=stack.config()["identityBearerRoleArn"], RoleSessionName="chained", DurationSeconds=7200
        )
    assert refused.value.response["Error"]["Code"] == "ValidationError"


def test_source_identity_is_echoed_and_kept(stack: LocalStack) -> None:
    role = stack.config()["departmentRoles"]["Sales"]
    answer = stack.client("sts").assume_role(
        RoleArn=role, RoleSessionName="bob", SourceIdentity="bob@shopfast.example"
    )
    assert answer["SourceIdentity"] == "bob@shopfast.example"
    chained = stack.client("sts", credentials=boto_keys(answer["Credentials"])).assume_role(
        RoleArn=role, RoleSessionName="bob-again"
    )
    assert chained["SourceIdentity"] == "bob@shopfast.example"


def test_expired_sessions_cannot_call_sts(stack: LocalStack) -> None:
    keys = assume(stack, stack.config()["departmentRoles"]["Sales"], "short-lived")
    stack.advance_clock(3601)
    with pytest.raises(ClientError) as refused:
        stack.client("sts", credentials=keys).get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "ExpiredToken"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ({"aws_secret_access_key": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"aws_session_token": "not-the-token"}, "InvalidClientTokenId"),
    ],
)
def test_session_keys_must_be_used_with_their_secret_and_token(
    stack: LocalStack, tamper: dict, code: str
) -> None:
    keys = client_app_keys(stack)
    with pytest.raises(ClientError) as refused:
        stack.client("sts", credentials={**keys, **tamper}).get_caller_identity()
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
