"""The AWS calls a real client makes against the emulator, through plain boto3 (no shortcuts)."""

from __future__ import annotations

from typing import Any

from local.stack import LocalStack

ACCOUNT_ID = "111111111111"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CONTEXT_PROVIDER = "arn:aws:iam::aws:contextProvider/IdentityCenter"


def boto_keys(credentials: dict[str, Any]) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def assume(stack: LocalStack, role_arn: str, session_name: str, **kwargs: Any) -> dict[str, str]:
    sts = stack.client("sts", credentials=kwargs.pop("credentials", None))
    return boto_keys(sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, **kwargs)["Credentials"])


def client_app_keys(stack: LocalStack) -> dict[str, str]:
    """The Lambda's execution role (the Identity Center application's IAM caller), as Lambda hands it to a
    function: the role trusts lambda.amazonaws.com only."""
    return boto_keys(stack.execution_role_credentials(stack.config()["clientApplicationRoleArn"]))


def identity_context(stack: LocalStack, user: str, app_keys: dict[str, str] | None = None) -> str:
    """CreateTokenWithIAM with the user's JWT: the identity context of the Identity Center token."""
    config = stack.config()
    oidc = stack.client("sso-oidc", credentials=app_keys or client_app_keys(stack))
    token = oidc.create_token_with_iam(
        clientId=config["applicationArn"], grantType=JWT_BEARER, assertion=stack.token(user)
    )
    context: str = token["awsAdditionalDetails"]["identityContext"]
    return context


def identity_session(stack: LocalStack, user: str) -> dict[str, str]:
    """CreateTokenWithIAM → AssumeRole(identity-bearer, ProvidedContexts): an identity-aware session."""
    app_keys = client_app_keys(stack)
    context = identity_context(stack, user, app_keys)
    return assume(
        stack,
        stack.config()["identityBearerRoleArn"],
        "vending-" + user.split("@")[0],
        credentials=app_keys,
        ProvidedContexts=[{"ProviderArn": CONTEXT_PROVIDER, "ContextAssertion": context}],
    )


def role_session(stack: LocalStack, department: str) -> dict[str, str]:
    """iam-role mode: a session of the department's IAM role."""
    return assume(stack, stack.config()["departmentRoles"][department], f"{department.lower()}-user")


def region_of(stack: LocalStack, target: str) -> str:
    """The Region of the bucket an `s3://bucket/...` target names (the seed's, from the access plan)."""
    bucket = target.removeprefix("s3://").split("/", 1)[0]
    answer: str = stack.config()["bucketRegions"].get(bucket, stack.config()["region"])
    return answer


def get_data_access(
    stack: LocalStack, keys: dict[str, str], target: str, permission: str, **kwargs: Any
) -> dict[str, Any]:
    """GetDataAccess in the target bucket's Region, as S3 Access Grants' instances are regional."""
    s3control = stack.client("s3control", credentials=keys, region=region_of(stack, target))
    answer: dict[str, Any] = s3control.get_data_access(
        AccountId=ACCOUNT_ID, Target=target, Permission=permission, **kwargs
    )
    return answer


def s3_with(stack: LocalStack, data_access: dict[str, Any], **config: Any) -> Any:
    """An S3 client with vended credentials, in the Region of the bucket they were vended for."""
    target = data_access.get("MatchedGrantTarget", "s3://")
    return stack.client(
        "s3", credentials=boto_keys(data_access["Credentials"]), region=region_of(stack, target), **config
    )
