"""AWS's own S3 Access Grants plugin for boto3 (aws-s3-access-grants-boto3-plugin), a client nobody here
wrote, against the emulator: it resolves the bucket's region (HeadBucket), the owning account
(GetAccessGrantsInstanceForPrefix) and credentials (GetDataAccess), then signs S3 calls with them.

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

from lib.loopback import _strip_account_prefix
from local.stack import LocalStack
from tests.emulator.helpers import role_session

pytestmark = pytest.mark.integration

BUCKET = "shopfast-data"


@pytest.fixture
def plugin_s3(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An S3 client with the plugin, acting as a Sales role session (iam-role style grantee)."""
    keys = role_session(stack, "Sales")
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.aws_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["aws_secret_access_key"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", keys["aws_session_token"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    session = botocore.session.Session()
    session.register("before-sign.s3-control", _strip_account_prefix)
    s3 = session.create_client("s3", config=Config(s3={"addressing_style": "path"}))
    S3AccessGrantsPlugin(s3, fallback_enabled=False, customer_session=session).register()
    yield s3


def test_the_plugin_reads_and_writes_inside_the_grant(stack: LocalStack, plugin_s3: Any) -> None:
    stack.reset_stats()
    plugin_s3.put_object(Bucket=BUCKET, Key="transactions/plugin.csv", Body=b"order,amount\n")
    assert (
        plugin_s3.get_object(Bucket=BUCKET, Key="transactions/plugin.csv")["Body"].read() == b"order,amount\n"
    )
    calls = stack.stats()["calls"]
    assert calls.get("GetDataAccess", 0) >= 1, calls
    assert calls.get("HeadBucket", 0) >= 1, calls


def test_the_plugin_is_refused_outside_the_grant(plugin_s3: Any) -> None:
    with pytest.raises(ClientError) as refused:
        plugin_s3.get_object(Bucket=BUCKET, Key="feedback/2024-q1.csv")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
