"""Fault injection per operation (throttling, 5xx, latency), call counters and the control API."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from local.stack import LocalStack
from tests.emulator.helpers import ACCOUNT_ID, JWT_BEARER, client_app_keys, role_session

pytestmark = pytest.mark.integration


def call_for(stack: LocalStack, operation: str, **client_config: Any) -> Any:
    """A zero-argument call of `operation` with a client configured as given."""
    if operation == "GetDataAccess":
        keys = role_session(stack, "CustomerSupport")
        s3control = stack.client("s3control", credentials=keys, **client_config)
        return lambda: s3control.get_data_access(
            AccountId=ACCOUNT_ID, Target="s3://shopfast-data/users/*", Permission="READ"
        )
    if operation == "ListCallerAccessGrants":
        s3control = stack.client("s3control", **client_config)
        return lambda: s3control.list_caller_access_grants(AccountId=ACCOUNT_ID)
    if operation == "AssumeRole":
        sts = stack.client("sts", **client_config)
        role = stack.config()["departmentRoles"]["HR"]
        return lambda: sts.assume_role(RoleArn=role, RoleSessionName="fault-test")
    if operation == "CreateTokenWithIAM":
        oidc = stack.client("sso-oidc", credentials=client_app_keys(stack), **client_config)
        app, token = stack.config()["applicationArn"], stack.token("alice@shopfast.example")
        return lambda: oidc.create_token_with_iam(clientId=app, grantType=JWT_BEARER, assertion=token)
    if operation == "GetObject":
        s3 = stack.client("s3", **client_config)
        return lambda: s3.get_object(Bucket="shopfast-data", Key="users/user_list")
    raise AssertionError(operation)


# What each service answers when it throttles, in its own protocol; all are codes boto3's standard
# retry mode treats as throttling.
THROTTLING = {
    "GetDataAccess": ("TooManyRequestsException", 429),
    "ListCallerAccessGrants": ("TooManyRequestsException", 429),
    "AssumeRole": ("Throttling", 400),
    "CreateTokenWithIAM": ("TooManyRequestsException", 429),
    "GetObject": ("SlowDown", 503),
}
SERVER_ERROR = {
    "GetDataAccess": ("InternalError", 500),
    "ListCallerAccessGrants": ("InternalError", 500),
    "AssumeRole": ("InternalFailure", 500),
    "CreateTokenWithIAM": ("InternalServerException", 500),
    "GetObject": ("InternalError", 500),
}
NO_RETRIES = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@pytest.mark.parametrize("operation", sorted(THROTTLING))
def test_throttling_in_the_services_shape(stack: LocalStack, operation: str) -> None:
    call = call_for(stack, operation, **NO_RETRIES)
    stack.set_fault(operation, throttle=1)
    with pytest.raises(ClientError) as throttled:
        call()
    error = throttled.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == THROTTLING[operation]
    call()  # the fault was for one call only


@pytest.mark.parametrize("operation", sorted(SERVER_ERROR))
def test_server_errors_in_the_services_shape(stack: LocalStack, operation: str) -> None:
    call = call_for(stack, operation, **NO_RETRIES)
    stack.set_fault(operation, server_error=2)
    for _ in range(2):
        with pytest.raises(ClientError) as failed:
            call()
        error = failed.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == SERVER_ERROR[
            operation
        ]
    call()


@pytest.mark.parametrize("operation", sorted(THROTTLING))
def test_standard_retries_ride_out_throttling_and_5xx(stack: LocalStack, operation: str) -> None:
    call = call_for(stack, operation, retries={"mode": "standard", "total_max_attempts": 4})
    stack.set_fault(operation, throttle=2, server_error=1)
    stack.reset_stats()
    answer = call()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 3
    assert stack.stats()["calls"][operation] == 4


def test_added_latency_delays_the_operation(stack: LocalStack) -> None:
    call = call_for(stack, "ListCallerAccessGrants")
    stack.set_fault("ListCallerAccessGrants", latency_ms=400)
    started = time.monotonic()
    call()
    assert time.monotonic() - started >= 0.4
    stack.clear_faults()
    assert stack.stats()["calls"]["ListCallerAccessGrants"] >= 1


def test_counters_count_each_operation_and_the_control_plane(stack: LocalStack) -> None:
    get_object = call_for(stack, "GetObject")
    list_grants = call_for(stack, "ListCallerAccessGrants")
    stack.reset_stats()
    for _ in range(3):
        get_object()
    for _ in range(2):
        list_grants()
    stats = stack.stats()
    assert stats["calls"] == {"GetObject": 3, "ListCallerAccessGrants": 2}
    assert stats["controlPlaneCalls"] == 2  # S3 object calls are not control-plane calls
    stack.reset_stats()
    assert stack.stats() == {"calls": {}, "controlPlaneCalls": 0}


def test_config_names_everything_clients_need(stack: LocalStack) -> None:
    config = stack.config()
    assert config["accountId"] == ACCOUNT_ID
    assert config["region"] == "us-east-1"
    assert config["endpoint"] == stack.aws_endpoint
    assert config["issuer"] == stack.issuer_url
    assert config["audience"] == "shopfast-vending"
    assert config["identityCenterInstanceArn"] == "arn:aws:sso:::instance/ssoins-7223c0ffee5e1a7d"
    assert config["identityStoreId"] == "d-9067c0ffee"
    assert config["applicationArn"].endswith("/ssoins-7223c0ffee5e1a7d/apl-5a1e5c0ffee0b1d8")
    assert config["identityBearerRoleArn"] == "arn:aws:iam::111111111111:role/shopfast-identity-bearer"
    assert config["clientApplicationRoleArn"] == "arn:aws:iam::111111111111:role/shopfast-vending-client-app"
    assert (
        config["departmentRoles"]["CustomerSupport"]
        == "arn:aws:iam::111111111111:role/ShopFast-CustomerSupport"
    )
    assert config["buckets"] == ["shopfast-data", "shopfast-internal"]
    assert config["accessGrantsInstanceArn"] == "arn:aws:s3:us-east-1:111111111111:access-grants/default"


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/_local/faults", {"throttle": 1}),
        ("POST", "/_local/faults", {"operation": "GetObject", "throttle": -1}),
        ("POST", "/_local/faults", {"operation": "GetObject", "throttle": "many"}),
        ("POST", "/_local/clock", {"advanceSeconds": "soon"}),
        ("POST", "/_local/clock", {}),
        ("POST", "/_local/clock", [1]),
        ("POST", "/_local/faults", ["GetObject"]),
    ],
)
def test_bad_control_requests_are_400(stack: LocalStack, method: str, path: str, payload: object) -> None:
    answer = requests.request(method, stack.aws_endpoint + path, json=payload, timeout=10)
    assert answer.status_code == 400
    assert "error" in answer.json()


def test_unknown_control_route_is_404(stack: LocalStack) -> None:
    assert requests.get(stack.aws_endpoint + "/_local/nothing", timeout=10).status_code == 404


def test_faults_and_latency_set_at_start(tmp_path) -> None:
    """LOCAL_AWS_FAULTS and LOCAL_AWS_LATENCY_MS (LocalStack's faults=, latency_ms=) apply from the start."""
    faults = [{"operation": "ListCallerAccessGrants", "throttle": 1}]
    with LocalStack(state_dir=tmp_path, latency_ms=300, faults=faults) as started:
        call = call_for(started, "ListCallerAccessGrants", **NO_RETRIES)
        with pytest.raises(ClientError) as throttled:
            call()
        assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
        before = time.monotonic()
        call()
        assert time.monotonic() - before >= 0.3  # control-plane latency
        get_object = call_for(started, "GetObject")
        assert get_object()["Body"].read() == b"alice,bob,carol,dave,erin\n"
        assert started.stats()["calls"] == {"ListCallerAccessGrants": 2, "GetObject": 1}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/_local/clock", {"Content-Type": "text/plain", "Origin": "https://evil.example"}),
        ("/_local/clock", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("/_local/clock", {"Content-Type": "application/json", "Origin": "https://evil.example"}),
        ("/_local/faults", {"Content-Type": "text/plain", "Origin": "null"}),
        (
            "/_local/execution-role-credentials",
            {"Content-Type": "text/plain", "Origin": "https://evil.example"},
        ),
    ],
)
def test_a_cross_site_request_changes_no_emulator_state(
    stack: LocalStack, path: str, headers: dict[str, str]
) -> None:
    before = requests.get(stack.aws_endpoint + "/_local/faults", timeout=10).json()
    clock = requests.post(stack.aws_endpoint + "/_local/clock", json={"advanceSeconds": 0}, timeout=10).json()
    body = '{"advanceSeconds": 86400, "operation": "GetObject", "throttle": 5, "roleArn": "x"}'
    answer = requests.post(stack.aws_endpoint + path, data=body, headers=headers, timeout=10)
    assert answer.status_code in (403, 415), answer.text
    assert "SessionToken" not in answer.text
    assert requests.get(stack.aws_endpoint + "/_local/faults", timeout=10).json() == before
    after = requests.post(stack.aws_endpoint + "/_local/clock", json={"advanceSeconds": 0}, timeout=10).json()
    assert after["offsetSeconds"] == clock["offsetSeconds"]


@pytest.mark.parametrize("host", ["rebind.evil.example", "rebind.evil.example:{port}", "127.0.0.1"])
def test_a_dns_rebinding_page_gets_no_execution_role_session(stack: LocalStack, host: str) -> None:
    port = stack.aws_endpoint.rsplit(":", 1)[1]
    role = stack.config()["clientApplicationRoleArn"]
    answer = requests.post(
        stack.aws_endpoint + "/_local/execution-role-credentials",
        json={"roleArn": role},
        headers={"Host": host.format(port=port)},
        timeout=10,
    )
    assert answer.status_code == 421
    assert "SessionToken" not in answer.text
    # Under its own names, for tools and the gateway, it answers.
    own = requests.post(
        stack.aws_endpoint + "/_local/execution-role-credentials", json={"roleArn": role}, timeout=10
    )
    assert own.status_code == 200 and own.json()["SessionToken"]
