"""The AWS CLI (a client nobody here wrote) against the emulator, through its own process and settings:
assume a department role, ask Access Grants for data access, then copy, list and read with the vended
credentials, including a multipart upload (`aws s3 cp` splits files over 8 MiB)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.stack import REGION, TEST_KEYS, LocalStack
from tests.emulator.helpers import ACCOUNT_ID

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BUCKET = "shopfast-data"


def _aws_cli() -> str:
    candidate = REPO / ".tools" / "awscli" / "bin" / "aws"
    found = str(candidate) if candidate.is_file() else shutil.which("aws")
    assert found, "the AWS CLI is required: `make tools` installs it into .tools/awscli"
    return found


def _environment(stack: LocalStack, keys: dict[str, str], home: Path) -> dict[str, str]:
    """Only what a user would set: keys, region, and the emulator as HTTPS-less proxy (s3control hosts
    carry the account id, which resolves nowhere)."""
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
        "HTTP_PROXY": stack.aws_endpoint,
        "NO_PROXY": "",
    }
    if keys.get("aws_session_token"):
        environment["AWS_SESSION_TOKEN"] = keys["aws_session_token"]
    return environment


def aws(stack: LocalStack, keys: dict[str, str], home: Path, *args: str, ok: bool = True) -> Any:
    process = subprocess.run(
        [_aws_cli(), "--endpoint-url", stack.aws_endpoint, "--output", "json", *args],
        env=_environment(stack, keys, home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if not ok:
        assert process.returncode != 0, process.stdout
        return process.stderr
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout) if process.stdout.strip().startswith("{") else process.stdout


def _keys(credentials: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def test_the_aws_cli_vends_and_uses_access_grants_credentials(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    stack = local_stack
    role = aws(
        stack,
        TEST_KEYS,
        tmp_path,
        "sts",
        "assume-role",
        "--role-arn",
        stack.config()["departmentRoles"]["Sales"],
        "--role-session-name",
        "cli-user",
    )
    vended = aws(
        stack,
        _keys(role["Credentials"]),
        tmp_path,
        "s3control",
        "get-data-access",
        "--account-id",
        ACCOUNT_ID,
        "--target",
        f"s3://{BUCKET}/users/*",
        "--permission",
        "READWRITE",
    )
    assert vended["MatchedGrantTarget"] == f"s3://{BUCKET}/users/*"
    keys = _keys(vended["Credentials"])

    payload = tmp_path / "big.bin"
    payload.write_bytes(os.urandom(9 * 1024 * 1024))
    aws(stack, keys, tmp_path, "s3", "cp", str(payload), f"s3://{BUCKET}/users/cli/big.bin")
    listing = aws(stack, keys, tmp_path, "s3", "ls", f"s3://{BUCKET}/users/cli/")
    assert "big.bin" in listing and str(9 * 1024 * 1024) in listing
    copy = tmp_path / "back.bin"
    aws(stack, keys, tmp_path, "s3", "cp", f"s3://{BUCKET}/users/cli/big.bin", str(copy))
    assert copy.read_bytes() == payload.read_bytes()
    head = aws(
        stack, keys, tmp_path, "s3api", "head-object", "--bucket", BUCKET, "--key", "users/cli/big.bin"
    )
    assert head["ETag"].endswith('-2"')  # stored as a two-part multipart upload

    refused = aws(
        stack, keys, tmp_path, "s3", "cp", str(payload), f"s3://{BUCKET}/feedback/cli.bin", ok=False
    )
    assert "AccessDenied" in refused
