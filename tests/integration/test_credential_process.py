"""An AWS SDK profile whose `credential_process` is local/credential_process.py reads S3 through the
emulator with credentials the API vended: the real path is boto3 → the script → the local gateway (its
JWT authorizer, then the Lambda handler) → the emulator's Access Grants."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, CredentialRetrievalError

from local.gateway.server import RunningGateway, serve
from local.stack import LocalStack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "local" / "credential_process.py"


@pytest.fixture(scope="module")
def gateway(local_stack: LocalStack) -> Iterator[RunningGateway]:
    log_file = local_stack.state_dir / "credential-process-gateway.log"
    with serve(aws_endpoint=local_stack.aws_endpoint, demo=False, log_file=log_file) as running:
        yield running


def write_profile(
    directory: Path, gateway: RunningGateway, token_file: Path, target: str, permission: str
) -> Path:
    config_file = directory / "config"
    command = (
        f"{sys.executable} {SCRIPT} --api {gateway.url} --target {target} --permission {permission} "
        f"--token-file {token_file} --token-env SHOPFAST_TEST_UNSET_TOKEN"
    )
    config_file.write_text(f"[profile shopfast]\nregion = us-east-1\ncredential_process = {command}\n")
    return config_file


def s3_through_profile(
    monkeypatch: pytest.MonkeyPatch, stack: LocalStack, config_file: Path, tmp_path: Path
) -> Any:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    session = boto3.session.Session(profile_name="shopfast")
    return session.client("s3", endpoint_url=stack.aws_endpoint, region_name="us-east-1")


def test_boto3_reads_s3_with_a_credential_process_profile(
    local_stack: LocalStack, gateway: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(local_stack.token("alice@shopfast.example"))
    config_file = write_profile(tmp_path, gateway, token_file, "s3://shopfast-data/users/*", "READ")
    s3 = s3_through_profile(monkeypatch, local_stack, config_file, tmp_path)

    body = s3.get_object(Bucket="shopfast-data", Key="users/user_list")["Body"].read()

    assert body == b"alice,bob,carol,dave,erin\n"
    credentials = boto3.session.Session(profile_name="shopfast").get_credentials().get_frozen_credentials()
    assert credentials.access_key.startswith("ASIA") and credentials.token  # vended, temporary
    with pytest.raises(ClientError) as refused:  # READ only, and only users/*
        s3.put_object(Bucket="shopfast-data", Key="users/by-alice.csv", Body=b"x")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.get_object(Bucket="shopfast-data", Key="users-archive/old_list")


def test_a_refused_credential_process_is_a_credential_error_with_the_reason(
    local_stack: LocalStack, gateway: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token = local_stack.token("mallory@shopfast.example")
    token_file.write_text(token)
    config_file = write_profile(tmp_path, gateway, token_file, "s3://shopfast-data/users/*", "READ")

    with pytest.raises(CredentialRetrievalError) as refused:  # boto3 resolves credentials for the client
        s3 = s3_through_profile(monkeypatch, local_stack, config_file, tmp_path)
        s3.get_object(Bucket="shopfast-data", Key="users/user_list")

    assert "HTTP 403" in str(refused.value)
    assert token not in str(refused.value)


def test_the_script_prints_the_document_and_never_the_token(
    local_stack: LocalStack, gateway: RunningGateway
) -> None:
    token = local_stack.token("bob@shopfast.example")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--api", gateway.url, "--target", "s3://shopfast-data/transactions/*"],
        env={"SHOPFAST_TOKEN": token, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert '"Version": 1' in result.stdout and '"SessionToken"' in result.stdout
    assert token not in result.stdout + result.stderr
    missing = subprocess.run(
        [sys.executable, str(SCRIPT), "--api", gateway.url, "--target", "s3://shopfast-data/transactions/*"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1 and "no token" in missing.stderr
