"""Iceberg's S3 remote signing through real HTTP, as `make run` serves template.yaml (the gateway's JWT
authorizer, PresignFunction in its own execution environments, S3 in the emulator): the signed requests
sent to S3 with nothing but the answered headers, then PyIceberg itself (pinned in
tests/peers/requirements.txt) creating, appending to and scanning a table through the signer, per user."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
import requests

from local.gateway import RunningGateway
from local.stack import LocalStack
from tests.peers import data_tools_python, run_peer

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"  # READWRITE feedback/, READ users/
BOB = "bob@shopfast.example"  # no grant on feedback/
CAROL = "carol@shopfast.example"  # READ feedback/
MALLORY = "mallory@shopfast.example"  # no grants


def sign(
    gateway: RunningGateway, stack: LocalStack, http: requests.Session, user: str, method: str, path: str
) -> requests.Response:
    return http.post(
        f"{gateway.url}/v1/aws/s3/sign",
        json={"region": "us-east-1", "uri": f"{stack.aws_endpoint}/{path}", "method": method, "headers": {}},
        headers={"Authorization": f"Bearer {stack.token(user)}"},
        timeout=30,
    )


def send(http: requests.Session, signed: dict[str, Any], method: str, body: bytes = b"") -> requests.Response:
    """The S3 request, with exactly the URI and headers the signer answered."""
    headers = {name: ", ".join(values) for name, values in signed["headers"].items()}
    return http.request(method, signed["uri"], headers=headers, data=body, timeout=30)


def refused(answer: requests.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == status and error["type"] and error["message"]


def test_a_get_signed_for_alice_reads_the_object(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    answer = sign(real_gateway, local_stack, http, ALICE, "GET", "shopfast-data/users/user_list")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "private"
    read = send(http, answer.json(), "GET")
    assert read.status_code == 200, read.text
    stored = local_stack.client("s3").get_object(Bucket="shopfast-data", Key="users/user_list")
    assert read.content == stored["Body"].read()


def test_transactions_are_refused_in_the_spec_error_model(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    refused(sign(real_gateway, local_stack, http, ALICE, "GET", "shopfast-data/transactions/2026.csv"), 403)


def test_carols_put_is_refused_and_alices_is_signed_and_stored(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    key = f"feedback/iceberg-gateway-{os.urandom(4).hex()}.parquet"
    refused(sign(real_gateway, local_stack, http, CAROL, "PUT", f"shopfast-data/{key}"), 403)

    answer = sign(real_gateway, local_stack, http, ALICE, "PUT", f"shopfast-data/{key}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-cache"
    stored = send(http, answer.json(), "PUT", b"PAR1 table data")
    assert stored.status_code == 200, stored.text
    body = local_stack.client("s3").get_object(Bucket="shopfast-data", Key=key)["Body"].read()
    assert body == b"PAR1 table data"


def test_carols_signed_listing_of_feedback_works(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    local_stack.client("s3").put_object(Bucket="shopfast-data", Key="feedback/listed.csv", Body=b"x")
    path = "shopfast-data?list-type=2&prefix=feedback%2F"
    answer = sign(real_gateway, local_stack, http, CAROL, "GET", path)
    assert answer.status_code == 200, answer.text
    listed = send(http, answer.json(), "GET")
    assert listed.status_code == 200, listed.text
    listing = ElementTree.fromstring(listed.content)  # noqa: S314 - the local emulator's own answer
    keys = [node.text for node in listing.iter() if node.tag.endswith("Key")]
    assert "feedback/listed.csv" in keys and all(key.startswith("feedback/") for key in keys)
    refused(
        sign(real_gateway, local_stack, http, CAROL, "GET", "shopfast-data?list-type=2&prefix=users%2F"), 403
    )


class PyIceberg:
    """One user's PyIceberg, in its own process with the data-tools interpreter."""

    def __init__(self, gateway: RunningGateway, stack: LocalStack, catalog: Path, user: str) -> None:
        data_tools_python()  # fails loudly, before any request, when PyIceberg is missing
        self._arguments = [
            "--catalog",
            str(catalog),
            "--api",
            gateway.url,
            "--s3-endpoint",
            stack.aws_endpoint,
        ]
        self._environment = {
            "PATH": os.environ["PATH"],
            "HOME": str(catalog.parent),  # no AWS profile, no key: the signer is PyIceberg's only way in
            "SHOPFAST_TOKEN": stack.token(user),
            "NO_PROXY": "*",
        }

    def __call__(self, action: str, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        arguments = (action, *self._arguments, "--rows", json.dumps(rows or []))
        return run_peer("iceberg_client.py", *arguments, environment=self._environment)


def test_pyiceberg_reads_and_writes_a_table_through_the_grants(
    real_gateway: RunningGateway, local_stack: LocalStack, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.db"
    alice, bob, carol, mallory = (
        PyIceberg(real_gateway, local_stack, catalog, user) for user in (ALICE, BOB, CAROL, MALLORY)
    )
    rows = [
        {"id": 1, "comment": "fast delivery"},
        {"id": 2, "comment": None},
        {"id": 3, "comment": "ünïcode"},
    ]

    assert alice("create") == {"rows": []}
    assert alice("append", rows) == {"rows": rows}
    assert alice("scan") == {"rows": rows}
    written = local_stack.client("s3").list_objects_v2(Bucket="shopfast-data", Prefix="feedback/iceberg/")
    assert any(item["Key"].endswith(".parquet") for item in written["Contents"])

    assert carol("scan") == {"rows": rows}  # READ on feedback/
    refusal = carol("append", [{"id": 4, "comment": "carol"}])
    assert refusal["error"] == "SignError" and "Failed to sign request 403" in refusal["message"], refusal
    assert alice("scan") == {"rows": rows}  # nothing of carol's commit landed

    for user in (mallory, bob):
        refusal = user("scan")
        assert "error" in refusal and "403" in refusal["message"], refusal
    refusal = mallory("append", [{"id": 5, "comment": "mallory"}])
    assert "error" in refusal and "403" in refusal["message"], refusal
    assert alice("scan") == {"rows": rows}
