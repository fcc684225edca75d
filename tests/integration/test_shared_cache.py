"""The shared cache tier through the real handlers, with several execution environments in one process:
each is the composition root's `ExecutionEnvironment`, built from the same environment variables as Lambda
builds one per container, with its own memory; what they share is the emulator's DynamoDB table and KMS
key. The emulator's counters say what reached AWS."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import composition.root as root
from adapters.shared_state import DynamoDbSharedState, entry_aad
from domain.audit import logger
from domain.shared_cache import DENIALS_ENTRY, MAX_SHARED_DENIALS
from domain.targets import parse_target
from domain.vending import CredentialRequest
from local.stack import LocalStack
from tests.integration.conftest import s3_with
from tests.integration.handler_calls import call, service_configured

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
BOB = "bob@shopfast.example"
MALLORY = "mallory@shopfast.example"
USERS = "s3://shopfast-data/users/*"
USER_LIST = "s3://shopfast-data/users/user_list"
CONTROL_PLANE = ("CreateTokenWithIAM", "AssumeRole", "GetDataAccess", "ListCallerAccessGrants")


class Fleet:
    """Execution environments of one deployment, each with its own memory."""

    def __init__(self) -> None:
        import os

        self._environ = dict(os.environ)
        self.environments: list[root.ExecutionEnvironment] = []

    def new(self) -> root.ExecutionEnvironment:
        environment = root.ExecutionEnvironment.build(self._environ)
        self.environments.append(environment)
        return environment

    @contextlib.contextmanager
    def serving(self, environment: root.ExecutionEnvironment) -> Iterator[None]:
        previous, root._environment = root._environment, environment
        try:
            yield
        finally:
            root._environment = previous


@pytest.fixture
def fleet(local_stack: LocalStack) -> Iterator[Fleet]:
    local_stack.clear_faults()
    with service_configured(local_stack):
        yield Fleet()
    local_stack.clear_faults()


def vend(fleet: Fleet, environment: root.ExecutionEnvironment, token: str, target: str = USERS) -> Any:
    with fleet.serving(environment):
        return call("POST", "/v1/credentials", token=token, body={"target": target, "permission": "READ"})


def calls(stack: LocalStack, *names: str) -> int:
    counted = stack.stats()["calls"]
    return sum(int(counted.get(name, 0)) for name in names)


def audit_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = logger.registered_formatter
    lines = [formatter.format(record) for record in caplog.records]
    return [json.loads(line) for line in lines if line.startswith("{") and '"audit":true' in line]


def raw_items(stack: LocalStack) -> list[dict[str, Any]]:
    dynamodb = stack.client("dynamodb")
    table = stack.config()["stateTable"]
    return [
        item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]
    ]


def test_what_one_environment_obtained_serves_another_without_any_control_plane_call(
    local_stack: LocalStack, fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    token = local_stack.token(ALICE)
    first = vend(fleet, fleet.new(), token)
    assert first.status == 200, first.text
    local_stack.reset_stats()
    caplog.set_level(logging.INFO)
    caplog.clear()

    second = vend(fleet, fleet.new(), token)

    assert second.status == 200, second.text
    assert calls(local_stack, *CONTROL_PLANE) == 0, local_stack.stats()
    assert second.body["credentials"] == first.body["credentials"]
    (record,) = [record for record in audit_records(caplog) if record["action"] == "vend"]
    assert (record["cached"], record["cacheTier"]) == (True, "shared")
    # The credentials the second environment handed out are real: S3 serves the object with them.
    s3 = s3_with(local_stack, second.body["credentials"])
    assert s3.get_object(Bucket="shopfast-data", Key="users/user_list")["Body"].read()


def test_a_refusal_decided_in_one_environment_refuses_in_another_without_asking_aws(
    local_stack: LocalStack, fleet: Fleet
) -> None:
    token = local_stack.token(MALLORY)  # no grants at all
    first = vend(fleet, fleet.new(), token)
    assert first.status == 403, first.text
    local_stack.reset_stats()

    second = vend(fleet, fleet.new(), token)

    assert second.status == 403, second.text
    assert calls(local_stack, *CONTROL_PLANE) == 0, local_stack.stats()
    assert second.body["detail"] == first.body["detail"]
    # Another target is AWS's to decide: the shared denial is exact, like the in-memory one.
    other = vend(fleet, fleet.new(), token, USER_LIST)
    assert other.status == 403, other.text
    assert calls(local_stack, "GetDataAccess") == 1


def test_a_caller_probing_many_targets_keeps_one_bounded_denial_entry(
    local_stack: LocalStack, fleet: Fleet
) -> None:
    token = local_stack.token(MALLORY)
    prober = fleet.new()
    probes = [f"s3://shopfast-data/users/probe-{index}" for index in range(MAX_SHARED_DENIALS + 6)]
    for target in probes:
        assert vend(fleet, prober, token, target).status == 403

    denial_items = [item for item in raw_items(local_stack) if item["sk"]["S"] == DENIALS_ENTRY]

    assert len(denial_items) == 1  # one item, however many targets: every Query of the partition stays small
    assert "probe-" not in repr(denial_items)  # sealed: no target in clear
    local_stack.reset_stats()
    newest, oldest = fleet.new(), fleet.new()
    assert vend(fleet, newest, token, probes[-1]).status == 403
    assert calls(local_stack, "GetDataAccess") == 0
    assert vend(fleet, oldest, token, probes[0]).status == 403  # past the bound: asked again
    assert calls(local_stack, "GetDataAccess") == 1


def test_credentials_scoped_to_one_object_never_answer_a_prefix_from_the_shared_tier(
    local_stack: LocalStack, fleet: Fleet
) -> None:
    token = local_stack.token(ALICE)
    with fleet.serving(fleet.new()):
        narrow = call(
            "POST",
            "/v1/credentials",
            token=token,
            body={"target": USER_LIST, "permission": "READ", "privilege": "Minimal"},
        )
    assert narrow.status == 200, narrow.text
    local_stack.reset_stats()

    wide = vend(fleet, fleet.new(), token, USERS)

    assert wide.status == 200, wide.text
    assert calls(local_stack, "GetDataAccess") == 1  # the same rules as memory: exact for handed-out keys
    assert wide.body["credentials"]["accessKeyId"] != narrow.body["credentials"]["accessKeyId"]


def test_whoever_reads_the_table_finds_no_credential_no_email_and_no_token(
    local_stack: LocalStack, fleet: Fleet
) -> None:
    token = local_stack.token(ALICE)
    answer = vend(fleet, fleet.new(), token)
    assert answer.status == 200, answer.text
    credentials = answer.body["credentials"]

    dump = repr(raw_items(local_stack))

    assert "grant/" in dump and "session" in dump  # the entries are there…
    for secret in (
        credentials["secretAccessKey"],
        credentials["sessionToken"],
        credentials["accessKeyId"],
        token,
        ALICE,
        "shopfast-data",  # …and no scope in clear either
    ):
        assert secret not in dump


def test_an_entry_moved_to_another_identity_or_scope_does_not_open(
    local_stack: LocalStack, fleet: Fleet
) -> None:
    alice = vend(fleet, fleet.new(), local_stack.token(ALICE))
    assert alice.status == 200, alice.text
    items = raw_items(local_stack)
    alice_grant = next(item for item in items if item["sk"]["S"].startswith("grant/"))
    bob_identity = root.ExecutionEnvironment.build(dict(fleet._environ))
    bob_caller = bob_identity.verifier.verify(local_stack.token(BOB))
    dynamodb, table = local_stack.client("dynamodb"), local_stack.config()["stateTable"]
    # The attacker (table write access, no key) copies alice's sealed credentials under bob's identity.
    dynamodb.put_item(TableName=table, Item={**alice_grant, "pk": {"S": bob_caller.identity_key}})
    # And under another scope name of alice's own.
    dynamodb.put_item(TableName=table, Item={**alice_grant, "sk": {"S": "grant/" + "0" * 64}})

    state = DynamoDbSharedState(table, local_stack.config()["stateKeyArn"], bob_identity.gateway._factory)
    assert state.entries(bob_caller.identity_key) == []
    names = {entry.name for entry in state.entries(alice_grant["pk"]["S"])}
    assert alice_grant["sk"]["S"] in names and "grant/" + "0" * 64 not in names
    assert entry_aad("a", "b") != entry_aad("a|b", "")

    bob = vend(fleet, fleet.new(), local_stack.token(BOB), USERS)
    assert bob.status in (200, 403), bob.text
    if bob.status == 200:
        assert bob.body["credentials"]["accessKeyId"] != alice.body["credentials"]["accessKeyId"]


@pytest.mark.parametrize(
    ("operation", "fault"),
    [
        ("Query", {"server_error": 50}),
        ("PutItem", {"throttle": 50}),
        ("GenerateDataKey", {"error": {"code": "AccessDeniedException", "status": 400, "count": 50}}),
        ("Decrypt", {"server_error": 50}),
    ],
)
def test_vending_goes_on_when_the_table_or_the_key_fails_and_the_audit_says_so(
    local_stack: LocalStack,
    fleet: Fleet,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    operation: str,
    fault: dict[str, Any],
) -> None:
    token = local_stack.token(ALICE)
    if operation == "Decrypt":  # entries sealed by another environment's data key, before the fault
        assert vend(fleet, fleet.new(), token).status == 200
    environment = fleet.new()
    if operation == "Query":
        # An environment that has read the revocation list already (a fresh one refuses to vend while it
        # cannot: docs/revocation.md), so that only its cache tier meets the fault.
        with fleet.serving(environment):
            assert call("GET", "/v1/me", token=local_stack.token(BOB)).status == 200
    local_stack.set_fault(operation, **fault)
    caplog.set_level(logging.INFO)
    caplog.clear()
    capsys.readouterr()

    answer = vend(fleet, environment, token)

    assert answer.status == 200, answer.text
    s3 = s3_with(local_stack, answer.body["credentials"])
    assert s3.get_object(Bucket="shopfast-data", Key="users/user_list")["Body"].read()
    (record,) = [record for record in audit_records(caplog) if record["action"] == "vend"]
    assert record["outcome"] == "granted" and record["sharedCache"] == "unavailable", record
    assert '"SharedCacheErrors"' in capsys.readouterr().out  # the metric (EMF on stdout)


def test_kms_calls_grow_with_environments_not_requests(local_stack: LocalStack, fleet: Fleet) -> None:
    users = ["alice", "bob", "carol", "dave", "erin"]
    tokens = {user: local_stack.token(f"{user}@shopfast.example") for user in users}
    environments = [fleet.new() for _ in range(3)]
    local_stack.reset_stats()
    for round_number in range(4):
        for index, user in enumerate(users):
            environment = environments[(index + round_number) % len(environments)]
            with fleet.serving(environment):
                call("GET", "/v1/grants", token=tokens[user])
    kms = calls(local_stack, "GenerateDataKey", "Decrypt")
    # Each environment: one data key of its own, and at most one opened per other environment.
    assert kms <= len(environments) * len(environments), local_stack.stats()


def test_concurrent_first_requests_in_several_environments_never_corrupt_an_entry(
    local_stack: LocalStack, fleet: Fleet
) -> None:
    token = local_stack.token(ALICE)
    environments = [fleet.new() for _ in range(4)]
    caller = environments[0].verifier.verify(token)
    request = CredentialRequest(target=parse_target(USERS), permission="READ")
    with ThreadPoolExecutor(len(environments)) as pool:
        results = list(pool.map(lambda env: env.service.vend(caller, request), environments))
    assert all(result.credentials.access_key_id for result in results)
    local_stack.reset_stats()

    later = vend(fleet, fleet.new(), token)

    assert later.status == 200, later.text
    assert calls(local_stack, *CONTROL_PLANE) == 0
    assert later.body["credentials"]["accessKeyId"] in {r.credentials.access_key_id for r in results}
    s3 = s3_with(local_stack, later.body["credentials"])
    assert s3.get_object(Bucket="shopfast-data", Key="users/user_list")["Body"].read()
