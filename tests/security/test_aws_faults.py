"""Failing AWS, via the emulator's fault injection, on each of CreateTokenWithIAM, AssumeRole,
GetDataAccess and ListCallerAccessGrants: throttling is retried then answered 503 with Retry-After,
5xx is 502, latency beyond the budget is 504 before the Lambda's own timeout, an expired identity
session is rebuilt, and no failure is ever cached (the next call goes upstream again and succeeds).

Each case runs in a cold Lambda execution environment (a fresh `lambda_host`), so that the identity
exchange really happens; the gateway cases show the same mapping through HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.stack import LocalStack
from tests.security.clients import ApiClient, DirectInvoker
from tests.security.conftest import LambdaHosts, Tokens, operation_calls

pytestmark = pytest.mark.security

PROBLEM = "application/problem+json"
# adapters.aws: standard retries, three attempts in all; a read timeout of 3 s.
MAX_ATTEMPTS = 3
READ_TIMEOUT_SECONDS = 3.0
USERS_LIST = {"target": "s3://shopfast-data/users/user_list", "permission": "READ"}
FEEDBACK = {"target": "s3://shopfast-data/feedback/*", "permission": "READ"}
CREDENTIALS = ("POST", "/v1/credentials")
GRANTS = ("GET", "/v1/grants")
# One Region's grants: a listing without a scope asks every Region (one call each).
ONE_REGION = {"scope": "s3://shopfast-data/"}
# Which request makes each operation happen in a cold execution environment.
REQUEST_FOR = {
    "CreateTokenWithIAM": (*CREDENTIALS, USERS_LIST),
    "AssumeRole": (*CREDENTIALS, USERS_LIST),
    "GetDataAccess": (*CREDENTIALS, USERS_LIST),
    "ListCallerAccessGrants": (*GRANTS, None),
}
QUERY_FOR = {"ListCallerAccessGrants": ONE_REGION}
OPERATIONS = list(REQUEST_FOR)


@pytest.fixture
def cold(lambda_hosts: LambdaHosts, calm_stack: LocalStack) -> Iterator[DirectInvoker]:
    with lambda_hosts.start() as invoker:
        yield invoker


@pytest.fixture(scope="module")
def alice(tokens: Tokens) -> str:
    return tokens.issue("alice@shopfast.example", ttl=3 * 3600)


def _call(invoker: DirectInvoker, operation: str, token: str, **kwargs: Any) -> Any:
    method, path, body = REQUEST_FOR[operation]
    return invoker.invoke(method, path, token=token, body=body, query=QUERY_FOR.get(operation), **kwargs)


def _assert_problem(result: Any, status: int, code: str) -> None:
    assert result.status == status, result.body
    assert result.header("content-type") == PROBLEM
    assert result.header("cache-control") == "no-store"
    assert result.json()["code"] == code
    assert result.remaining_ms > 0, "answered only after the Lambda's timeout"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_throttling_is_retried_and_then_succeeds(
    operation: str, cold: DirectInvoker, calm_stack: LocalStack, alice: str
) -> None:
    calm_stack.set_fault(operation, throttle=MAX_ATTEMPTS - 1)
    before = operation_calls(calm_stack, operation)
    result = _call(cold, operation, alice)
    assert result.status == 200, result.body
    assert operation_calls(calm_stack, operation) - before == MAX_ATTEMPTS


@pytest.mark.parametrize("operation", OPERATIONS)
def test_throttling_beyond_the_retries_is_503_with_retry_after_and_not_cached(
    operation: str, cold: DirectInvoker, calm_stack: LocalStack, alice: str
) -> None:
    calm_stack.set_fault(operation, throttle=MAX_ATTEMPTS)
    before = operation_calls(calm_stack, operation)
    result = _call(cold, operation, alice)
    _assert_problem(result, 503, "service_unavailable")
    assert int(result.header("retry-after") or 0) >= 1
    assert operation_calls(calm_stack, operation) - before == MAX_ATTEMPTS, "retried before giving up"

    calm_stack.clear_faults()
    before = operation_calls(calm_stack, operation)
    again = _call(cold, operation, alice)
    assert again.status == 200, f"the failure was cached: {again.body}"
    assert operation_calls(calm_stack, operation) - before == 1, "the next call went upstream again"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_transient_5xx_is_retried_and_then_succeeds(
    operation: str, cold: DirectInvoker, calm_stack: LocalStack, alice: str
) -> None:
    calm_stack.set_fault(operation, server_error=1)
    result = _call(cold, operation, alice)
    assert result.status == 200, result.body


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_persistent_5xx_is_502_and_not_cached(
    operation: str, cold: DirectInvoker, calm_stack: LocalStack, alice: str
) -> None:
    calm_stack.set_fault(operation, server_error=MAX_ATTEMPTS)
    result = _call(cold, operation, alice)
    _assert_problem(result, 502, "upstream_error")

    calm_stack.clear_faults()
    before = operation_calls(calm_stack, operation)
    again = _call(cold, operation, alice)
    assert again.status == 200, f"the failure was cached: {again.body}"
    assert operation_calls(calm_stack, operation) - before == 1


@pytest.mark.parametrize("operation", OPERATIONS)
def test_latency_beyond_the_budget_is_504_before_the_lambda_timeout(
    operation: str, cold: DirectInvoker, calm_stack: LocalStack, alice: str
) -> None:
    # Each attempt outlives the read timeout; a 6 s Lambda has room for one attempt, not a retry.
    calm_stack.set_fault(operation, latency_ms=int((READ_TIMEOUT_SECONDS + 1.5) * 1000))
    result = _call(cold, operation, alice, timeout_seconds=6.0)
    _assert_problem(result, 504, "upstream_timeout")

    calm_stack.clear_faults()
    again = _call(cold, operation, alice)
    assert again.status == 200, f"the timeout was cached: {again.body}"


@pytest.mark.parametrize("first", ["GetDataAccess", "ListCallerAccessGrants"])
def test_an_upstream_expired_identity_session_is_rebuilt_once(
    first: str, cold: DirectInvoker, calm_stack: LocalStack, alice: str
) -> None:
    """Identity contexts expire (and the session built on them): the next call signed with the cached
    session is refused upstream (ExpiredToken) and rebuilds the session with one fresh exchange,
    instead of failing until the cache entry ages out."""
    assert cold.invoke(*CREDENTIALS, token=alice, body=USERS_LIST).status == 200
    calm_stack.expire_identity_contexts()
    calm_stack.advance_clock(3700)  # past the identity session's own expiry (at most 1 h)
    exchanges = operation_calls(calm_stack, "CreateTokenWithIAM")

    # A target the credential cache cannot answer, so the cached (now expired) session must be used.
    second_call = [(*CREDENTIALS, FEEDBACK), (*GRANTS, None)]
    if first == "ListCallerAccessGrants":
        second_call.reverse()
    for method, path, body in second_call:
        result = cold.invoke(method, path, token=alice, body=body)
        assert result.status == 200, result.body
        assert operation_calls(calm_stack, "CreateTokenWithIAM") - exchanges == 1, (
            "one fresh exchange, reused"
        )


def test_expired_identity_contexts_do_not_poison_a_cold_exchange(
    cold: DirectInvoker, calm_stack: LocalStack, alice: str
) -> None:
    calm_stack.expire_identity_contexts()
    result = cold.invoke(*CREDENTIALS, token=alice, body=USERS_LIST)
    assert result.status == 200, result.body


# -- the same mapping through the gateway (ListCallerAccessGrants is never cached) -------------------
@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"throttle": MAX_ATTEMPTS}, 503, "service_unavailable"),
        ({"server_error": MAX_ATTEMPTS}, 502, "upstream_error"),
        ({"latency_ms": int((READ_TIMEOUT_SECONDS + 1.5) * 1000)}, 504, "upstream_timeout"),
    ],
    ids=["throttled", "5xx", "too-slow"],
)
def test_gateway_answers_faults_with_the_lambdas_problem_documents(
    fault: dict[str, int], status: int, code: str, api: ApiClient, calm_stack: LocalStack, tokens: Tokens
) -> None:
    token = tokens.issue("bob@shopfast.example")
    assert api.request(*GRANTS, token=token).status_code == 200  # identity session warm
    calm_stack.set_fault("ListCallerAccessGrants", **fault)
    response = api.request(*GRANTS, token=token)
    assert response.status_code == status, response.text
    assert response.headers.get("content-type") == PROBLEM, "the Lambda answered, not the gateway's timeout"
    assert response.json()["code"] == code
    if status == 503:
        assert int(response.headers.get("retry-after", "0")) >= 1
    calm_stack.clear_faults()
    assert api.request(*GRANTS, token=token).status_code == 200


@pytest.mark.parametrize(
    "refusal",
    [
        {"code": "InvalidContextAssertion", "status": 400},  # what STS answers today (its current model)
        {"code": "ExpiredTokenException", "status": 400},  # what it answered before
    ],
    ids=lambda refusal: refusal["code"],
)
def test_assume_role_refusing_the_context_makes_one_fresh_exchange(
    lambda_hosts: LambdaHosts, calm_stack: LocalStack, alice: str, refusal: dict
) -> None:
    """STS refuses the identity context CreateTokenWithIAM just issued (it expired in between): the service
    exchanges the token once more and answers 200. Refused twice, it is a retryable 503 and nothing is
    cached: the next request starts from a fresh exchange."""
    with lambda_hosts.start() as once:
        calm_stack.set_fault("AssumeRole", error={**refusal, "count": 1})
        exchanges = operation_calls(calm_stack, "CreateTokenWithIAM")
        result = once.invoke(*CREDENTIALS, token=alice, body=USERS_LIST)
        assert result.status == 200, result.status
        assert operation_calls(calm_stack, "CreateTokenWithIAM") - exchanges == 2, (
            "exactly one fresh exchange"
        )
    with lambda_hosts.start() as twice:
        calm_stack.set_fault("AssumeRole", error={**refusal, "count": 2})
        _assert_problem(twice.invoke(*CREDENTIALS, token=alice, body=USERS_LIST), 503, "service_unavailable")
        calm_stack.clear_faults()
        exchanges = operation_calls(calm_stack, "CreateTokenWithIAM")
        assert twice.invoke(*CREDENTIALS, token=alice, body=USERS_LIST).status == 200
        assert operation_calls(calm_stack, "CreateTokenWithIAM") - exchanges == 1, (
            "a fresh exchange, not a cache"
        )


def test_an_identity_context_expiring_during_assume_role_gets_one_fresh_exchange(
    cold: DirectInvoker, calm_stack: LocalStack, alice: str
) -> None:
    """The context CreateTokenWithIAM just issued expires while AssumeRole is in flight (the emulator answers
    InvalidContextAssertion, as STS does): one fresh exchange and a 200, nothing stale cached."""
    calm_stack.set_fault("AssumeRole", latency_ms=2000)
    assume_roles = operation_calls(calm_stack, "AssumeRole")

    def expire_once_assume_role_is_in_flight() -> None:
        # The emulator counts a call before it sleeps the injected latency: expire inside that window.
        deadline = time.monotonic() + 10
        while operation_calls(calm_stack, "AssumeRole") == assume_roles and time.monotonic() < deadline:
            time.sleep(0.05)
        calm_stack.expire_identity_contexts()

    exchanges = operation_calls(calm_stack, "CreateTokenWithIAM")
    expire_midway = threading.Thread(target=expire_once_assume_role_is_in_flight)
    expire_midway.start()
    try:
        result = cold.invoke(*CREDENTIALS, token=alice, body=USERS_LIST)
    finally:
        expire_midway.join()
        calm_stack.clear_faults()
    assert result.status == 200, result.status
    assert operation_calls(calm_stack, "CreateTokenWithIAM") - exchanges == 2, "one fresh exchange"


def test_an_assertion_identity_center_finds_expired_is_401_and_not_cached(
    cold: DirectInvoker, calm_stack: LocalStack, tokens: Tokens
) -> None:
    """Identity Center's clock says the JWT has expired while the Lambda still accepts it (skew at the
    edge of the token's life): CreateTokenWithIAM refuses it, the caller must get a fresh token (401)."""
    short_lived = tokens.issue("carol@shopfast.example", ttl=600)
    calm_stack.advance_clock(900)
    result = cold.invoke(*CREDENTIALS, token=short_lived, body=USERS_LIST)
    assert result.status == 401, result.body
    assert result.header("www-authenticate") == 'Bearer error="invalid_token"'
    assert result.remaining_ms > 0

    calm_stack.reset_clock()
    again = cold.invoke(*GRANTS, token=short_lived)
    assert again.status == 200, f"the refusal was cached: {again.body}"


def test_s3_refusing_cached_credentials_as_expired_makes_the_listing_vend_fresh_ones(
    cold: DirectInvoker, calm_stack: LocalStack, alice: str
) -> None:
    """Clock skew or a revoked session: S3 answers ExpiredToken for credentials the cache still trusts.
    The listing drops them and vends once more, instead of failing until the cache entry ages out."""
    listing = {"prefix": "s3://shopfast-data/users/"}
    assert cold.invoke("GET", "/v1/objects", token=alice, query=listing).status == 200
    calm_stack.advance_clock(3700)  # past the vended credentials' expiry, as S3 sees it
    vends = operation_calls(calm_stack, "GetDataAccess")
    for _ in range(2):
        result = cold.invoke("GET", "/v1/objects", token=alice, query=listing)
        assert result.status == 200, result.body
        assert "users/user_list" in result.body
    assert operation_calls(calm_stack, "GetDataAccess") - vends >= 1, "fresh credentials were vended"
