"""A plain boto3 program, no project code: endpoint + proxy settings only (how Terraform reaches us too).

botocore puts `111111111111.` in front of the s3control host; with the emulator as HTTP proxy that
host never needs to resolve (the alternative is `adapters.loopback.use_loopback_endpoint`).
"""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from local.stack import LocalStack
from tests.emulator.helpers import ACCOUNT_ID, CONTEXT_PROVIDER, JWT_BEARER

pytestmark = pytest.mark.integration


def plain(service: str, stack: LocalStack, **keys: str) -> object:
    return boto3.client(
        service,
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        config=Config(proxies={"http": stack.aws_endpoint}),
        **(keys or {"aws_access_key_id": "AKIAPLAINPROGRAM0001", "aws_secret_access_key": "plain"}),
    )


def keys_of(credentials: dict) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def test_identity_center_flow_with_plain_boto3(local_stack: LocalStack) -> None:
    config = local_stack.config()
    # The Lambda's execution role, as Lambda hands it over (the role trusts lambda.amazonaws.com only).
    app = keys_of(local_stack.execution_role_credentials(config["clientApplicationRoleArn"]))
    token = plain("sso-oidc", local_stack, **app).create_token_with_iam(
        clientId=config["applicationArn"],
        grantType=JWT_BEARER,
        assertion=local_stack.token("bob@shopfast.example"),
    )
    session = keys_of(
        plain("sts", local_stack, **app).assume_role(
            RoleArn=config["identityBearerRoleArn"],
            RoleSessionName="plain-bob",
            ProvidedContexts=[
                {
                    "ProviderArn": CONTEXT_PROVIDER,
                    "ContextAssertion": token["awsAdditionalDetails"]["identityContext"],
                }
            ],
        )["Credentials"]
    )
    vended = plain("s3control", local_stack, **session).get_data_access(
        AccountId=ACCOUNT_ID, Target="s3://shopfast-data/transactions/*", Permission="READWRITE"
    )
    s3 = plain("s3", local_stack, **keys_of(vended["Credentials"]))
    s3.put_object(Bucket="shopfast-data", Key="transactions/plain.csv", Body=b"order,amount\n")
    assert (
        s3.get_object(Bucket="shopfast-data", Key="transactions/plain.csv")["Body"].read()
        == b"order,amount\n"
    )
