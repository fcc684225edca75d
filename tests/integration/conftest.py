"""Integration fixtures: the service configured from the local stack in either identity mode, the access
plan and demo users as the single source of expectations, and tokens minted by the local issuer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.handler_calls import service_configured

ROOT = Path(__file__).resolve().parents[2]
IDENTITY_MODES = ("identity-center", "iam-role")


@dataclass(frozen=True)
class PlannedGrant:
    department: str
    bucket: str
    prefix: str
    permission: str

    @property
    def target(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}*"

    def __str__(self) -> str:
        return f"{self.department}:{self.bucket}/{self.prefix}:{self.permission}"


def _load(path: str) -> Any:
    return json.loads((ROOT / path).read_text())


ACCESS_PLAN = _load("terraform/access-plan.json")
DEMO_USERS = _load("local/demo-users.json")["users"]
PLANNED_GRANTS = [
    PlannedGrant(department, grant["bucket"], grant["prefix"], grant["permission"])
    for department, row in ACCESS_PLAN["departments"].items()
    for grant in row["grants"]
]
USERS = [user["email"] for user in DEMO_USERS]


def groups_of(email: str) -> list[str]:
    return next(user["groups"] for user in DEMO_USERS if user["email"] == email)


def plan_allows(email: str, bucket: str, key: str, permission: str) -> bool:
    """Whether the access plan lets this user's departments do `permission` on s3://bucket/key..."""
    for group in groups_of(email):
        for grant in ACCESS_PLAN["departments"].get(group, {}).get("grants", []):
            wide_enough = grant["permission"] == permission or grant["permission"] == "READWRITE"
            if grant["bucket"] == bucket and key.startswith(grant["prefix"]) and wide_enough:
                return True
    return False


class Tokens:
    """Tokens from the local issuer, one per user (cached: minting is an HTTP call)."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self._tokens: dict[str, str] = {}

    def __call__(self, email: str) -> str:
        if email not in self._tokens:
            self._tokens[email] = self._stack.token(email)
        return self._tokens[email]


@pytest.fixture(scope="session")
def tokens(local_stack: LocalStack) -> Tokens:
    return Tokens(local_stack)


@pytest.fixture(scope="module", params=IDENTITY_MODES)
def mode(request: pytest.FixtureRequest, local_stack: LocalStack) -> Iterator[str]:
    """The service configured in each identity mode in turn (a fresh execution environment each)."""
    with service_configured(local_stack, IDENTITY_MODE=request.param):
        yield request.param


@pytest.fixture
def fresh_service(local_stack: LocalStack) -> Iterator[LocalStack]:
    """A fresh execution environment (empty caches) in identity-center mode, with no faults left behind."""
    local_stack.clear_faults()
    with service_configured(local_stack):
        yield local_stack
    local_stack.clear_faults()


def sample_key(stack: LocalStack, bucket: str, prefix: str) -> str:
    """A seeded object under the prefix (the emulator seeds at least one under every granted prefix)."""
    listed = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    contents = listed.get("Contents") or []
    assert contents, f"the emulator seeded no object under s3://{bucket}/{prefix}"
    return contents[0]["Key"]


def s3_with(stack: LocalStack, credentials: dict[str, str]) -> Any:
    return stack.client(
        "s3",
        credentials={
            "aws_access_key_id": credentials["accessKeyId"],
            "aws_secret_access_key": credentials["secretAccessKey"],
            "aws_session_token": credentials["sessionToken"],
        },
    )
