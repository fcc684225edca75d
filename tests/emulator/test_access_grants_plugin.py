"""AWS's own S3 Access Grants plugin for boto3 (aws-s3-access-grants-boto3-plugin), a client nobody here
wrote, against the emulator: it resolves the bucket's region (HeadBucket), the owning account
(GetAccessGrantsInstanceForPrefix) and credentials (GetDataAccess in that region), then signs S3 calls
with them. Both of the seed's Regions: `shopfast-data` (us-east-1, the client's own) and
`shopfast-internal` (ap-southeast-2).

The plugin builds its own clients from the botocore session it is given, so the session carries the
emulator's endpoint (`AWS_ENDPOINT_URL`) and the loopback fix for s3control's `{AccountId}.` host prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from aws_s3_access_grants_boto3_plugin.s3_access_grants_plugin import S3AccessGrantsPlugin
from botocore.config import Config
from botocore.exceptions import ClientError

from adapters.loopback import strip_account_prefix
from local.stack import LocalStack
from tests.emulator.helpers import role_session

pytestmark = pytest.mark.integration

# Department (an iam-role style grantee) -> (bucket, a key it may write, a key outside its grants).
CASES = {
    "Sales": ("shopfast-data", "transactions/plugin.csv", "feedback/2024-q1.csv"),
    "HR": ("shopfast-internal", "benefits/plugin.csv", "leads/pipeline.csv"),
}


@pytest.fixture(params=sorted(CASES))
def department(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def plugin_s3(stack: LocalStack, department: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An S3 client in us-east-1 with the plugin, acting as the department's role session."""
    keys = role_session(stack, department)
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.aws_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["aws_secret_access_key"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", keys["aws_session_token"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    session = botocore.session.Session()
    session.register("before-sign.s3-control", strip_account_prefix)
    s3 = session.create_client("s3", config=Config(s3={"addressing_style": "path"}))
    S3AccessGrantsPlugin(s3, fallback_enabled=False, customer_session=session).register()
    yield s3


def test_the_plugin_reads_and_writes_inside_the_grant(
    stack: LocalStack, department: str, plugin_s3: Any
) -> None:
    bucket, key, _ = CASES[department]
    stack.reset_stats()
    plugin_s3.put_object(Bucket=bucket, Key=key, Body=b"order,amount\n")
    assert plugin_s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"order,amount\n"
    calls = stack.stats()["calls"]
    assert calls.get("GetDataAccess", 0) >= 1, calls
    assert calls.get("HeadBucket", 0) >= 1, calls
    region = stack.config()["bucketRegions"][bucket]
    assert {e["awsRegion"] for e in stack.cloudtrail_events()[-calls["GetDataAccess"] :]} == {region}


def test_the_plugin_is_refused_outside_the_grant(department: str, plugin_s3: Any) -> None:
    bucket, _, outside = CASES[department]
    with pytest.raises(ClientError) as refused:
        plugin_s3.get_object(Bucket=bucket, Key=outside)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
