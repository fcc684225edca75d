"""The recipes of docs/data-tools.md against the local stack, each tool in its own process with only what
a user would set: the credentials the service vended (`POST /v1/credentials?format=credential_process`,
through real HTTP as `make run` serves it) in AWS_* variables. A read inside the grant returns the rows;
a read outside it is refused by S3, whatever the tool."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import requests

from local.gateway import RunningGateway
from local.stack import REGION, LocalStack
from tests.peers import PEERS, data_tools_python, run_peer

pytestmark = pytest.mark.integration

RECIPES = PEERS / "data_tools.py"
ALICE = "alice@shopfast.example"  # READ on users/, nothing on transactions/
INSIDE = "users/data-tools/ratings.parquet"
OUTSIDE = "transactions/data-tools/ratings.parquet"
SAMPLE = [{"id": 1, "rating": 5, "comment": "fast"}, {"id": 2, "rating": 3, "comment": None}]


@pytest.fixture(scope="module")
def alices_credentials(
    real_gateway: RunningGateway, local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """AWS_* variables from the credential_process document of READ on users/, and the objects to read."""
    parquet = subprocess.run([data_tools_python(), str(RECIPES), "sample"], capture_output=True, check=True)
    for key in (INSIDE, OUTSIDE):
        local_stack.client("s3").put_object(Bucket="shopfast-data", Key=key, Body=parquet.stdout)
    with requests.Session() as http:
        http.trust_env = False
        answer = http.post(
            f"{real_gateway.url}/v1/credentials",
            params={"format": "credential_process"},
            json={"target": "s3://shopfast-data/users/*", "permission": "READ"},
            headers={"Authorization": f"Bearer {local_stack.token(ALICE)}"},
            timeout=30,
        )
    assert answer.status_code == 200, answer.text
    document = answer.json()
    home = tmp_path_factory.mktemp("data-tools-home")
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),  # no ~/.aws: the variables are all the tools have
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_ACCESS_KEY_ID": document["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": document["SecretAccessKey"],
        "AWS_SESSION_TOKEN": document["SessionToken"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": local_stack.aws_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "*",
    }


def read(environment: dict[str, str], tool: str, key: str) -> dict[str, Any]:
    return run_peer("data_tools.py", tool, f"s3://shopfast-data/{key}", environment=environment, timeout=120)


@pytest.mark.parametrize("tool", ["pyarrow", "duckdb", "polars", "s3fs"])
def test_a_tool_reads_inside_the_grant_and_is_refused_outside(
    alices_credentials: dict[str, str], tool: str
) -> None:
    assert read(alices_credentials, tool, INSIDE) == {"rows": SAMPLE}

    refused = read(alices_credentials, tool, OUTSIDE)
    assert "error" in refused, refused
    said = refused["message"].lower().replace("_", " ")
    assert any(word in said for word in ("access denied", "accessdenied", "403", "forbidden")), refused
